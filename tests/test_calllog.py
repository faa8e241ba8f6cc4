"""The call log (``summarizer logs``): every attempt of every call, re-asks included, with model,
endpoint, tokens, latency and record id; no secret stored; off on request; safe when shared."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import TEST_KEY, load_example
from typer.testing import CliRunner

from summarizer import calllog
from summarizer.batch.engine import summarize_many
from summarizer.cli import app

SEED_TEXT, SEED_META = load_example("centcom-strikes-iraq")
runner = CliRunner()


def _log() -> Path:
    return Path(os.environ["SUMMARIZER_LOG_PATH"])  # tmp, set by conftest for every test


def _rows(path: Path | None = None) -> list[dict[str, Any]]:
    return calllog.read(path or _log(), limit=None)


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


@pytest.fixture
def seed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scripted_url: str) -> list[str]:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("SUMMARIZER_TRANSPORT_RETRIES", "0")
    path = tmp_path / "seed.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    return ["run", str(path), "--published", "2020-03-13", "--base-url", scripted_url]


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_run_logs_every_attempt_and_its_reask(seed_run: list[str], scripted_url: str) -> None:
    args = [*seed_run, "--id", "seed<1>", "--model", "openai/reask-once"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output

    rows = _rows()
    assert [(r["record_id"], r["attempt"]) for r in rows] == [("seed<1>", 1), ("seed<1>", 2)]
    assert {r["model"] for r in rows} == {"openai/reask-once"}
    assert {r["endpoint"] for r in rows} == {_host(scripted_url)}
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 for r in rows)
    assert all(r["duration_ms"] is not None and r["duration_ms"] >= 0 for r in rows)
    first, reask = (json.loads(r["request_json"]) for r in rows)
    assert len(reask["messages"]) > len(first["messages"])  # what the model was told again
    assert "span_unaligned" in rows[1]["request_json"]
    assert rows[0]["error"] and "span_unaligned" in rows[0]["error"]  # why attempt 1 failed
    assert rows[1]["error"] is None
    record = json.loads(result.stdout)
    answer = json.loads(rows[1]["response_json"])
    assert answer["choices"][0]["message"]["tool_calls"]  # the raw answer, as the model sent it
    assert sum(r["prompt_tokens"] for r in rows) == record["usage"]["prompt_tokens"]

    stored = b"".join(p.read_bytes() for p in _log().parent.glob("logs.db*"))
    assert TEST_KEY.encode() not in stored and b"authorization" not in stored.lower()

    shown = runner.invoke(app, ["logs", "-n", "0", "--json"])
    assert shown.exit_code == 0, shown.output
    assert [r["attempt"] for r in json.loads(shown.stdout)] == [1, 2]
    text = runner.invoke(app, ["logs", "--id", "seed<1>", "-n", "1"]).stdout
    assert "record seed<1>  attempt 2" in text and "## response" in text
    assert "attempt 1" not in text  # -n 1: the last call only
    assert runner.invoke(app, ["logs", "--id", "other"]).stdout == ""


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_no_log_flag_and_setting_keep_nothing(
    seed_run: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, [*seed_run, "--no-log"]).exit_code == 0
    assert not _log().exists()
    monkeypatch.setenv("SUMMARIZER_LOG", "off")
    assert runner.invoke(app, seed_run).exit_code == 0
    assert not _log().exists()
    result = runner.invoke(app, ["logs"])
    assert result.exit_code == 2 and result.stderr.startswith("error: no call log at")


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_python_api_logs_inside_recording_only_batch_included(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings()
    texts = [{"id": "seed", "text": SEED_TEXT, "published": "2020-03-13"}]
    list(summarize_many(texts, settings=settings, cache=False))
    assert not _log().exists()  # the Python API logs nothing unasked
    path = tmp_path / "batch-log.db"
    with calllog.recording(path):
        records = list(summarize_many(texts, settings=settings, cache=False))
    assert [(r["record_id"], r["attempt"]) for r in _rows(path)] == [("seed", 1)]
    assert _rows(path)[0]["resolved_model"] == records[0].usage.model


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    logs = [calllog.CallLog(path), calllog.CallLog(path)]  # two connections, as two processes

    def write(log: calllog.CallLog, n: int) -> None:
        for i in range(50):
            row = log.add(record_id=f"r{n}-{i}", model="m", attempt=1)
            log.update(row, duration_ms=i)

    threads = [threading.Thread(target=write, args=(logs[n % 2], n)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = _rows(path)
    assert len(rows) == 300 and len({r["record_id"] for r in rows}) == 300
    assert all(r["duration_ms"] is not None for r in rows)
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    for log in logs:
        log.close()


def test_logs_shows_hostile_text_escaped_and_secrets_redacted() -> None:
    log = calllog.CallLog(_log())
    body = {"messages": [{"content": "\x1b]0;owned\x07 text \u202e key sk-live-123456789"}]}
    log.add(record_id="\x1b[31mred", model="m", attempt=1, request_json=calllog.body(body))
    log.close()
    text = runner.invoke(app, ["logs"]).stdout
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[31mred" in text and "sk-live" not in text
    shown = json.loads(runner.invoke(app, ["logs", "--json"]).stdout)
    assert shown[0]["request_json"]["messages"][0]["content"].endswith("key ***")


def test_default_location_is_the_user_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUMMARIZER_LOG_PATH")
    assert calllog.default_path().name == "logs.db"
    assert calllog.default_path().parent.name == "summarizer"
    monkeypatch.setenv("SUMMARIZER_LOG_PATH", "/elsewhere/x.db")
    assert runner.invoke(app, ["logs", "--path"]).stdout == "/elsewhere/x.db\n"


def test_an_unusable_log_path_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUMMARIZER_LOG_PATH", str(tmp_path))  # a folder
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    article = tmp_path / "a.txt"
    article.write_text("Text.", encoding="utf-8")
    result = runner.invoke(app, ["run", str(article)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: cannot use") and "--no-log" in result.stderr


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_batch_logs_only_with_log(seed_run: list[str], tmp_path: Path, scripted_url: str) -> None:
    source = tmp_path / "in.jsonl"
    line = {"id": "b1", "text": SEED_TEXT, "published": "2020-03-13"}
    source.write_text(json.dumps(line) + "\n", encoding="utf-8")
    args = ["batch", str(source), "--no-cache", "--base-url", scripted_url]
    first = runner.invoke(app, [*args, "-o", str(tmp_path / "one.jsonl")])
    assert first.exit_code == 0, first.output
    assert not _log().exists()  # big jobs: no log unless asked
    second = runner.invoke(app, [*args, "-o", str(tmp_path / "two.jsonl"), "--log"])
    assert second.exit_code == 0, second.output
    assert [(r["record_id"], r["attempt"]) for r in _rows()] == [("b1", 1)]
