"""Exactly-once output: one line per input id across ``OUT.jsonl`` and ``OUT.errors.jsonl``.

Each record is one ``os.write`` of a whole line to a file opened with ``O_APPEND``, followed by
``fsync``. A process killed mid-write (``kill -9``) can leave at most a torn last line; opening the
journal cuts it off, so that article counts as not done and is analysed again. Running the same job
again reads the ids already written and skips them; with ``retry_errors``, the error records of
model and provider failures are first taken out of ``OUT.errors.jsonl`` (a new file replaces it
atomically), so those articles are analysed again. Ids are kept in an :class:`IdIndex`, on disk,
so a job's memory does not grow with its size. One job at a time holds an output: see :class:`Lock`.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import sqlite3
import weakref
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


def make_folder(path: Path) -> None:
    """Create the folder ``path`` goes in; a file in the way is a ``NotADirectoryError``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # what mkdir says when a parent is a file
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), exc.filename) from None


def lock_path(output: Path) -> Path:
    """``OUT.jsonl`` -> ``OUT.jsonl.lock`` beside the file the output path leads to."""
    output = output.resolve()
    return output.with_name(f"{output.name}.lock")


class Lock:
    """An exclusive ``flock`` on ``OUT.jsonl.lock``, which holds the owner's pid: a second job on
    the same output is refused at once (or waits, with ``wait``). The kernel releases the lock
    when its process dies, ``kill -9`` included, so a lock file left behind blocks nobody."""

    def __init__(self, output: Path, *, wait: bool = False) -> None:
        self.path = lock_path(output)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                if not wait:
                    os.close(fd)
                    raise InputError(
                        f"{output} is in use by another batch job (pid {holder}); wait for it to "
                        "end, or add --wait"
                    ) from None
                logging.getLogger("summarizer").warning(
                    "%s is in use by another batch job (pid %s); waiting for it", output, holder
                )
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            if self._still_there(fd):
                break
            os.close(fd)  # its last holder removed the file as it let go: lock the one there now
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._unlock = weakref.finalize(self, os.close, fd)  # also when dropped unreleased

    def _still_there(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def release(self) -> None:
        """Remove the lock file, then let go (a waiter then locks a new file)."""
        if self._unlock.alive:
            self.path.unlink(missing_ok=True)
            self._unlock()


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
        make_folder(path)
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

    def __init__(
        self,
        output: Path,
        *,
        restart: bool = False,
        retry_errors: bool = False,
        wait: bool = False,
    ) -> None:
        self.output = output
        if output.is_dir():
            raise InputError(f"--output {output} is a directory; give a .jsonl file")
        self.lock: Lock | None = None
        self.results: AppendLog | None = None
        self.errors: AppendLog | None = None
        self.done: IdIndex | None = None
        try:
            make_folder(output)
            self.lock = Lock(output, wait=wait)
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
        except OSError as exc:
            self.close()
            where = f" ({exc.filename})" if exc.filename and exc.filename != str(output) else ""
            raise InputError(f"cannot write {output}: {exc.strerror}{where}") from None
        except BaseException:
            self.close()
            raise

    def write(self, record: Record) -> None:
        """Append ``record`` durably (before anyone is told it is done)."""
        assert self.results is not None and self.errors is not None and self.done is not None
        analysis = isinstance(record, ArticleAnalysis)
        log = self.results if analysis else self.errors
        try:
            log.append(record.model_dump_json(exclude_none=not analysis))
        except OSError as exc:  # a full disk, a file system gone read-only
            raise InputError(
                f"cannot write {log.path}: {exc.strerror}; run the same command again to resume"
            ) from None
        self.error_count += not analysis
        self.done.add(record_id(record))

    def close(self) -> None:
        for log in (self.results, self.errors):
            if log is not None:
                log.close()
        if self.done is not None:
            self.done.close()
        if self.lock is not None:
            self.lock.release()
