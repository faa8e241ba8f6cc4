"""The README's code runs as written, so no snippet can rot.

Python: every ```python block runs, unedited, in order and in one namespace (as a reader pastes
them into one session), in a temporary folder that holds ``examples/``. The model is configured
the way the README tells a user to configure it, through the environment (``OPENAI_BASE_URL``,
``OPENAI_API_KEY``); nothing in summarizer is patched. The base URL is the scripted server while
recording (``--record-mode=rewrite``) and a dead address during replay, where every exchange
comes from ``cassettes/test_readme/`` (the network is blocked, as in every test). The batch cache
goes to the temporary folder (``SUMMARIZER_CACHE``), not the home directory.

Shell: every ``summarizer ...`` line of a ```bash block whose command needs no model (``--help``,
``config``, ``validate``, ``export``, ``report``) runs through the CLI in a folder holding the
files those lines name: ``out.jsonl``/``OUT.jsonl`` and ``record.json`` hold the demo's records
(replayed from ``cassettes/demo``), ``input.jsonl`` and ``article.txt`` their article texts.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from conftest import ROOT, TEST_KEY
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.demo import run as run_demo
from summarizer.schema import ArticleAnalysis

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```", re.DOTALL | re.MULTILINE)
NO_MODEL = {"--help", "config", "validate", "export", "report"}


def _blocks(language: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of every block in ``language``."""
    return [
        (README.count("\n", 0, m.start()) + 2, m.group(2))
        for m in BLOCK.finditer(README)
        if m.group(1) == language
    ]


def _commands() -> list[tuple[int, list[str]]]:
    """The README's ``summarizer`` command lines that need no model, as argv lists."""
    found = []
    for line_no, code in _blocks("bash"):
        for offset, line in enumerate(code.splitlines()):
            words = shlex.split(line, comments=True)
            needs_no_model = len(words) > 1 and (words[1] in NO_MODEL or words[-1] == "--help")
            if words[:1] == ["summarizer"] and needs_no_model:
                found.append((line_no + offset, words[1:]))
    return found


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    return tmp_path


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_python_blocks_run(
    folder: Path, monkeypatch: pytest.MonkeyPatch, scripted_url: str, capsys: pytest.CaptureFixture
) -> None:
    blocks = _blocks("python")
    assert len(blocks) >= 3
    monkeypatch.setenv("OPENAI_BASE_URL", scripted_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("SUMMARIZER_TRANSPORT_RETRIES", "0")
    monkeypatch.setenv("SUMMARIZER_CACHE", str(folder / "cache.sqlite"))
    _exports(run_demo(), folder)  # the files the pandas block loads, as `summarizer export` writes
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for line_no, code in blocks:
        exec(compile(code, f"README.md:{line_no}", "exec"), namespace)

    printed = capsys.readouterr().out
    assert "McKenzie" in printed  # the first block's evidence spans
    assert (folder / "report.html").read_text(encoding="utf-8").lower().startswith("<!doctype html")
    assert (folder / "acled.csv").read_text(encoding="utf-8").startswith("event_id_cnty")
    ids = [json.loads(line)["article"]["id"] for line in (folder / "out.jsonl").open()]
    assert sorted(ids) == ["centcom-strikes-iraq", "mucsum-TST1-MUC3-0001"]


def _exports(records: list[ArticleAnalysis], folder: Path) -> None:
    from summarizer.export import ExportFormat, export

    for name, fmt in (("events.csv", "csv"), ("events.parquet", "parquet")):
        export(records, ExportFormat(fmt), folder / name)
    export(records, ExportFormat.plover_jsonl, folder / "events.jsonl")


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("readme")
    records = run_demo()
    lines = "".join(r.model_dump_json() + "\n" for r in records)
    for name in ("out.jsonl", "OUT.jsonl"):
        (here / name).write_text(lines, encoding="utf-8")
    (here / "record.json").write_text(records[0].model_dump_json(), encoding="utf-8")
    texts = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "examples").glob("*.txt")}
    (here / "article.txt").write_text(texts[records[0].article.id], encoding="utf-8")
    rows = [json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()]
    (here / "input.jsonl").write_text("".join(rows), encoding="utf-8")
    (here / "examples").symlink_to(ROOT / "examples")
    return here


def test_shell_lines_that_need_no_model_run(
    fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fixtures)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)  # `summarizer config` shows a usable setup
    commands = _commands()
    assert {argv[0] for _, argv in commands} >= NO_MODEL
    runner = CliRunner()
    for line_no, argv in commands:
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, f"README.md:{line_no}: {argv}\n{result.output}"
    assert (fixtures / "report.html").exists() and (fixtures / "events.csv").exists()
