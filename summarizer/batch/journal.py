"""Exactly-once output: one line per input id across ``OUT.jsonl`` and ``OUT.errors.jsonl``.

Each record is one ``os.write`` of a whole line to a file opened with ``O_APPEND``, followed by
``fsync``. A process killed mid-write (``kill -9``) can leave at most a torn last line; opening the
journal cuts it off, so that article counts as not done and is analysed again. Running the same job
again reads the ids already written and skips them; with ``retry_errors``, the error records of
model and provider failures are first taken out of ``OUT.errors.jsonl`` (a new file replaces it
atomically), so those articles are analysed again. Ids are kept in an :class:`IdIndex`, on disk,
so a job's memory does not grow with its size.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel

from summarizer.errors import ChecksFailed, InputError, ModelError, ProviderError
from summarizer.schema import ArticleAnalysis, Usage


class ErrorRecord(BaseModel):
    """One input that produced no analysis: a model or provider failure, or unusable input.

    ``id`` is the article id; for input that has none (a malformed line, a repeated id) it is the
    input location, ``file:line``, which ``source`` also gives."""

    id: str
    code: str
    message: str
    attempts: int = 0
    usage: Usage | None = None
    source: str | None = None


Record = ArticleAnalysis | ErrorRecord
RETRYABLE = {ModelError.code, ProviderError.code, ChecksFailed.code}  # not input problems


class IdIndex:
    """A set of ids, each with a note, in a private temporary SQLite file (deleted on close):
    lookups stay fast and memory stays flat however many ids a job sees."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-256")  # KiB; the OS caches the file as well
        self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, note TEXT) WITHOUT ROWID")
        with self._db:  # one transaction
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO ids VALUES (?, '')", ((i,) for i in ids))

    def add(self, id: str, note: str = "") -> str | None:
        """Add ``id``; return the note it already had (None when it is new)."""
        row = self._db.execute("SELECT note FROM ids WHERE id = ?", (id,)).fetchone()
        if row is not None:
            return str(row[0])
        self._db.execute("INSERT INTO ids VALUES (?, ?)", (id, note))
        return None

    def __contains__(self, id: object) -> bool:
        return self._db.execute("SELECT 1 FROM ids WHERE id = ?", (id,)).fetchone() is not None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM ids").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def record_id(record: Record) -> str:
    return record.article.id if isinstance(record, ArticleAnalysis) else record.id


def errors_path(output: Path) -> Path:
    """``OUT.jsonl`` -> ``OUT.errors.jsonl`` (any other name gets ``.errors.jsonl`` appended)."""
    name = output.name.removesuffix(".jsonl")
    return output.with_name(f"{name}.errors.jsonl")


# Both record types serialise their id first: {"article":{"id":"…"… or {"id":"…"…
_ID = re.compile(rb'^\{"(?:article":\{")?id":("(?:[^"\\]|\\.)*")')


def _line_id(line: bytes, where: str) -> str:
    match = _ID.match(line)
    if match:
        return str(json.loads(match.group(1)))
    try:
        data = json.loads(line)
        return str(data["article"]["id"] if "article" in data else data["id"])
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{where} is not a record this tool wrote; move it away") from None


def _code(line: bytes) -> str | None:
    try:
        return str(json.loads(line).get("code"))
    except (ValueError, AttributeError):
        return None


class AppendLog:
    """A JSONL file that only ever grows by whole lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self._cut_torn_tail()

    def _cut_torn_tail(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == 0 or os.pread(self._fd, 1, size - 1) == b"\n":
            return
        block = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - block)
            chunk = os.pread(self._fd, end - start, start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                os.ftruncate(self._fd, start + cut + 1)
                break
            end = start
        else:
            os.ftruncate(self._fd, 0)
        os.fsync(self._fd)

    def ids(self) -> Iterator[str]:
        """The id of every line, in file order."""
        with open(self.path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield _line_id(line, f"{self.path}:{number}")

    def drop_retryable(self) -> int:
        """Take the error records of model and provider failures out (the file is replaced
        atomically); return how many."""
        kept = self.path.with_name(self.path.name + ".tmp")
        dropped = 0
        with open(self.path, "rb") as source, open(kept, "wb") as target:
            for line in source:
                if _code(line) in RETRYABLE:
                    dropped += 1
                else:
                    target.write(line)  # a line this tool did not write is refused by ids()
            target.flush()
            os.fsync(target.fileno())
        if dropped:
            os.replace(kept, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself survives a crash
            finally:
                os.close(directory)
            self._fd, old = os.open(self.path, os.O_RDWR | os.O_APPEND), self._fd
            os.close(old)
        else:
            kept.unlink()
        return dropped

    def append(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Journal:
    """The output pair of a batch job, and the ids it already holds."""

    def __init__(self, output: Path, *, restart: bool = False, retry_errors: bool = False) -> None:
        self.output = output
        if output.is_dir():
            raise InputError(f"--output {output} is a directory; give a .jsonl file")
        if restart:
            for path in (output, errors_path(output)):
                path.unlink(missing_ok=True)
        self.results = AppendLog(output)
        self.errors = AppendLog(errors_path(output))
        self.retried = self.errors.drop_retryable() if retry_errors else 0
        self.error_count = 0  # error records in the output, from every run
        self.done = IdIndex(self.results.ids())
        for id in self.errors.ids():
            self.error_count += 1
            self.done.add(id)

    def write(self, record: Record) -> None:
        """Append ``record`` durably (before anyone is told it is done)."""
        if isinstance(record, ArticleAnalysis):
            self.results.append(record.model_dump_json())
        else:
            self.errors.append(record.model_dump_json(exclude_none=True))
            self.error_count += 1
        self.done.add(record_id(record))

    def close(self) -> None:
        self.results.close()
        self.errors.close()
        self.done.close()
