"""Input stage for every command that takes articles (``run``, ``batch``, ``report --articles``,
``validate --articles``): JSONL, CSV, a directory of ``.txt``/``.md``/``.html`` files, one such
file, an ``http(s)://`` URL, or ``-`` (standard input), read lazily into
:class:`~summarizer.source.Article` objects.

Records carry ``text`` and optionally ``id``, ``published``, ``title``, ``source``, ``url`` and
``language``. A record without an id gets one from its content hash (``sha256-…``). HTML (a file
or a fetched page) is reduced to its article text, title and date by trafilatura. A record that
cannot become an article (bad JSON, a field of the wrong type, empty text, a bad date, a line
over the size limit, broken CSV quoting, a page that cannot be fetched) becomes an
:class:`Unreadable` keyed by its id, or by its location (``file:line``) when it has no usable id:
it is reported, never silently dropped.

Every reader takes ``max_chars``, the ceiling in characters (``--max-chars``; None: the default
:data:`~summarizer.source.MAX_CHARS`), and reads no file past
:func:`~summarizer.source.byte_limit`, no line past :func:`~summarizer.source.line_limit` and no
page past :func:`~summarizer.source.page_limit` bytes of it (plus one, to see that it is longer).
"""

from __future__ import annotations

import csv
import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from summarizer.errors import InputError
from summarizer.source import (
    Article,
    describe,
    line_limit,
    make_article,
    page_limit,
    parse_date,
    read_text,
    stdin,
    the_limit,
)

FIELDS = ("id", "published", "title", "source", "url", "language")
TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
TABLE_SUFFIXES = (".jsonl", ".ndjson", ".csv")
URL_SCHEMES = ("http://", "https://")
LINE_LIMIT = line_limit()
"""Longest JSONL or CSV line read at the default ceiling, in bytes."""
FETCH_LIMIT = page_limit()
"""Most bytes of a web page read at the default ceiling."""
FETCH_TIMEOUT_S = 20.0
"""Seconds to connect, and between bytes received, when fetching a URL."""


@dataclass(frozen=True)
class Unreadable:
    """An input that could not become an article: its id (or its location), an error code, a
    message naming where it is, and the location."""

    id: str
    code: str
    message: str
    source: str


Item = Article | Unreadable


def is_url(name: str) -> bool:
    return name.lower().startswith(URL_SCHEMES)


def check(inputs: Iterable[str], *, max_chars: int | None = None) -> list[str]:
    """Refuse inputs that cannot be read at all (a usage error, before any work starts)."""
    checked = list(inputs)
    if not checked:
        raise InputError("no input given")
    for name in checked:
        if name == "-":
            stdin()
            continue
        if is_url(name):
            continue
        path = Path(name)
        if path.is_dir():
            continue
        if not path.is_file():
            raise InputError(f"cannot read {name}: no such file or directory")
        if path.suffix.lower() not in TABLE_SUFFIXES + TEXT_SUFFIXES + HTML_SUFFIXES:
            raise InputError(
                f"{name}: unknown input type; use .jsonl, .csv, a directory, .txt/.md/.html, "
                "an http(s):// URL or -"
            )
        if path.suffix.lower() == ".csv":
            _csv_header(path, max_chars)
    return checked


def count(inputs: Iterable[str], *, max_chars: int | None = None) -> int | None:
    """How many records the inputs hold (None when one of them is stdin)."""
    total = 0
    for name in inputs:
        if name == "-":
            return None
        path = Path(name)
        suffix = path.suffix.lower()
        if is_url(name):
            total += 1
        elif path.is_dir():
            total += sum(1 for _ in files(path))
        elif suffix == ".csv":
            total += sum(1 for _ in _csv_rows(path, max_chars))
        elif suffix in TABLE_SUFFIXES:
            with path.open("rb") as handle:
                lines = _lines(handle, line_limit(max_chars))
                total += sum(1 for line, _ in lines if line is None or line.strip())
        else:
            total += 1
    return total


def records(
    name: str, *, stdin_is: str = "jsonl", max_chars: int | None = None
) -> Iterator[tuple[str, Item]]:
    """``(location, item)`` for each record of one input, none longer than ``max_chars``. ``-``
    is JSONL on standard input, or one article's text when ``stdin_is`` is ``"text"``."""
    if name == "-":
        if stdin_is == "text":
            yield "-", _file_article(None, None, max_chars)
        else:
            yield from _jsonl(stdin(), "<stdin>", max_chars)
        return
    if is_url(name):
        yield name, _url_article(name, max_chars)
        return
    path = Path(name)
    suffix = path.suffix.lower()
    if path.is_dir():
        for file in files(path):
            key = file.relative_to(path).with_suffix("").as_posix()
            yield str(file), _file_article(file, key, max_chars)
    elif suffix == ".csv":
        for where, row, problem in _csv_rows(path, max_chars):
            yield where, _bad(where, problem) if row is None else article(row, where, max_chars)
    elif suffix in TABLE_SUFFIXES:
        with path.open("rb") as handle:
            yield from _jsonl(handle, name, max_chars)
    else:
        yield name, _file_article(path, path.stem, max_chars)


def read_one(name: str, *, max_chars: int | None = None, **meta: Any) -> Article:
    """The one article that ``name`` holds (``-``: text on standard input), with ``meta`` (non-None
    values) taking precedence over what the input says; an InputError when it holds none or
    several, or cannot be read, or is longer than ``max_chars``."""
    found = None
    for where, item in records(name, stdin_is="text", max_chars=max_chars):
        if isinstance(item, Unreadable):
            raise InputError(item.message)
        if found is not None:
            raise InputError(
                f"{name} holds more than one article (the second at {where}); "
                "this command takes one: use summarizer batch"
            )
        found = item
    if found is None:
        raise InputError(f"{name} holds no article")
    given = {k: v for k, v in meta.items() if v is not None}
    if not given:
        return found
    fields = found.model_dump(exclude_none=True) | given
    if "id" not in given and found.id is None:
        fields.pop("id", None)
    return make_article(**fields, max_chars=max_chars)


def texts(name: str, *, max_chars: int | None = None) -> dict[str, str]:
    """Every article text of one input keyed by SHA-256; the first unreadable record is an
    InputError naming where it is."""
    found = {}
    for _, item in records(name, max_chars=max_chars):
        if isinstance(item, Unreadable):
            raise InputError(item.message)
        found[item.sha256] = item.text
    return found


def article(fields: dict[str, Any], where: str, max_chars: int | None = None) -> Item:
    """An article of at most ``max_chars`` characters from a record's fields, or the
    :class:`Unreadable` saying why not.

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
        return make_article(text, id=id, max_chars=max_chars, **known)
    except InputError as exc:
        return Unreadable(id=id or where, code=exc.code, message=f"{where}: {exc}", source=where)


def _lines(handle: BinaryIO, limit: int) -> Iterator[tuple[bytes | None, int]]:
    """``(line, number)`` for each line, never holding more than ``limit`` + 1 bytes of it: a
    longer line is skipped unread and yielded as None."""
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := handle.readline(1 << 16)) and not rest.endswith(b"\n"):
                pass
            yield None, number
        else:
            yield line, number


def _too_long(max_chars: int | None) -> str:
    """Why a line was not read."""
    return f"longer than {line_limit(max_chars):,} bytes; {the_limit(max_chars)}; not read"


def _jsonl(handle: BinaryIO, name: str, max_chars: int | None) -> Iterator[tuple[str, Item]]:
    for raw, number in _lines(handle, line_limit(max_chars)):
        where = f"{name}:{number}"
        if raw is None:
            yield where, _bad(where, f"the line is {_too_long(max_chars)}")
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
        yield where, article(data, where, max_chars)


# ------------------------------------------------------------------------------------------- CSV


class _Source:
    """The decoded lines of a CSV file for :mod:`csv`, numbered, with the lines of the row being
    read kept so that they can be read again (see :func:`_csv_rows`)."""

    def __init__(self, handle: BinaryIO, max_chars: int | None) -> None:
        self.max_chars = max_chars
        self._lines = _lines(handle, line_limit(max_chars))
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
                self.problems[number] = f"line {number} is {_too_long(self.max_chars)}"
                text = "\n"
            else:
                try:
                    text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    self.problems[number] = "not UTF-8"
                    text = raw.decode("utf-8", errors="replace")
        self.taken.append((number, text))
        return text


def _csv_reader(source: _Source) -> Iterator[list[str]]:
    csv.field_size_limit(line_limit(source.max_chars))
    return csv.reader(source, strict=True)


def _csv_header(path: Path, max_chars: int | None) -> list[str]:
    with path.open("rb") as handle:
        source = _Source(handle, max_chars)
        try:
            header = next((row for row in _csv_reader(source) if row), None)
        except csv.Error as exc:
            raise InputError(f"{path}: unreadable CSV header ({exc})") from None
    if header is None or "text" not in header:
        raise InputError(f"{path}: the CSV header has no 'text' column")
    return header


def _csv_rows(
    path: Path, max_chars: int | None
) -> Iterator[tuple[str, dict[str, str] | None, str]]:
    """``(where, row, problem)`` for each CSV row (``row`` None when ``problem`` says why).

    The reader is strict: a quote that is never closed, or text after a closing quote, is an
    error. When such a row spans several lines, it becomes one error record naming its first line,
    and the lines after that one are read again as rows, so a stray quote cannot swallow the rows
    that follow it."""
    header = _csv_header(path, max_chars)
    with path.open("rb") as handle:
        source = _Source(handle, max_chars)
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


def files(folder: Path) -> Iterator[Path]:
    """The article files of a folder and its sub-folders, in name order."""
    suffixes = TEXT_SUFFIXES + HTML_SUFFIXES
    return (p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in suffixes)


def _file_article(path: Path | None, key: str | None, max_chars: int | None) -> Item:
    """One article from a file (``None``: text on standard input)."""
    where = "-" if path is None else str(path)
    try:
        text = read_text(where, max_chars)
    except InputError as exc:
        return Unreadable(id=key or where, code=exc.code, message=str(exc), source=where)
    fields: dict[str, Any] = {"text": text} if key is None else {"id": key, "text": text}
    if path is not None and path.suffix.lower() in HTML_SUFFIXES:
        fields |= _from_html(text)
    return article(fields, where, max_chars)


def _url_article(url: str, max_chars: int | None) -> Item:
    """One article from a web page: HTML is reduced by trafilatura, plain text kept as it is."""
    try:
        body, html = _fetch(url, max_chars)
    except InputError as exc:
        return Unreadable(id=url, code=exc.code, message=str(exc), source=url)
    fields: dict[str, Any] = {"text": body, "url": url}
    if html:
        fields |= _from_html(body)
    return article(fields, url, max_chars)


class _HttpOnly(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) URLs only (urllib would follow one to ftp://)."""

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if not is_url(newurl):
            raise urllib.error.URLError(f"redirect to {newurl!r} refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch(url: str, max_chars: int | None) -> tuple[str, bool]:
    """``(text, is_html)`` of ``url``, read with :data:`FETCH_TIMEOUT_S` and at most
    :func:`~summarizer.source.page_limit` bytes."""
    limit = page_limit(max_chars)
    request = urllib.request.Request(url, headers={"User-Agent": "summarizer"})
    try:
        opener = urllib.request.build_opener(_HttpOnly)
        with opener.open(request, timeout=FETCH_TIMEOUT_S) as response:
            data = response.read(limit + 1)
            kind = response.headers.get_content_type()
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        raise InputError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError(f"cannot fetch {url}: {reason}") from None
    if len(data) > limit:
        raise InputError(f"{url} is more than {limit:,} bytes; {the_limit(max_chars)}; not read")
    try:
        text = data.decode("utf-8-sig" if charset.lower() in ("utf-8", "utf8") else charset)
    except (UnicodeDecodeError, LookupError):
        raise InputError(f"{url} is not {charset} text") from None
    return text, kind in ("text/html", "application/xhtml+xml")


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


def _bad(where: str, message: str) -> Unreadable:
    return Unreadable(id=where, code=InputError.code, message=f"{where}: {message}", source=where)
