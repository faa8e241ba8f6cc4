"""Reading records back: one ``ArticleAnalysis`` (JSON), a JSON list of them, or JSONL (one per
line), plus the article texts they were made from, matched by ``article.text_sha256``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from summarizer import inputs
from summarizer.errors import InputError
from summarizer.schema import ArticleAnalysis


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'record'}: {first['msg']}"


def _unreadable(exc: Exception, where: str) -> InputError:
    if isinstance(exc, json.JSONDecodeError):
        return InputError(f"{where}: not JSON ({exc.msg})")
    if isinstance(exc, RecursionError):
        return InputError(f"{where}: JSON nested too deeply")
    reason = str(exc).split(";")[0]  # e.g. an integer past Python's 4,300-digit limit
    return InputError(f"{where}: unreadable JSON ({reason})")


def _json(text: str, where: str) -> object:
    """``text`` parsed; JSON that cannot be read is an :class:`InputError` naming ``where``."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _unreadable(exc, where) from None


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")  # no newline translation: offsets hold
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def load_records(path: Path) -> list[ArticleAnalysis]:
    """Records from ``path``. A bad line or record is an :class:`InputError` naming where it is."""
    text = _read(path)
    if not text.strip():
        raise InputError(f"{path} holds no record")
    stripped = text.lstrip()
    if path.suffix != ".jsonl" and stripped[0] in "[{":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None  # perhaps JSONL after all
        except (ValueError, RecursionError) as exc:
            raise _unreadable(exc, str(path)) from None
        if data is not None:
            items = data if isinstance(data, list) else [data]
            return [_record(item, f"{path} record {i + 1}") for i, item in enumerate(items)]
    records = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            records.append(_record(_json(line, f"{path} line {n}"), f"{path} line {n}"))
    return records


def _record(item: object, where: str) -> ArticleAnalysis:
    try:
        return ArticleAnalysis.model_validate(item)
    except ValidationError as exc:
        raise InputError(f"{where}: not an ArticleAnalysis record ({_first_error(exc)})") from None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_texts(path: Path | str, max_chars: int | None = None) -> dict[str, str]:
    """Article texts keyed by SHA-256, read as every command reads articles
    (:mod:`summarizer.inputs`): a folder, a text or HTML file, a JSONL or CSV batch input, a URL;
    none longer than ``max_chars`` (default: the default ceiling)."""
    name = str(path)
    inputs.check([name], max_chars=max_chars)
    return inputs.texts(name, max_chars=max_chars)
