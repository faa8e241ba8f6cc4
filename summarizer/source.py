"""Input stage: an article's text and metadata, read and checked before anything else runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from pathlib import Path

from pydantic import BaseModel, field_validator

from summarizer.errors import InputError

MAX_CHARS = 200_000
"""Longest article accepted, in characters (about 50k tokens): longer input is refused."""


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
        if len(text) > MAX_CHARS:
            raise InputError(
                f"the article has {len(text):,} characters; the limit is {MAX_CHARS:,}"
            )
        return text

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def key(self) -> str:
        """The article id, or one derived from its content."""
        return self.id or f"sha256-{self.sha256[:16]}"


def make_article(text: str, **meta: object) -> Article:
    """Build an :class:`Article`, turning validation failures into one-line :class:`InputError`."""
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


def read_text(path: str) -> str:
    """Read UTF-8 text from a file path or ``-`` (stdin); undecodable bytes are an InputError."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CHARS * 4:
        raise InputError(f"{path} is {len(data):,} bytes; the limit is {MAX_CHARS:,} characters")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (undecodable byte at offset {exc.start})"
        ) from None


def parse_date(value: str | dt.date | None, what: str = "date") -> dt.date | None:
    """Parse an ISO date (``YYYY-MM-DD``); ``None`` passes through."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{what} must be an ISO date like 2020-03-13, not {value!r}") from None


__all__ = ["MAX_CHARS", "Article", "InputError", "make_article", "parse_date", "read_text"]
