"""Batch input: JSONL, CSV, a directory of ``.txt``/``.md``/``.html`` files, or ``-`` (JSONL on
stdin), read lazily into :class:`~summarizer.source.Article` objects.

Records carry ``text`` and optionally ``id``, ``published``, ``title``, ``source``, ``url`` and
``language``. A record without an id gets one from its content hash (``sha256-…``). A record that
cannot become an article (bad JSON, a field of the wrong type, empty text, a bad date, a repeated
id, a line over the size limit, broken CSV quoting) becomes an :class:`ErrorRecord` keyed by its
id, or by its location (``file:line``) when it has no usable id or its id was already taken: it is
reported, never silently merged or dropped. No line is read past :data:`LINE_LIMIT` bytes.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from summarizer.batch.journal import ErrorRecord, IdIndex, errors_path, lock_path
from summarizer.errors import InputError
from summarizer.source import (
    MAX_CHARS,
    Article,
    describe,
    make_article,
    parse_date,
    read_text,
    stdin,
)

FIELDS = ("id", "published", "title", "source", "url", "language")
TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
TABLE_SUFFIXES = (".jsonl", ".ndjson", ".csv")
LINE_LIMIT = 12 * MAX_CHARS + (1 << 16)
"""Longest JSONL or CSV line read, in bytes: an article at the size limit written with JSON's
longest escapes (12 bytes for a character outside the BMP), plus its metadata."""

Item = Article | ErrorRecord


def check(inputs: Iterable[str], output: Path | None = None) -> list[str]:
    """Refuse inputs that cannot be read at all, or that are the job's own output files (a usage
    error, before the job starts)."""
    checked = list(inputs)
    if not checked:
        raise InputError("no input given")
    for name in checked:
        if name == "-":
            stdin()
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
            _csv_header(path)
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
            try:
                source = os.fstat(stdin().fileno()) if name == "-" else os.stat(name)
            except (OSError, ValueError, InputError):
                continue
            if (source.st_dev, source.st_ino) == (target.st_dev, target.st_ino):
                raise InputError(f"input {name} is the job's own file {written}; use another -o")


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
            total += sum(1 for _ in _csv_rows(path))
        elif suffix in TABLE_SUFFIXES:
            with path.open("rb") as handle:
                total += sum(1 for line, _ in _lines(handle) if line is None or line.strip())
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
            elif isinstance(record, str):
                yield where, _article({"text": record}, where)
            elif isinstance(record, Mapping):
                yield where, _article(dict(record), where)
            else:
                message = f"expected an Article, a dict or a text, got {describe(record)}"
                yield where, _bad(where, message)

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
        yield from _jsonl(stdin(), "<stdin>")
        return
    path = Path(name)
    suffix = path.suffix.lower()
    if path.is_dir():
        for file in _files(path):
            yield str(file), _file_article(file, file.relative_to(path).with_suffix("").as_posix())
    elif suffix == ".csv":
        for where, row, problem in _csv_rows(path):
            yield where, _bad(where, problem) if row is None else _article(row, where)
    elif suffix in TABLE_SUFFIXES:
        with path.open("rb") as handle:
            yield from _jsonl(handle, name)
    else:
        yield name, _file_article(path, path.stem)


def _article(fields: dict[str, Any], where: str) -> Item:
    """An article from a record's fields, or the error record saying why not.

    ``text`` must be a string; ``id`` a string or an integer; the other fields strings (a date
    ``YYYY-MM-DD`` for ``published``), or null or empty for none. A record whose id is unusable
    is keyed by its location."""
    raw_id = fields.get("id")
    usable_id = isinstance(raw_id, str | int) and not isinstance(raw_id, bool)
    id = str(raw_id) if usable_id and raw_id != "" else None
    try:
        if not usable_id and raw_id is not None:
            raise InputError(f"'id' must be a string or an integer, not {describe(raw_id)}")
        text = fields.get("text")
        if not isinstance(text, str):
            raise InputError(f"the record has no 'text' string (it is {describe(text)})")
        known: dict[str, Any] = {}
        for name in FIELDS[1:]:
            value = fields.get(name)
            if value is None or value == "":
                continue
            if not isinstance(value, str) and name != "published":  # Article checks dates
                raise InputError(f"'{name}' must be a string, not {describe(value)}")
            known[name] = value
        return make_article(text, id=id, **known)
    except InputError as exc:
        return ErrorRecord(id=id or where, code=exc.code, message=f"{where}: {exc}", source=where)


def _lines(handle: BinaryIO) -> Iterator[tuple[bytes | None, int]]:
    """``(line, number)`` for each line, never holding more than :data:`LINE_LIMIT` + 1 bytes of
    it: a longer line is skipped unread and yielded as None."""
    number = 0
    while line := handle.readline(LINE_LIMIT + 1):
        number += 1
        if len(line) > LINE_LIMIT and not line.endswith(b"\n"):
            while (rest := handle.readline(1 << 16)) and not rest.endswith(b"\n"):
                pass
            yield None, number
        else:
            yield line, number


def _too_long(where: str) -> ErrorRecord:
    return _bad(where, f"the line is longer than {LINE_LIMIT:,} bytes; not read")


def _jsonl(handle: BinaryIO, name: str) -> Iterator[tuple[str, Item]]:
    for raw, number in _lines(handle):
        where = f"{name}:{number}"
        if raw is None:
            yield where, _too_long(where)
            continue
        if not raw.strip():
            continue
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            yield where, _bad(where, f"not UTF-8 (undecodable byte at offset {exc.start})")
            continue
        except json.JSONDecodeError as exc:
            yield where, _bad(where, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, 100k-deep nesting
            problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            yield where, _bad(where, f"not usable JSON ({problem})")
            continue
        if not isinstance(data, dict):
            yield where, _bad(where, f"expected a JSON object, got {describe(data)}")
            continue
        yield where, _article(data, where)


# ------------------------------------------------------------------------------------------- CSV


class _Source:
    """The decoded lines of a CSV file for :mod:`csv`, numbered, with the lines of the row being
    read kept so that they can be read again (see :func:`_csv_rows`)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._lines = _lines(handle)
        self.again: list[tuple[int, str]] = []  # lines to hand out again, in order
        self.taken: list[tuple[int, str]] = []  # the lines of the current row
        self.problems: dict[int, str] = {}  # line number -> why it is unusable

    def __iter__(self) -> _Source:
        return self

    def __next__(self) -> str:
        if self.again:
            number, text = self.again.pop(0)
        else:
            raw, number = next(self._lines)
            if raw is None:
                self.problems[number] = f"line {number} is longer than {LINE_LIMIT:,} bytes"
                text = "\n"
            else:
                try:
                    text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    self.problems[number] = "not UTF-8"
                    text = raw.decode("utf-8", errors="replace")
        self.taken.append((number, text))
        return text


def _csv_reader(lines: Iterable[str]) -> Iterator[list[str]]:
    csv.field_size_limit(LINE_LIMIT)
    return csv.reader(lines, strict=True)


def _csv_header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        source = _Source(handle)
        try:
            header = next((row for row in _csv_reader(source) if row), None)
        except csv.Error as exc:
            raise InputError(f"{path}: unreadable CSV header ({exc})") from None
    if header is None or "text" not in header:
        raise InputError(f"{path}: the CSV header has no 'text' column")
    return header


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, str] | None, str]]:
    """``(where, row, problem)`` for each CSV row (``row`` None when ``problem`` says why).

    The reader is strict: a quote that is never closed, or text after a closing quote, is an
    error. When such a row spans several lines, it becomes one error record naming its first line,
    and the lines after that one are read again as rows, so a stray quote cannot swallow the rows
    that follow it."""
    header = _csv_header(path)
    with path.open("rb") as handle:
        source = _Source(handle)
        reader = _csv_reader(source)
        next(row for row in reader if row)  # the header
        while True:
            source.taken = []
            try:
                cells: list[str] | None = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                cells, problem = None, f"unreadable CSV row ({exc})"
                reason = str(exc)
            else:
                problem = (
                    "the row has more cells than the header" if len(cells) > len(header) else ""
                )
            first, last = source.taken[0][0], source.taken[-1][0]
            if cells is None and last > first:
                problem = (
                    f"broken quoting: a quote opened on line {first} is not closed properly "
                    f"({reason}); the lines after it, {first + 1}-{last}, are read again as rows"
                )
                source.again = source.taken[1:] + source.again
                reader = _csv_reader(source)
            bad = [source.problems[n] for n in range(first, last + 1) if n in source.problems]
            if cells == [] and not bad:
                continue  # a blank line
            problem = bad[0] if bad and cells is not None else problem
            row = None if problem else dict(zip(header, cells or [], strict=False))
            yield f"{path}:{first}", row, problem


# ----------------------------------------------------------------------------- files and HTML


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
    """Article text, title and date from an HTML page (trafilatura). A date it finds that is not
    ``YYYY-MM-DD`` is left out: it is a guess from the page, not a value the user gave."""
    import trafilatura  # imported on first use: it is slow to load

    document = trafilatura.bare_extraction(html, with_metadata=True)
    if document is None or not (document.text or "").strip():
        return {"text": ""}
    date = (document.date or "")[:10]
    try:
        published = parse_date(date or None)
    except InputError:
        published = None
    return {"text": document.text, "title": document.title, "published": published}


def _bad(where: str, message: str) -> ErrorRecord:
    return ErrorRecord(id=where, code=InputError.code, message=f"{where}: {message}", source=where)
