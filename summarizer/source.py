"""Input stage: an article's text and metadata, read and checked before anything else runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys
from typing import BinaryIO

from pydantic import BaseModel, field_validator

from summarizer.errors import InputError

MAX_CHARS = 5_000_000
"""Longest document accepted by default, in characters (about 1.2M tokens, chunked to the
model's context); ``--max-chars`` / ``SUMMARIZER_MAX_CHARS`` sets another ceiling."""


def ceiling(max_chars: int | None = None) -> int:
    """The ceiling in characters: ``max_chars`` when set, else :data:`MAX_CHARS`.

    Every reader derives its byte bounds from it (:func:`byte_limit`, :func:`line_limit`,
    :func:`page_limit`), so the ceiling the user sets is the one every reader applies."""
    return max_chars or MAX_CHARS


def byte_limit(max_chars: int | None = None) -> int:
    """Most bytes read from one text input: UTF-8 takes up to 4 bytes a character."""
    return 4 * ceiling(max_chars)


def line_limit(max_chars: int | None = None) -> int:
    """Longest JSONL or CSV line read, in bytes: an article at the ceiling written with JSON's
    longest escapes (12 bytes for a character outside the BMP), plus its metadata."""
    return 12 * ceiling(max_chars) + (1 << 16)


def page_limit(max_chars: int | None = None) -> int:
    """Most bytes of a web page read: the markup around an article at the ceiling."""
    return 4 * byte_limit(max_chars)


def the_limit(max_chars: int | None = None) -> str:
    """How an error for a too-long input names the ceiling and the option that sets it."""
    return f"the limit is {ceiling(max_chars):,} characters (--max-chars)"


MAX_BYTES = byte_limit()
"""Most bytes read from one input at the default ceiling."""


class Article(BaseModel):
    """One news report to analyse."""

    text: str
    id: str | None = None
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: dt.date | None = None
    language: str | None = None

    @field_validator("text")
    @classmethod
    def _usable_text(cls, text: str) -> str:
        if not text.strip():
            raise InputError("the article is empty (no text besides whitespace)")
        return text

    @field_validator("published", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> dt.date | None:
        return parse_date(value, "published")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def key(self) -> str:
        """The article id, or one derived from its content."""
        return self.id or f"sha256-{self.sha256[:16]}"


def check_length(text: str, max_chars: int | None = None) -> None:
    """Refuse a text longer than :func:`ceiling` ``(max_chars)`` with an InputError."""
    if len(text) > ceiling(max_chars):
        raise InputError(f"the article has {len(text):,} characters; {the_limit(max_chars)}")


def make_article(text: str, *, max_chars: int | None = None, **meta: object) -> Article:
    """Build an :class:`Article` of at most :func:`ceiling` ``(max_chars)`` characters, turning
    validation failures into one-line :class:`InputError`."""
    check_length(text, max_chars)
    try:
        return Article(text=text, **meta)  # type: ignore[arg-type]
    except InputError:
        raise
    except ValueError as exc:  # pydantic.ValidationError
        errors = getattr(exc, "errors", lambda: [])()
        if errors:
            first = errors[0]
            cause = first.get("ctx", {}).get("error")
            if isinstance(cause, InputError):
                raise cause from None
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(f"{where}: {first['msg']}") from None
        raise InputError(str(exc)) from None


def describe(value: object) -> str:
    """A value as an error message shows it: a short repr for a string, the JSON type otherwise."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    kinds = {bool: "a boolean", int: "a number", float: "a number", dict: "an object"}
    kinds |= {list: "an array", type(None): "null"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def stdin() -> BinaryIO:
    """Standard input as bytes; an InputError when the process was started with it closed."""
    if sys.stdin is None:  # Python's own answer when file descriptor 0 was closed at start
        raise InputError("cannot read -: standard input is closed")
    return sys.stdin.buffer


def read_text(path: str, max_chars: int | None = None) -> str:
    """Read UTF-8 text from a file path or ``-`` (stdin); undecodable bytes are an InputError.

    At most :func:`byte_limit` ``(max_chars)`` + 1 bytes are read: a longer input is refused
    without reading it."""
    max_bytes = byte_limit(max_chars)
    try:
        if path == "-":
            data = stdin().read(max_bytes + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"{path} is more than {max_bytes:,} bytes; {the_limit(max_chars)}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (undecodable byte at offset {exc.start})"
        ) from None


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: object, what: str = "date") -> dt.date | None:
    """Parse a date written exactly ``YYYY-MM-DD``; ``None`` and dates pass through.

    Anything else (``20200313``, ``2020-W11-5``, a number, ``true``) is an InputError."""
    if value is None or isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(
        f"{what} must be an ISO date YYYY-MM-DD like 2020-03-13, not {describe(value)}"
    )


__all__ = [
    "MAX_BYTES",
    "MAX_CHARS",
    "Article",
    "InputError",
    "byte_limit",
    "ceiling",
    "check_length",
    "describe",
    "line_limit",
    "make_article",
    "page_limit",
    "parse_date",
    "read_text",
    "stdin",
    "the_limit",
]
