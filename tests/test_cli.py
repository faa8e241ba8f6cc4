"""The command line: one-line errors with documented exit codes, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TEST_KEY, load_example, one_line_error
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.source import MAX_CHARS

SEED_TEXT, SEED_META = load_example("centcom-strikes-iraq")
runner = CliRunner()


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_run_prints_json(tmp_path: Path, configured: list[str]) -> None:
    path = tmp_path / "article.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    args = ["run", str(path), "--published", "2020-03-13", "--id", "centcom-strikes-iraq"]
    result = runner.invoke(app, args + configured)

    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["article"]["id"] == "centcom-strikes-iraq"
    assert record["validation"]["ok"] is True
    assert {e["date"]["resolved"] for e in record["events"]} >= {"2020-03-13", "2020-03-11"}


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_run_reads_stdin_and_writes_markdown(tmp_path: Path, configured: list[str]) -> None:
    out = tmp_path / "out.md"
    args = ["run", "-", "--published", "2020-03-13", "--format", "markdown", "-o", str(out)]
    result = runner.invoke(app, args + configured, input=SEED_TEXT)

    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "## Events (7)" in text and "2020-03-11" in text and "McKenzie" in text
    assert result.stdout == ""


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_model_failure_exits_1(tmp_path: Path, configured: list[str]) -> None:
    path = tmp_path / "article.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    args = ["run", str(path), "--published", "2020-03-13", "--model", "openai/broken-json"]
    result = runner.invoke(app, args + configured)
    one_line_error(result, 1, "no valid answer after 3 attempt(s)")
    assert TEST_KEY not in result.output


def test_no_model_configured_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "article.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    one_line_error(runner.invoke(app, ["run", str(path)]), 2, "no model configured")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b" \n\t \n", "empty"),
        (b"caf\xe9 bombing in lima", "not UTF-8"),
        (b"x" * (MAX_CHARS + 1), "limit"),
    ],
    ids=["empty", "whitespace", "undecodable", "too-long"],
)
def test_bad_input_exits_2(
    tmp_path: Path, configured: list[str], content: bytes, needle: str
) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(content)
    one_line_error(runner.invoke(app, ["run", str(path), *configured]), 2, needle)


def test_bad_flags_exit_2(tmp_path: Path, configured: list[str]) -> None:
    path = tmp_path / "article.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    bad_date = runner.invoke(app, ["run", str(path), "--published", "13/03/2020", *configured])
    one_line_error(bad_date, 2, "ISO date")
    bad_mode = runner.invoke(app, ["run", str(path), "--mode", "xml", *configured])
    one_line_error(bad_mode, 2, "invalid setting mode")
    missing = runner.invoke(app, ["run", str(tmp_path / "nope.txt"), *configured])
    one_line_error(missing, 2, "cannot read")


def test_config_masks_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-live-abcdefghijklmnopqrstuvwxyz0123"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert secret not in result.output
    assert shown["api_key"] == "****0123"
    assert shown["resolved"] == {
        "provider": "openai",
        "model": "gpt-4.1-mini",
        "base_url": None,
    }


def test_config_for_a_local_server() -> None:
    result = runner.invoke(app, ["config", "--model", "ollama/qwen2.5:7b"])
    shown = json.loads(result.stdout)
    assert shown["resolved"]["base_url"] == "http://localhost:11434/v1"
    assert shown["resolved"]["model"] == "qwen2.5:7b"


def test_demo_replays_recorded_responses() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "RECORDED" in result.stderr
    assert "## Events (7)" in result.stdout
    assert "Kataib Hezbollah" in result.stdout
    assert result.stdout.count("## Validation") == 2


def test_demo_json() -> None:
    result = runner.invoke(app, ["demo", "--format", "json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["article"]["id"] for r in records] == [
        "centcom-strikes-iraq",
        "mucsum-TST1-MUC3-0001",
    ]
    assert all(r["validation"]["ok"] for r in records)
