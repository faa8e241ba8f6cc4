"""The call log: every model request and answer, re-asks included, in SQLite (as ``llm logs``).

One row per attempt: when, the record (article) id, the model asked and the one that answered,
the endpoint host, the attempt number, latency, tokens, the request body, the answer, and the
error if the attempt failed. Headers are never stored and bodies pass through
:func:`~summarizer.errors.redact`, so no key reaches the log.

Logging is on for ``run`` and ``eval`` (``--no-log`` or ``SUMMARIZER_LOG=0`` turns it off) and
opt-in for ``batch`` (``--log``); the Python API logs inside :func:`recording` only. The file is
``$SUMMARIZER_LOG_PATH``, else ``logs.db`` in the user data folder (platformdirs', else
``~/.local/share/summarizer``). Safe for concurrent articles and processes: one connection per
process, writes under a lock, WAL with a busy timeout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from summarizer.errors import InputError, redact

OFF = ("0", "off", "false", "no")
COLUMNS = (
    "id", "datetime_utc", "record_id", "model", "resolved_model", "endpoint", "attempt",
    "duration_ms", "prompt_tokens", "completion_tokens", "cached_tokens", "request_json",
    "response_json", "error",
)  # fmt: skip
_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    datetime_utc TEXT NOT NULL,
    record_id TEXT,
    model TEXT NOT NULL,
    resolved_model TEXT,
    endpoint TEXT,
    attempt INTEGER NOT NULL,
    duration_ms INTEGER,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    cached_tokens INTEGER,
    request_json TEXT,
    response_json TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS calls_record_id ON calls (record_id);
"""


def enabled() -> bool:
    """False when ``SUMMARIZER_LOG`` says off (``0``, ``off``, ``false``, ``no``)."""
    return os.environ.get("SUMMARIZER_LOG", "").strip().lower() not in OFF


def default_path() -> Path:
    """``$SUMMARIZER_LOG_PATH``, else ``logs.db`` in the user data folder."""
    if os.environ.get("SUMMARIZER_LOG_PATH"):
        return Path(os.environ["SUMMARIZER_LOG_PATH"])
    try:
        from platformdirs import user_data_dir
    except ImportError:
        return Path.home() / ".local" / "share" / "summarizer" / "logs.db"
    return Path(user_data_dir("summarizer", appauthor=False)) / "logs.db"


class CallLog:
    """One log file, written by one connection under a lock (asyncio tasks and threads alike)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise InputError(
                f"cannot use {path} as the call log: {reason} (set SUMMARIZER_LOG_PATH, or "
                "SUMMARIZER_LOG=0 / --no-log)"
            ) from None

    def add(self, **row: Any) -> int:
        """Insert one attempt; its row id."""
        row.setdefault("datetime_utc", dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"))
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._lock:
            cursor = self._db.execute(
                f"INSERT INTO calls ({names}) VALUES ({marks})", tuple(row.values())
            )
        return cursor.lastrowid or 0

    def update(self, rowid: int, **row: Any) -> None:
        sets = ", ".join(f"{name} = ?" for name in row)
        with self._lock:
            self._db.execute(f"UPDATE calls SET {sets} WHERE id = ?", (*row.values(), rowid))

    def close(self) -> None:
        with self._lock:
            self._db.close()


_active: ContextVar[CallLog | None] = ContextVar("summarizer_call_log", default=None)


def current() -> CallLog | None:
    """The log model calls are written to now, if any."""
    return _active.get()


@contextlib.contextmanager
def recording(path: Path | None = None, *, on: bool = True) -> Iterator[CallLog | None]:
    """Log every model call made inside the block (and in tasks started from it) to ``path``
    (default :func:`default_path`); ``on=False`` or ``SUMMARIZER_LOG=0``: log nothing."""
    if not (on and enabled()):
        yield None
        return
    log = CallLog(path or default_path())
    token = _active.set(log)
    try:
        yield log
    finally:
        _active.reset(token)
        log.close()


def body(data: Any, *secrets: str | None) -> str:
    """``data`` (a request's keyword arguments or an answer) as redacted JSON."""
    if hasattr(data, "model_dump_json"):
        text = data.model_dump_json(exclude_none=True)
    else:
        text = json.dumps(data, default=str, ensure_ascii=False)
    return redact(text, *secrets)


# --------------------------------------------------------------------------------------- reading


def read(
    path: Path, *, limit: int | None = 3, record_id: str | None = None
) -> list[dict[str, Any]]:
    """The last ``limit`` rows (all with None), oldest first; only ``record_id``'s when given."""
    if not path.is_file():
        raise InputError(f"no call log at {path} (nothing logged yet, or see SUMMARIZER_LOG_PATH)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        db.row_factory = sqlite3.Row
        where, args = ("WHERE record_id = ?", [record_id]) if record_id is not None else ("", [])
        sql = f"SELECT * FROM calls {where} ORDER BY id DESC"
        if limit is not None:
            sql, args = sql + " LIMIT ?", [*args, limit]
        rows = [dict(r) for r in db.execute(sql, args)]
        db.close()
    except sqlite3.Error as exc:
        raise InputError(f"cannot read the call log {path}: {exc}") from None
    return rows[::-1]


def as_json(rows: list[dict[str, Any]]) -> str:
    """``rows`` as a JSON list, request and response bodies as JSON values."""
    for row in rows:
        for name in ("request_json", "response_json"):
            with contextlib.suppress(TypeError, ValueError):
                row[name] = json.loads(row[name])
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def as_text(rows: list[dict[str, Any]]) -> str:
    """``rows`` for people (the caller escapes control characters)."""
    out = []
    for row in rows:
        head = (
            f"# {row['datetime_utc']}  id {row['id']}  record {row['record_id'] or '-'}  "
            f"attempt {row['attempt']}"
        )
        model = row["model"] + (
            f" (answered by {row['resolved_model']})"
            if row["resolved_model"] and row["resolved_model"] not in row["model"]
            else ""
        )
        tokens = f"{row['prompt_tokens'] or 0} prompt + {row['completion_tokens'] or 0} completion"
        out += [head, f"model: {model} at {row['endpoint']}", f"{row['duration_ms']} ms, {tokens}"]
        if row["error"]:
            out.append(f"error: {row['error']}")
        out += ["", "## request", "", _pretty(row["request_json"])]
        out += ["", "## response", "", _pretty(row["response_json"]), ""]
    return "\n".join(out)


def _pretty(text: str | None) -> str:
    if not text:
        return "(none)"
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
