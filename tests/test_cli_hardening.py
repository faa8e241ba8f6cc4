"""The command line under hostile use (issue 9): outputs that are inputs or cannot be written,
credentials in URLs, control characters in shown data, bad flags and settings, unreadable JSON,
and a closed or full stdout. Each case: one ``error:`` line, a documented exit code, no traceback.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, load_example, one_line_error
from pydantic import ValidationError
from rich.console import Console
from typer.testing import CliRunner

from summarizer.batch.cost import load_prices
from summarizer.batch.engine import Options, Stats
from summarizer.batch.progress import Reporter
from summarizer.cli import app
from summarizer.demo import run as run_demo
from summarizer.errors import InputError, mask_url, printable, redact
from summarizer.schema import ArticleAnalysis
from summarizer.settings import Settings

runner = CliRunner()
SEED_TEXT, _ = load_example("centcom-strikes-iraq")
EXAMPLES = ROOT / "examples"
HOSTILE_ID = "evil\x1b]0;pwned\x07\x1b[2J\x9b31m\u202egnp.exe\x7f"


@pytest.fixture(scope="module")
def records() -> list[ArticleAnalysis]:
    """The demo's records: real pipeline output, replayed from cassettes/demo."""
    return run_demo()


def _article(tmp_path: Path) -> Path:
    path = tmp_path / "article.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    return path


def _jsonl(tmp_path: Path, records: list[ArticleAnalysis], name: str = "out.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    return path


# ------------------------------------------------------------- item 3: the output is an input


def _aliases(path: Path) -> dict[str, Path]:
    """Other names of the same file: another spelling, a symlink and a hard link."""
    (path.parent / "sub").mkdir(exist_ok=True)
    link, hard = path.parent / "link", path.parent / "hard"
    link.symlink_to(path)
    os.link(path, hard)
    return {"same": path, "spelled": path.parent / "sub" / ".." / path.name, "symlink": link,
            "hardlink": hard}  # fmt: skip


@pytest.mark.parametrize("alias", ["same", "spelled", "symlink", "hardlink"])
def test_run_refuses_its_input_as_output(tmp_path: Path, configured: list[str], alias: str) -> None:
    article = _article(tmp_path)
    output = _aliases(article)[alias]
    result = runner.invoke(app, ["run", str(article), "-o", str(output), *configured])
    one_line_error(result, 2, "is the input")
    assert article.read_text(encoding="utf-8") == SEED_TEXT


@pytest.mark.parametrize("alias", ["same", "symlink", "hardlink"])
def test_export_and_report_refuse_their_input_as_output(
    tmp_path: Path, records: list[ArticleAnalysis], alias: str
) -> None:
    saved = _jsonl(tmp_path, records)
    before = saved.read_bytes()
    output = _aliases(saved)[alias]
    export = runner.invoke(app, ["export", str(saved), "-f", "csv", "-o", str(output)])
    one_line_error(export, 2, "is the input")
    report = runner.invoke(app, ["report", str(saved), "-o", str(output)])
    one_line_error(report, 2, "is the input")
    assert saved.read_bytes() == before


def test_report_refuses_its_source_text_as_output(
    tmp_path: Path, records: list[ArticleAnalysis]
) -> None:
    article = _article(tmp_path)
    args = ["report", str(_jsonl(tmp_path, records)), "--source", str(article)]
    one_line_error(runner.invoke(app, [*args, "-o", str(article)]), 2, "is the input")
    assert article.read_text(encoding="utf-8") == SEED_TEXT


# --------------------------------------- item 4: outputs checked before paid calls, results kept


@pytest.mark.parametrize("where", ["missing-folder/out.json", "a-file/out.json", "."])
def test_run_checks_its_output_before_any_model_call(
    tmp_path: Path, configured: list[str], where: str
) -> None:
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    args = ["run", str(_article(tmp_path)), "-o", str(tmp_path / where), *configured]
    # No cassette: a model call would fail on the blocked network instead.
    one_line_error(runner.invoke(app, args), 2, "cannot write")


@pytest.mark.parametrize("flag", ["-o", "--save-records"])
def test_eval_checks_its_outputs_before_any_model_call(
    tmp_path: Path, configured: list[str], flag: str
) -> None:
    args = ["eval", flag, str(tmp_path / "missing" / "x.json"), *configured]
    one_line_error(runner.invoke(app, args), 2, "cannot write")


def _recovered(line: str) -> Path:
    match = re.search(r"saved in (\S+)$", line)
    assert match, line
    path = Path(match.group(1))
    assert path.is_file()
    return path


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_run_keeps_the_paid_result_when_the_output_fails(
    tmp_path: Path, configured: list[str]
) -> None:
    """/dev/full passes the check (it is writable) and fails the write: the result survives."""
    args = ["run", str(_article(tmp_path)), "--published", "2020-03-13", "-o", "/dev/full"]
    line = one_line_error(runner.invoke(app, args + configured), 2, "cannot write /dev/full")
    saved = _recovered(line)
    assert json.loads(saved.read_text(encoding="utf-8"))["article"]["text_sha256"]
    saved.unlink()


def test_eval_keeps_the_scores_when_the_output_fails(
    tmp_path: Path, records: list[ArticleAnalysis]
) -> None:
    args = ["eval", "--records", str(_jsonl(tmp_path, records)), "-o", "/dev/full"]
    line = one_line_error(runner.invoke(app, args), 2, "cannot write /dev/full")
    saved = _recovered(line)
    assert "slots" in json.loads(saved.read_text(encoding="utf-8"))
    saved.unlink()


# ------------------------------------------------------------------ item 8: URL credentials


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:s3cr3t@host:8000/v1", "http://***@host:8000/v1"),
        ("https://s3cr3t@host/v1", "https://***@host/v1"),
        ("https://host/v1?api-key=s3cr3t&x=1", "https://host/v1?api-key=***&x=***"),
        ("https://host/v1#token=s3cr3t", "https://host/v1#token=***"),
        ("https://u:p@ss@host/v1?key=s3cr3t", "https://***@host/v1?key=***"),
        ("http://localhost:8000/v1", "http://localhost:8000/v1"),
        ("http://[::1", "http://[::1"),  # malformed: masked all the same, never raises
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_config_masks_credentials_in_the_base_url() -> None:
    url = "http://analyst:s3cr3t-key@gpu.internal:8000/v1?api-key=s3cr3t-query"
    result = runner.invoke(app, ["config", "--model", "vllm/qwen", "--base-url", url])
    assert result.exit_code == 0, result.output
    assert "s3cr3t" not in result.output
    shown = json.loads(result.stdout)
    assert shown["base_url"] == shown["resolved"]["base_url"]
    assert shown["base_url"] == "http://***@gpu.internal:8000/v1?api-key=***"
    assert "s3cr3t" not in str(Settings(base_url=url).masked())


def test_redact_masks_urls_in_provider_messages() -> None:
    message = "openai/m: provider error (ConnectError): cannot reach http://u:s3cr3t@h/v1?key=k2"
    assert redact(message) == (
        "openai/m: provider error (ConnectError): cannot reach http://***@h/v1?key=***"
    )


# ------------------------------------------------------------- item 12: control characters


def test_printable_escapes_terminal_controls() -> None:
    shown = printable(HOSTILE_ID)
    assert shown == "evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202egnp.exe\\x7f"
    assert printable("Ünïcödé — «ok» 日本") == "Ünïcödé — «ok» 日本"
    assert printable("a\nb\tc\u2028\u2066") == "a\\x0ab\\x09c\\u2028\\u2066"


def _unsafe(text: str) -> list[str]:
    return re.findall(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)


def test_validate_escapes_hostile_ids(tmp_path: Path, records: list[ArticleAnalysis]) -> None:
    hostile = records[0].model_copy(deep=True)
    hostile.article.id = HOSTILE_ID
    saved = _jsonl(tmp_path, [hostile])
    result = runner.invoke(app, ["validate", str(saved), "--articles", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert _unsafe(result.stdout) == []
    assert printable(HOSTILE_ID) in result.stdout
    as_json = runner.invoke(
        app, ["validate", str(saved), "--articles", str(EXAMPLES), "-f", "json"]
    )
    assert json.loads(as_json.stdout)[0]["id"] == HOSTILE_ID  # JSON keeps the value, escaped


def test_error_lines_and_status_lines_escape_hostile_names(
    tmp_path: Path, records: list[ArticleAnalysis]
) -> None:
    missing = runner.invoke(app, ["run", str(tmp_path / f"{HOSTILE_ID}.txt")])
    one_line_error(missing, 2, printable(HOSTILE_ID))
    assert _unsafe(missing.stderr) == []
    output = tmp_path / f"{HOSTILE_ID}.csv"
    args = ["export", str(_jsonl(tmp_path, records)), "-f", "csv", "-o", str(output)]
    export = runner.invoke(app, args)
    assert export.exit_code == 0, export.output
    assert printable(HOSTILE_ID) in export.stderr and _unsafe(export.stderr) == []


def test_batch_summary_shows_hostile_text_as_text() -> None:
    stats = Stats(total=1, stopped=f"provider said [bold red]{HOSTILE_ID}[/]")
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(Reporter(stats, console=console).summary())
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert f"[bold red]{printable(HOSTILE_ID)}[/]" in shown
    assert _unsafe(shown.replace("\n", "")) == []


# ------------------------------------------------------------------------- item 16: bad flags


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--rpm", "0"], "--rpm must be a finite number above 0"),
        (["--rpm", "-5"], "--rpm must be a finite number above 0"),
        (["--tpm", "-1"], "--tpm must be a finite number above 0"),
        (["--tpm", "nan"], "--tpm must be a finite number above 0"),
        (["--max-cost", "nan"], "--max-cost must be a finite number 0 or more"),
        (["--max-cost", "inf"], "--max-cost must be a finite number 0 or more"),
        (["--max-cost", "-1"], "--max-cost must be a finite number 0 or more"),
        (["--max-tokens", "-1"], "--max-tokens must be a finite number 0 or more"),
        (["--concurrency", "-2"], "--concurrency"),
        (["--rpm", "many"], "--rpm"),
    ],
)
def test_batch_refuses_bad_numbers(tmp_path: Path, flags: list[str], needle: str) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": SEED_TEXT}) + "\n", encoding="utf-8")
    args = ["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--model", "ollama/x"]
    one_line_error(runner.invoke(app, [*args, *flags]), 2, needle)
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("name", ["rpm", "tpm", "max_cost", "max_tokens"])
@pytest.mark.parametrize("value", [-1, float("nan"), float("inf")])
def test_options_refuse_bad_numbers_from_python(name: str, value: float) -> None:
    with pytest.raises(InputError, match=f"--{name.replace('_', '-')} must be"):
        Options(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('{"m": {"input": -1, "cached_input": 0, "output": 1}}', "m.input"),
        ('{"m": {"input": 1, "cached_input": NaN, "output": 1}}', "m.cached_input"),
        ('{"m": {"input": 1, "cached_input": 0, "output": Infinity}}', "m.output"),
        ('{"m": {"input": "cheap", "cached_input": 0, "output": 1}}', "m.input"),
        ("[1, 2]", "not a price table"),
        ("[" * 100_000, "not a price table"),
    ],
)
def test_prices_must_be_finite_and_not_negative(tmp_path: Path, table: str, needle: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(table, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(needle)):
        load_prices(path)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": SEED_TEXT}) + "\n", encoding="utf-8")
    args = ["batch", str(source), "-o", str(tmp_path / "o.jsonl"), "--prices", str(path)]
    one_line_error(runner.invoke(app, [*args, "--model", "ollama/x"]), 2, "not a price table")


@pytest.mark.parametrize("value", ["20200313", "2020-W11-5", "2020-3-13", "13/03/2020"])
def test_run_refuses_dates_that_are_not_yyyy_mm_dd(
    tmp_path: Path, configured: list[str], value: str
) -> None:
    args = ["run", str(_article(tmp_path)), "--published", value, *configured]
    one_line_error(runner.invoke(app, args), 2, "--published")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUMMARIZER_STRICTNESS", "paranoid"),
        ("SUMMARIZER_TIMEOUT_S", "-1"),
        ("SUMMARIZER_TEMPERATURE", "nan"),
        ("OPENAI_BASE_URL", "http://[::1"),
    ],
)
def test_a_bad_environment_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    one_line_error(runner.invoke(app, ["config"]), 2, name)


def test_a_bad_dotenv_value_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SUMMARIZER_TIMEOUT_S=soon\n", encoding="utf-8")
    one_line_error(runner.invoke(app, ["run", "x.txt"]), 2, "SUMMARIZER_TIMEOUT_S")


@pytest.mark.parametrize("url", ["http://user:s3cr3t@[::1", "http://h:s3cr3t/v1", "s3cr3t.host"])
def test_bad_base_url_is_one_line_without_its_credentials(tmp_path: Path, url: str) -> None:
    result = runner.invoke(app, ["run", str(_article(tmp_path)), "--base-url", url])
    one_line_error(result, 2, "--base-url")
    assert "s3cr3t" not in result.output
    with pytest.raises(ValidationError) as raised:
        Settings(base_url=url)
    assert "s3cr3t" not in str(raised.value)  # nor in a Python traceback


def _summarizer(*args: str, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "summarizer", *args],
        cwd=cwd,
        capture_output="stdout" not in kwargs,
        stderr=subprocess.PIPE if "stdout" in kwargs else None,
        text=True,
        timeout=120,
        **kwargs,
    )


def test_help_works_whatever_the_environment_holds(tmp_path: Path) -> None:
    """Settings used to be built at import (demo.py): a bad value broke even ``--help``."""
    (tmp_path / ".env").write_text("SUMMARIZER_TIMEOUT_S=soon\n", encoding="utf-8")
    env = os.environ | {"SUMMARIZER_STRICTNESS": "paranoid"}
    result = _summarizer("validate", "--help", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "Re-check stored records" in result.stdout


# ------------------------------------------------------------- item 17: no traceback, one line


@pytest.mark.parametrize("stdout", ["closed", "full"])
def test_closed_or_full_stdout_is_one_line(tmp_path: Path, stdout: str) -> None:
    if stdout == "full":
        with open("/dev/full", "w") as full:
            result = _summarizer("config", cwd=tmp_path, stdout=full)
    else:  # the shell's >&-: the process starts without file descriptor 1
        result = _summarizer("config", cwd=tmp_path, stdout=None, preexec_fn=lambda: os.close(1))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: cannot write stdout")
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr


def _hostile_json(kind: str, name: str) -> str:
    if kind == "deep":
        return "[" * 100_000 + "]" * 100_000
    return '{"article": {"id": "x", "n": ' + "9" * 5000 + "}}"


@pytest.mark.parametrize("name", ["records.json", "records.jsonl"])
@pytest.mark.parametrize("kind", ["deep", "long-int"])
@pytest.mark.parametrize("command", ["validate", "report", "export"])
def test_unreadable_json_is_one_line(tmp_path: Path, command: str, kind: str, name: str) -> None:
    path = tmp_path / name
    path.write_text(_hostile_json(kind, name) + "\n", encoding="utf-8")
    extra = {
        "validate": ["--articles", str(EXAMPLES)],
        "report": ["-o", str(tmp_path / "r.html")],
        "export": ["-f", "csv", "-o", str(tmp_path / "e.csv")],
    }[command]
    needle = "nested too deeply" if kind == "deep" else "digits"
    one_line_error(runner.invoke(app, [command, str(path), *extra]), 2, needle)


@pytest.mark.parametrize("kind", ["deep", "long-int"])
def test_unreadable_article_input_is_one_line(
    tmp_path: Path, records: list[ArticleAnalysis], kind: str
) -> None:
    articles = tmp_path / "input.jsonl"
    articles.write_text(_hostile_json(kind, "x") + "\n", encoding="utf-8")
    args = ["validate", str(_jsonl(tmp_path, records)), "--articles", str(articles)]
    one_line_error(runner.invoke(app, args), 2, "input.jsonl:1")
