"""Batch input: the records of :mod:`summarizer.inputs` (JSONL, CSV, folders, HTML, URLs, ``-``
for JSONL on stdin) as articles and :class:`ErrorRecord` objects, with repeated ids reported and
the job's own output files refused as inputs. ``max_chars`` is the ceiling every reader applies
(``--max-chars``; None: the default)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from summarizer import inputs as reader
from summarizer.batch.journal import ErrorRecord, IdIndex, errors_path, lock_path
from summarizer.errors import InputError
from summarizer.inputs import HTML_SUFFIXES, LINE_LIMIT, TEXT_SUFFIXES, Unreadable, count, is_url
from summarizer.source import Article, describe, make_article, stdin

Item = Article | ErrorRecord

__all__ = ["LINE_LIMIT", "Item", "check", "count", "from_records", "make_article", "read"]


def check(
    inputs: Iterable[str], output: Path | None = None, *, max_chars: int | None = None
) -> list[str]:
    """Refuse inputs that cannot be read at all, or that are the job's own output files (a usage
    error, before the job starts)."""
    checked = reader.check(inputs, max_chars=max_chars)
    if output is not None:
        _not_an_output(checked, output)
    return checked


def _not_an_output(names: list[str], output: Path) -> None:
    """Refuse an input that is the output, its errors file or its lock (any path to them), and an
    output that a folder input would read as an article."""
    if output.suffix.lower() in TEXT_SUFFIXES + HTML_SUFFIXES:
        folders = [name for name in names if name != "-" and Path(name).is_dir()]
        for name in folders:
            if output.resolve().is_relative_to(Path(name).resolve()):
                raise InputError(
                    f"-o {output} is inside the input folder {name}, which would read it as an "
                    "article; use another -o"
                )
    for written in (output, errors_path(output), lock_path(output)):
        try:
            target = os.stat(written)
        except OSError:
            continue
        for name in names:
            if is_url(name):
                continue
            try:
                source = os.fstat(stdin().fileno()) if name == "-" else os.stat(name)
            except (OSError, ValueError, InputError):
                continue
            if (source.st_dev, source.st_ino) == (target.st_dev, target.st_ino):
                raise InputError(f"input {name} is the job's own file {written}; use another -o")


def read(inputs: Iterable[str], *, max_chars: int | None = None) -> Iterator[Item]:
    """Every record of every input, in order, with repeated ids reported."""
    located = (pair for name in inputs for pair in reader.records(name, max_chars=max_chars))
    return _unique(located)


def from_records(
    records: Iterable[Article | Mapping[str, Any] | str], *, max_chars: int | None = None
) -> Iterator[Item]:
    """Items from Python objects: articles, dicts with the JSONL fields, or plain texts (an
    Article passes as it is: the pipeline checks its length)."""

    def located() -> Iterator[tuple[str, Article | Unreadable]]:
        for number, record in enumerate(records):
            where = f"articles[{number}]"
            if isinstance(record, Article):
                yield where, record
            elif isinstance(record, str):
                yield where, reader.article({"text": record}, where, max_chars)
            elif isinstance(record, Mapping):
                yield where, reader.article(dict(record), where, max_chars)
            else:
                message = f"{where}: expected an Article, a dict or a text, got {describe(record)}"
                yield where, Unreadable(where, InputError.code, message, where)

    return _unique(located())


def _unique(located: Iterable[tuple[str, Article | Unreadable]]) -> Iterator[Item]:
    """Pass items through as articles or error records, turning each repeat of an id into a
    ``duplicate_id`` error record."""
    seen = IdIndex()
    try:
        for where, item in located:
            key = item.key if isinstance(item, Article) else item.id
            first = seen.add(key, where)
            if first is not None:
                yield ErrorRecord(
                    id=where,
                    code="duplicate_id",
                    message=f"{where}: id {key!r} was already used at {first}; not analysed",
                    source=where,
                )
            elif isinstance(item, Unreadable):
                yield ErrorRecord(
                    id=item.id, code=item.code, message=item.message, source=item.source
                )
            else:
                yield item
    finally:
        seen.close()
