"""Batch input: JSONL, CSV, a directory of ``.txt``/``.md``/``.html`` files, or ``-`` (JSONL on
stdin), read lazily into :class:`~summarizer.source.Article` objects.

Records carry ``text`` and optionally ``id``, ``published``, ``title``, ``source``, ``url`` and
``language``. A record without an id gets one from its content hash (``sha256-…``). A record that
cannot become an article (bad JSON, empty text, a bad date, a repeated id) becomes an
:class:`ErrorRecord` keyed by its id, or by its location (``file:line``) when it has none or its id
was already taken: it is reported, never silently merged or dropped.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from summarizer.batch.journal import ErrorRecord, IdIndex
from summarizer.errors import InputError
from summarizer.source import MAX_CHARS, Article, make_article, parse_date, read_text

FIELDS = ("id", "published", "title", "source", "url", "language")
TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
TABLE_SUFFIXES = (".jsonl", ".ndjson", ".csv")

Item = Article | ErrorRecord


def check(inputs: Iterable[str]) -> list[str]:
    """Refuse inputs that cannot be read at all (a usage error, before the job starts)."""
    checked = list(inputs)
    if not checked:
        raise InputError("no input given")
    for name in checked:
        if name == "-":
            continue
        path = Path(name)
        if path.is_dir():
            continue
        if not path.is_file():
            raise InputError(f"cannot read {name}: no such file or directory")
        if path.suffix.lower() not in TABLE_SUFFIXES + TEXT_SUFFIXES + HTML_SUFFIXES:
            raise InputError(
                f"{name}: unknown input type; use .jsonl, .csv, a directory, .txt/.md/.html or -"
            )
        if path.suffix.lower() == ".csv":
            with path.open("rb") as handle:
                _csv_header(_csv_reader(_decoded(handle, set())), path)
    return checked


def count(inputs: Iterable[str]) -> int | None:
    """How many records the inputs hold (None when one of them is stdin)."""
    total = 0
    for name in inputs:
        if name == "-":
            return None
        path = Path(name)
        suffix = path.suffix.lower()
        if path.is_dir():
            total += sum(1 for _ in _files(path))
        elif suffix == ".csv":
            with path.open("rb") as handle:
                total += sum(1 for _ in _csv_reader(_decoded(handle, set())))
        elif suffix in TABLE_SUFFIXES:
            with path.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
        else:
            total += 1
    return total


def read(inputs: Iterable[str]) -> Iterator[Item]:
    """Every record of every input, in order, with repeated ids reported."""
    return _unique(pair for name in inputs for pair in _records(name))


def from_records(records: Iterable[Article | Mapping[str, Any] | str]) -> Iterator[Item]:
    """Items from Python objects: articles, dicts with the JSONL fields, or plain texts."""

    def located() -> Iterator[tuple[str, Item]]:
        for number, record in enumerate(records):
            where = f"articles[{number}]"
            if isinstance(record, Article):
                yield where, record
            else:
                fields = {"text": record} if isinstance(record, str) else dict(record)
                yield where, _article(fields, where)

    return _unique(located())


def _unique(located: Iterable[tuple[str, Item]]) -> Iterator[Item]:
    """Pass items through, turning each repeat of an id into a ``duplicate_id`` error record."""
    seen = IdIndex()
    try:
        for where, item in located:
            key = item.key if isinstance(item, Article) else item.id
            first = seen.add(key, where)
            if first is None:
                yield item
                continue
            yield ErrorRecord(
                id=where,
                code="duplicate_id",
                message=f"{where}: id {key!r} was already used at {first}; not analysed",
                source=where,
            )
    finally:
        seen.close()


def _records(name: str) -> Iterator[tuple[str, Item]]:
    if name == "-":
        yield from _jsonl(io.BufferedReader(sys.stdin.buffer), "<stdin>")
        return
    path = Path(name)
    suffix = path.suffix.lower()
    if path.is_dir():
        for file in _files(path):
            yield str(file), _file_article(file, file.relative_to(path).with_suffix("").as_posix())
    elif suffix == ".csv":
        yield from _csv(path)
    elif suffix in TABLE_SUFFIXES:
        with path.open("rb") as handle:
            yield from _jsonl(handle, name)
    else:
        yield name, _file_article(path, path.stem)


def _article(fields: dict[str, Any], where: str) -> Item:
    """An article from a record's fields, or the error record saying why not."""
    known = {k: fields.get(k) for k in FIELDS if fields.get(k) not in (None, "")}
    if "id" in known:
        known["id"] = str(known["id"])
    text = fields.get("text")
    try:
        if not isinstance(text, str):
            raise InputError("the record has no 'text' string")
        known["published"] = parse_date(known.get("published"), "published")
        return make_article(text, **known)
    except InputError as exc:
        key = known.get("id") or where
        return ErrorRecord(id=key, code=exc.code, message=f"{where}: {exc}", source=where)


def _jsonl(handle: Iterable[bytes], name: str) -> Iterator[tuple[str, Item]]:
    for number, raw in enumerate(handle, 1):
        if not raw.strip():
            continue
        where = f"{name}:{number}"
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            yield where, _bad(where, f"not UTF-8 (undecodable byte at offset {exc.start})")
            continue
        except json.JSONDecodeError as exc:
            yield where, _bad(where, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(data, dict):
            yield where, _bad(where, f"expected a JSON object, got {type(data).__name__}")
            continue
        yield where, _article(data, where)


def _csv_reader(handle: Iterable[str]) -> csv.DictReader[str]:
    csv.field_size_limit(MAX_CHARS * 4)
    return csv.DictReader(handle)


def _csv_header(reader: csv.DictReader[str], path: Path) -> csv.DictReader[str]:
    if reader.fieldnames is None or "text" not in reader.fieldnames:
        raise InputError(f"{path}: the CSV header has no 'text' column")
    return reader


def _decoded(handle: Iterable[bytes], undecodable: set[int]) -> Iterator[str]:
    """Lines as text; the numbers of lines that are not UTF-8 go into ``undecodable``."""
    for number, raw in enumerate(handle, 1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            undecodable.add(number)
            yield raw.decode("utf-8", errors="replace")


def _csv(path: Path) -> Iterator[tuple[str, Item]]:
    undecodable: set[int] = set()
    with path.open("rb") as handle:
        reader = _csv_header(_csv_reader(_decoded(handle, undecodable)), path)
        previous = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row, problem = None, f"unreadable CSV row ({exc})"
            else:
                problem = "the row has more cells than the header" if None in row else None
            where = f"{path}:{reader.line_num}"
            if undecodable & set(range(previous + 1, reader.line_num + 1)):
                problem = "not UTF-8"
            previous = reader.line_num
            yield where, (_bad(where, problem) if problem or row is None else _article(row, where))


def _files(folder: Path) -> Iterator[Path]:
    suffixes = TEXT_SUFFIXES + HTML_SUFFIXES
    return (p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in suffixes)


def _file_article(path: Path, key: str) -> Item:
    where = str(path)
    try:
        text = read_text(where)
    except InputError as exc:
        return ErrorRecord(id=key, code=exc.code, message=str(exc), source=where)
    if path.suffix.lower() not in HTML_SUFFIXES:
        return _article({"id": key, "text": text}, where)
    return _article({"id": key, **_from_html(text)}, where)


def _from_html(html: str) -> dict[str, Any]:
    """Article text, title and date from an HTML page (trafilatura)."""
    import trafilatura  # imported on first use: it is slow to load

    document = trafilatura.bare_extraction(html, with_metadata=True)
    if document is None or not (document.text or "").strip():
        return {"text": ""}
    date = document.date if document.date and len(document.date) >= 10 else None
    return {"text": document.text, "title": document.title, "published": date and date[:10]}


def _bad(where: str, message: str) -> ErrorRecord:
    return ErrorRecord(id=where, code=InputError.code, message=f"{where}: {message}", source=where)
