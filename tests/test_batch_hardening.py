"""Batch jobs under hostile input and hostile conditions (issue 9: items 1, 2, 3, 5, 6, 17).

Every case here once crashed with a traceback, lost rows, read without bound or let two jobs
write the same output. None of them calls a model: inputs that are refused never reach one.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPLAY_URL, TEST_KEY
from typer.testing import CliRunner

from summarizer.batch import inputs
from summarizer.batch.cache import Cache
from summarizer.batch.journal import ErrorRecord, Journal, errors_path, lock_path
from summarizer.cli import app
from summarizer.errors import InputError
from summarizer.source import Article

runner = CliRunner()
NO_MODEL = ["--base-url", REPLAY_URL, "--no-cache"]  # nothing listens; no test here calls it


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)


def _one_line_error(result: Any, needle: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0], lines[0]


def _items(path: Path) -> list[Article | ErrorRecord]:
    return list(inputs.read([str(path)]))


# ------------------------------------------------------------------ item 1: fields of any type

WRONG_TYPES: list[tuple[dict[str, Any], str]] = [
    ({"id": "p-num", "published": 20200313}, "published must be an ISO date"),
    ({"id": "p-true", "published": True}, "not a boolean"),
    ({"id": "p-obj", "published": {"y": 2020}}, "not an object"),
    ({"id": "p-list", "published": ["2020-03-13"]}, "not an array"),
    ({"id": "p-compact", "published": "20200313"}, "'20200313'"),
    ({"id": "p-week", "published": "2020-W11-5"}, "'2020-W11-5'"),
    ({"id": "t-num", "text": 5}, "no 'text' string (it is a number)"),
    ({"id": "t-null", "text": None}, "no 'text' string (it is null)"),
    ({"id": "t-list", "text": ["Talks resumed."]}, "it is an array"),
    ({"id": "title", "title": 5}, "'title' must be a string, not a number"),
    ({"id": "url", "url": {"href": "x"}}, "'url' must be a string, not an object"),
    ({"id": "source", "source": False}, "'source' must be a string, not a boolean"),
    ({"id": "lang", "language": ["en"]}, "'language' must be a string, not an array"),
]


def test_a_field_of_the_wrong_type_is_an_error_record_for_its_id(tmp_path: Path) -> None:
    lines = [{"text": "Talks resumed.", **fields} for fields, _ in WRONG_TYPES]
    lines.append({"id": "fine", "text": "Talks resumed in Lima.", "published": None, "title": ""})
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    items = _items(path)
    assert len(items) == len(lines)  # one item each; the job goes on past every bad one
    for (fields, needle), item in zip(WRONG_TYPES, items, strict=False):
        assert isinstance(item, ErrorRecord) and item.code == "bad_input", item
        assert item.id == fields["id"] and needle in item.message, item.message
        assert "\n" not in item.message
    assert isinstance(items[-1], Article) and items[-1].key == "fine"
    assert items[-1].published is None and items[-1].title is None  # null and "" mean none


@pytest.mark.parametrize(
    ("raw_id", "kind"),
    [(True, "a boolean"), (12345.0, "a number"), ({"x": 1}, "an object"), (["a"], "an array")],
)
def test_an_unusable_id_is_refused_under_the_records_location(
    tmp_path: Path, raw_id: object, kind: str
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": raw_id, "text": "Talks resumed."}) + "\n", encoding="utf-8")
    [item] = _items(path)
    assert isinstance(item, ErrorRecord)  # was an article called "True", "12345.0", "{'x': 1}"
    assert item.id == f"{path}:1" and f"'id' must be a string or an integer, not {kind}" in (
        item.message
    )


def test_an_integer_id_is_its_decimal_string(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 12345, "text": "Talks resumed."}\n', encoding="utf-8")
    [item] = _items(path)
    assert isinstance(item, Article) and item.key == "12345"


def test_json_that_python_cannot_hold_is_an_error_record(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": ' + "9" * 5000 + ', "text": "x"}\n' + "[" * 100_000 + "]" * 100_000 + "\n"
        '{"id": "after", "text": "Talks resumed."}\n',
        encoding="utf-8",
    )
    items = _items(path)
    assert [type(i).__name__ for i in items] == ["ErrorRecord", "ErrorRecord", "Article"]
    assert "not usable JSON" in items[0].message and "nested too deeply" in items[1].message  # type: ignore[union-attr]


def test_python_records_of_any_type_become_records(tmp_path: Path) -> None:
    items = list(inputs.from_records([None, 5, {"text": "Talks resumed.", "published": 1}]))  # type: ignore[list-item]
    assert all(isinstance(i, ErrorRecord) for i in items)
    assert [i.id for i in items] == ["articles[0]", "articles[1]", "articles[2]"]  # type: ignore[union-attr]
    assert "got null" in items[0].message and "published" in items[2].message  # type: ignore[union-attr]


def test_wrong_types_through_the_cli_give_error_records_not_a_traceback(
    tmp_path: Path, offline: None
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "a", "text": "x", "published": 2020}\n'
        '{"id": "b", "text": "x", "published": true}\n'
        '{"id": "c", "text": "x", "published": {"x": 1}}\n'
        '{"id": true, "text": "x"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", str(source), "-o", str(out), *NO_MODEL])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    written = [json.loads(x) for x in errors_path(out).read_text().splitlines()]
    assert [r["id"] for r in written] == ["a", "b", "c", f"{source}:4"]
    again = runner.invoke(app, ["batch", str(source), "-o", str(out), *NO_MODEL])
    assert again.exit_code == 1 and len(errors_path(out).read_text().splitlines()) == 4


# ------------------------------------------------------------------- item 5: CSV quoting


def test_an_unterminated_csv_quote_swallows_no_row(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "id,text\n"
        'a,"A bomb exploded in Lima."\n'
        'b,"The quote of this row is never closed\n'  # line 3
        'c,"Talks resumed, the ministry said."\n'
        "d,Rebels attacked a police post.\n"
        'e,"Unclosed again\n'  # line 6: runs to the end of the file
        "f,The army said nothing.\n",
        encoding="utf-8",
    )
    items = _items(path)
    assert inputs.count([str(path)]) == len(items)
    assert [getattr(i, "key", None) or i.id for i in items] == [  # type: ignore[union-attr]
        "a",
        f"{path}:3",
        "c",
        "d",
        f"{path}:6",
        "f",
    ]
    broken = [i for i in items if isinstance(i, ErrorRecord)]
    assert "quote opened on line 3" in broken[0].message and "4-4" in broken[0].message
    assert "unexpected end of data" in broken[1].message
    assert items[2].text == "Talks resumed, the ministry said."  # type: ignore[union-attr]


def test_text_after_a_closing_quote_is_an_error_for_that_row_only(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,text\na,"x"y\nb,fine\n', encoding="utf-8")
    items = _items(path)
    assert isinstance(items[0], ErrorRecord) and items[0].source == f"{path}:2"
    assert isinstance(items[1], Article) and items[1].key == "b"


# ------------------------------------------------------------ item 6: reads stop at the limit


class _Endless(io.RawIOBase):
    """A stream of ``size`` bytes of ``fill`` that counts what was read from it."""

    def __init__(self, size: int, fill: bytes = b"x") -> None:
        self.left, self.fill, self.served = size, fill, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = self.fill * n
        self.left -= n
        self.served += n
        return n


def test_stdin_is_read_only_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from summarizer.source import MAX_BYTES, read_text

    endless = _Endless(10 * MAX_BYTES)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(endless)))
    with pytest.raises(InputError, match=f"more than {MAX_BYTES:,} bytes"):
        read_text("-")
    assert endless.served <= MAX_BYTES + 1 + io.DEFAULT_BUFFER_SIZE


def test_a_file_is_read_only_to_the_limit(tmp_path: Path) -> None:
    """A FIFO shows how much was read: the writer can only get ahead by the pipe's buffer."""
    from summarizer.source import MAX_BYTES, read_text

    fifo = tmp_path / "article.txt"
    os.mkfifo(fifo)
    written = [0]

    def feed() -> None:
        with open(fifo, "wb", buffering=0) as pipe:
            chunk = b"x" * 65536
            try:
                while written[0] < 10 * MAX_BYTES:
                    written[0] += pipe.write(chunk)
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed)
    writer.start()
    with pytest.raises(InputError, match="more than"):
        read_text(str(fifo))
    writer.join()
    assert written[0] < MAX_BYTES + 4 * 65536 + (1 << 20)  # the pipe buffer, at most 1 MiB


def test_an_overlong_line_is_an_error_record_and_reading_goes_on(tmp_path: Path) -> None:
    huge = "x" * (inputs.LINE_LIMIT + 10)
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        json.dumps({"id": "big", "text": huge}) + "\n" + '{"id": "b", "text": "Talks."}\n'
    )
    items = _items(jsonl)
    assert isinstance(items[0], ErrorRecord) and "longer than" in items[0].message
    assert items[0].id == f"{jsonl}:1" and isinstance(items[1], Article)
    csv_path = tmp_path / "in.csv"
    csv_path.write_text(f"id,text\nbig,{huge}\nb,Talks.\n")
    items = _items(csv_path)
    assert isinstance(items[0], ErrorRecord) and "longer than" in items[0].message
    assert isinstance(items[1], Article) and items[1].key == "b"
    assert inputs.count([str(jsonl)]) == inputs.count([str(csv_path)]) == 2


# ---------------------------------------------------------------- item 2: one job per output


def _summarizer(*args: str, **popen: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENAI_API_KEY": TEST_KEY}
    command = [sys.executable, "-m", "summarizer", *args]
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, **popen)


def _holding(job: subprocess.Popen[bytes], out: Path) -> None:
    """Wait until ``job`` holds the lock on ``out`` (its pid is in the lock file)."""
    lock = lock_path(out)
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().strip() == str(job.pid)):
        assert job.poll() is None, job.stderr.read() if job.stderr else ""
        assert time.monotonic() < deadline, "the first job never took the lock"
        time.sleep(0.05)


def test_a_second_job_on_the_same_output_is_refused_or_waits_even_for_a_killed_one(
    tmp_path: Path, offline: None, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    import fcntl

    out = tmp_path / "out.jsonl"
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": " "}\n', encoding="utf-8")
    args = ["batch", str(source), "-o", str(out), *NO_MODEL]
    blocked, real_flock = threading.Event(), fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if not operation & fcntl.LOCK_NB:
            blocked.set()  # the waiting job is about to block
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    # The first job reads stdin, which stays open: it holds the output until it is killed.
    first = _summarizer("batch", "-", "-o", str(out), *NO_MODEL, stdin=subprocess.PIPE)
    waited: list[Any] = []
    waiter = threading.Thread(target=lambda: waited.append(runner.invoke(app, [*args, "--wait"])))
    try:
        _holding(first, out)
        refused = runner.invoke(app, args)
        _one_line_error(refused, f"pid {first.pid}")
        assert "--wait" in refused.stderr and not errors_path(out).read_text()

        waiter.start()
        assert blocked.wait(timeout=120)
        first.send_signal(signal.SIGKILL)  # no clean-up: the kernel alone lets go of the lock
        first.wait(timeout=120)
        waiter.join(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert f"in use by another batch job (pid {first.pid}); waiting" in caplog.text
    assert waited and waited[0].exit_code == 1, waited  # its one error record, written once
    assert [json.loads(x)["id"] for x in errors_path(out).read_text().splitlines()] == ["a"]
    assert not lock_path(out).exists()  # a job that ends removes its lock file
    again = runner.invoke(app, args)  # and the next one finds the output free
    assert again.exit_code == 1 and "in use" not in again.output


def test_the_python_api_takes_the_same_lock(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    held = Journal(out)
    try:
        with pytest.raises(InputError, match=f"pid {os.getpid()}"):
            Journal(out)
    finally:
        held.close()
    Journal(out).close()  # free again once closed


# ------------------------------------------------------------ item 3: output equal to an input


def test_an_output_that_is_an_input_is_refused_before_any_work(
    tmp_path: Path, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.jsonl"
    content = '{"id": "a", "text": "Talks resumed."}\n'
    source.write_text(content, encoding="utf-8")
    (tmp_path / "link.jsonl").symlink_to(source)
    monkeypatch.chdir(tmp_path)
    for output in (str(source), "in.jsonl", "./sub/../in.jsonl", "link.jsonl"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        for extra in ([], ["--restart"]):
            result = runner.invoke(app, ["batch", str(source), "-o", output, *extra, *NO_MODEL])
            _one_line_error(result, "is the job's own file")
    errors_input = tmp_path / "out.errors.jsonl"
    errors_input.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["batch", str(errors_input), "-o", "out.jsonl", *NO_MODEL])
    _one_line_error(result, "is the job's own file")
    (tmp_path / "docs").mkdir()
    result = runner.invoke(app, ["batch", "docs", "-o", "docs/sub/out.txt", *NO_MODEL])
    _one_line_error(result, "inside the input folder docs")
    out = tmp_path / "out.jsonl"
    out.write_text("")
    with out.open("rb") as redirected:  # summarizer batch - -o out.jsonl < out.jsonl
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(redirected))
        assert inputs.check(["-"]) == ["-"]
        with pytest.raises(InputError, match="input - is the job's own file"):
            inputs.check(["-"], out)
    assert source.read_text() == content and errors_input.read_text() == content


# ------------------------------------------------------------- item 17: one line, never a trace


def test_closed_stdin_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from summarizer.source import read_text

    monkeypatch.setattr(sys, "stdin", None)  # what Python sets when fd 0 was closed at start
    for call in (lambda: read_text("-"), lambda: inputs.check(["-"])):
        with pytest.raises(InputError, match="standard input is closed"):
            call()
    job = _summarizer(  # Python sets sys.stdin to None when it starts with fd 0 closed
        "batch", "-", "-o", "out.jsonl", *NO_MODEL, cwd=tmp_path, preexec_fn=lambda: os.close(0)
    )
    _, err = job.communicate(timeout=120)
    assert job.returncode == 2, err
    assert err.decode() == "error: cannot read -: standard input is closed\n"


def test_an_output_that_cannot_be_written_is_one_line(tmp_path: Path, offline: None) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": " "}\n', encoding="utf-8")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for output, needle in [
        (a_file / "out.jsonl", "Not a directory"),
        (Path("/proc/self/no-such/out.jsonl"), "cannot write /proc/"),
    ]:
        result = runner.invoke(app, ["batch", str(source), "-o", str(output), *NO_MODEL])
        _one_line_error(result, needle)


def test_an_unusable_cache_is_one_line(tmp_path: Path, offline: None) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": " "}\n', encoding="utf-8")
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        (tmp_path, "unable to open database file"),
        (corrupt, "file is not a database"),
        (a_file / "cache.sqlite", "Not a directory"),
        (Path("/proc/self/no-such/cache.sqlite"), "No such file or directory"),
    ]
    for n, (cache, needle) in enumerate(cases):
        out = tmp_path / f"out{n}.jsonl"
        args = ["batch", str(source), "-o", str(out), "--base-url", REPLAY_URL]
        result = runner.invoke(app, [*args, "--cache", str(cache)])
        _one_line_error(result, needle)
        assert f"cannot use {cache} as the cache" in result.stderr
        assert not lock_path(out).exists()  # the job let go of its output on the way out


def test_a_damaged_cache_entry_is_a_miss(tmp_path: Path) -> None:
    import sqlite3

    cache = Cache(tmp_path / "c.sqlite")
    cache.close()
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute("INSERT INTO analyses VALUES ('k', x'00ff')")
    cache = Cache(tmp_path / "c.sqlite")
    assert cache.get("k", Article(text="x")) is None
    cache.close()


def test_a_failed_output_write_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from summarizer.batch import journal as journal_module

    journal = Journal(tmp_path / "out.jsonl")

    def full(self: Any, line: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module.AppendLog, "append", full)
    try:
        with pytest.raises(InputError, match="No space left on device; run the same command"):
            journal.write(ErrorRecord(id="a", code="bad_input", message="m"))
    finally:
        journal.close()
