"""Shell conventions (issue 11 items 2-5): stdin and ``-o -``, ``--version``, completion, help
without type placeholders, a fast start (heavy libraries imported lazily), configuration errors
for the shell and for Python, and a quiet library."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from conftest import ROOT, TEST_KEY, load_example
from typer.testing import CliRunner

from summarizer import ConfigError, Settings
from summarizer.cli import app
from summarizer.demo import run as run_demo
from summarizer.export import ExportFormat
from summarizer.llm import resolve
from summarizer.settings import env_names

runner = CliRunner()
SEED_TEXT, _ = load_example("centcom-strikes-iraq")
COMMANDS = ["run", "config", "demo", "validate", "export", "eval", "batch", "report"]
HEAVY = ("openai", "instructor", "rouge_score", "nltk", "pyarrow", "vcr")


@pytest.fixture(scope="module")
def records_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's records (replayed from cassettes/demo) as JSONL."""
    path = tmp_path_factory.mktemp("records") / "out.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in run_demo()), encoding="utf-8")
    return path


# ------------------------------------------------------------------------ item 2: stdin, -o -


@pytest.mark.scripted_only
@pytest.mark.vcr(str(ROOT / "cassettes/test_cli/test_run_reads_stdin_and_writes_markdown.yaml"))
def test_run_reads_piped_stdin_without_a_file_and_o_dash_is_stdout(
    tmp_path: Path, configured: list[str]
) -> None:
    """``cat a.txt | summarizer run ... -o -``: the same request as ``run -``, and the result on
    stdout (no file named ``-``)."""
    args = ["run", "--published", "2020-03-13", "--format", "markdown", "-o", "-", *configured]
    result = runner.invoke(app, args, input=SEED_TEXT)

    assert result.exit_code == 0, result.output
    assert "## Events (7)" in result.stdout and "McKenzie" in result.stdout
    assert not (tmp_path / "-").exists()


def test_run_without_a_file_on_a_terminal_is_one_line() -> None:
    main, child = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "summarizer", "run"],
            stdin=child, capture_output=True, text=True, timeout=60,
            env={**os.environ, "OPENAI_API_KEY": TEST_KEY},
        )  # fmt: skip
    finally:
        os.close(main)
        os.close(child)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: give an article FILE, or pipe the text on stdin"


@pytest.mark.parametrize("fmt", [f.value for f in ExportFormat])
def test_export_o_dash_writes_stdout(tmp_path: Path, records_file: Path, fmt: str) -> None:
    result = runner.invoke(app, ["export", str(records_file), "-f", fmt, "-o", "-"])

    assert result.exit_code == 0, result.output
    assert not (tmp_path / "-").exists()
    out = result.stdout_bytes
    if fmt == "plover-jsonl":
        assert [json.loads(line)["event"] for line in out.splitlines()]
    elif fmt == "parquet":
        assert out.startswith(b"PAR1") and out.endswith(b"PAR1")
    else:
        assert out.splitlines()[0].startswith(b"event_id_cnty" if fmt == "acled-csv" else b"")
        assert len(out.splitlines()) > 1
    assert "-> stdout" in result.stderr


def test_report_o_dash_writes_stdout(tmp_path: Path, records_file: Path) -> None:
    source = ROOT / "examples" / "centcom-strikes-iraq.txt"
    args = ["report", str(records_file), "--source", str(source), "-o", "-"]
    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().lower().startswith("<!doctype html")
    assert "McKenzie" in result.stdout
    assert not (tmp_path / "-").exists()


# --------------------------------------------------------------------- item 3: shell conventions


def test_version() -> None:
    from summarizer import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"summarizer {__version__}\n"


def test_shell_completion_is_offered() -> None:
    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="summarizer")
    assert result.exit_code == 0, result.output
    assert "_SUMMARIZER_COMPLETE" in result.stdout


def _help(command: str) -> str:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_type_placeholders_and_explains_every_option(command: str) -> None:
    text = _help(command)
    assert not re.search(r"<(bool|str|int|float|path|list\[[a-z]+\])>", text), text
    assert not re.search(r"\{[a-z_]+\}", text), text
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    for param in click_command.params:
        if not param.hidden:
            assert param.help, f"{command} {param.name} has no help"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_examples_verbatim(command: str) -> None:
    text = _help(command)
    examples = [line for line in text.split("Examples:\n")[1].splitlines() if line.strip()]
    assert examples and all(line.startswith("    ") and "summarizer " in line for line in examples)
    assert all(f"summarizer {command}" in line for line in examples if "|" not in line)


def test_help_names_only_variables_that_are_read() -> None:
    """Every ``[env: ...]`` in help names a variable that really sets that option."""
    read = {name for field in Settings.model_fields for name in env_names(field)}
    read.add("SUMMARIZER_CACHE")  # summarizer.batch.cache.default_path
    shown = set()
    for command in COMMANDS:
        for group in re.findall(r"\[env: ([^\];]+)", " ".join(_help(command).split())):
            shown |= {name.strip() for name in group.split(",")}
    assert shown >= {"SUMMARIZER_MODEL", "SUMMARIZER_BASE_URL", "SUMMARIZER_STRICTNESS"}
    assert shown <= read


def test_documented_poll_option_is_not_hidden() -> None:
    assert "--poll SECONDS" in _help("batch")


def test_export_help_lists_every_format_and_refuses_others(records_file: Path) -> None:
    text = _help("export")
    assert all(f.value in text for f in ExportFormat)
    result = runner.invoke(app, ["export", str(records_file), "-f", "xlsx", "-o", "x.xlsx"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown --format 'xlsx'; use one of acled-csv")


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_run_strictness(tmp_path: Path, configured: list[str]) -> None:
    """``run --strictness``: lenient writes the flagged record (exit 0, a warning); strict writes
    nothing and exits 1 (the same rule as ``SUMMARIZER_STRICTNESS``)."""
    path = tmp_path / "article.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    args = ["run", str(path), "--published", "2020-03-13", "-m", "openai/never-valid", *configured]

    lenient = runner.invoke(app, [*args, "--strictness", "lenient"])
    assert lenient.exit_code == 0, lenient.output
    assert json.loads(lenient.stdout)["validation"]["ok"] is False
    assert lenient.stderr.startswith("warning: ")

    strict = runner.invoke(app, [*args, "--strictness", "strict", "-o", str(tmp_path / "o.json")])
    assert strict.exit_code == 1, strict.output
    assert strict.stderr.startswith("error: ") and len(strict.stderr.splitlines()) == 1
    assert not (tmp_path / "o.json").exists()


# ------------------------------------------------------------------------ item 4: a fast start


def _imported(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return set(done.stdout.split())


def test_help_and_import_load_no_heavy_library() -> None:
    """Not timed (benchmarks/startup.py measures): which modules load is what decides it."""
    help_code = (
        "sys.argv = ['summarizer', '--help']\nimport summarizer.cli\n"
        "try:\n    summarizer.cli.app(prog_name='summarizer')\nexcept SystemExit:\n    pass"
    )
    for code in ("import summarizer.cli", "import summarizer", help_code):
        loaded = _imported(code)
        assert "summarizer.cli" in loaded or "summarizer" in loaded
        assert not loaded & set(HEAVY), (code, loaded & set(HEAVY))


def test_validate_loads_no_model_client(tmp_path: Path, records_file: Path) -> None:
    code = (
        f"sys.argv = ['summarizer', 'validate', {str(records_file)!r}, '--articles', "
        f"{str(ROOT / 'examples')!r}]\nimport summarizer.cli\n"
        "try:\n    summarizer.cli.app(prog_name='summarizer')\nexcept SystemExit:\n    pass"
    )
    loaded = _imported(code)
    assert "summarizer.validate" in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


# ------------------------------------------------------------- item 5: configuration, quietness


def test_config_without_a_model_exits_2_with_the_problem_on_stderr() -> None:
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 2
    shown = json.loads(result.stdout)
    assert shown["resolved"] is None and "no model configured" in shown["problem"]
    line = result.stderr.strip()
    assert line.startswith("error: no model configured") and "\n" not in line
    assert line.endswith("on the command line: --model or --base-url")


def test_config_error_speaks_to_python_callers() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(Settings(_env_file=None))  # type: ignore[call-arg]
    message = str(caught.value)
    assert "--" not in message
    assert "Settings(model='ollama/qwen2.5:7b')" in message and "SUMMARIZER_MODEL" in message
    assert "OPENAI_BASE_URL" in message and "OPENAI_API_KEY" in message
    assert caught.value.fields == ("model", "base_url")


def test_instructor_retry_lines_do_not_reach_a_python_callers_stderr() -> None:
    """With no logging configured, Python's last-resort handler prints instructor's ERROR lines;
    building summarizer's client adds a NullHandler (and changes nothing else)."""
    code = (
        "import logging\nfrom summarizer import Settings\nfrom summarizer.llm import client\n"
        f"client(Settings(_env_file=None, api_key={TEST_KEY!r}))\n"
        "logging.getLogger('instructor.v2.retry').error('API call failed on attempt 1: x')\n"
        "print(logging.getLogger('instructor').level, logging.getLogger().handlers)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() == "0 []"  # no level set, no root handler added


def test_instructor_lines_still_reach_a_configured_application() -> None:
    code = (
        "import logging\nlogging.basicConfig(format='%(message)s')\n"
        "from summarizer import Settings\nfrom summarizer.llm import client\n"
        f"client(Settings(_env_file=None, api_key={TEST_KEY!r}))\n"
        "logging.getLogger('instructor.v2.retry').error('API call failed on attempt 1: x')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.stderr == "API call failed on attempt 1: x\n"


# --------------------------------------------------------------- item 12: reports and exports


def test_python_api_writes_reports_and_exports(tmp_path: Path) -> None:
    import summarizer

    records = run_demo()
    text = (ROOT / "examples" / "centcom-strikes-iraq.txt").read_text(encoding="utf-8")
    page = tmp_path / "r.html"
    assert summarizer.write_report(records, page, texts=[text]) == 1  # the other has no text
    assert "McKenzie" in page.read_text(encoding="utf-8")
    assert summarizer.write_report(records[0], str(page)) == 1

    rows = summarizer.export(records, tmp_path / "e.jsonl", format="plover-jsonl")
    assert rows == sum(len(r.events) for r in records) > 0
    assert len((tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines()) == rows
    assert summarizer.export.ExportFormat is ExportFormat  # still the module, too
    with pytest.raises(ValueError):
        summarizer.export(records, tmp_path / "e.x", format="xlsx")
