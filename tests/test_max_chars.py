"""``--max-chars`` / ``SUMMARIZER_MAX_CHARS`` is the ceiling every reader applies: a document above
the default is read when the ceiling is raised (``run``, ``batch``: files, JSONL lines, CSV rows),
and one above a lowered ceiling is refused without being read whole.

Before: the readers refused at their own limits derived from the default (5,000,000 characters),
so a raised ceiling was never reached."""

from __future__ import annotations

import csv
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY, one_line_error
from typer.testing import CliRunner

from summarizer import inputs
from summarizer.batch import engine
from summarizer.batch import inputs as batch_inputs
from summarizer.batch.engine import summarize_many
from summarizer.batch.journal import ErrorRecord, errors_path
from summarizer.cli import app
from summarizer.errors import InputError
from summarizer.settings import Settings
from summarizer.source import MAX_CHARS, Article, byte_limit, line_limit

runner = CliRunner()
RAISED = 6_000_000
SENTENCE = "Rebels attacked a police post in Cuzco on Friday, the army said.\n"
LONG = SENTENCE * (MAX_CHARS // len(SENTENCE) + 1)  # just above the default ceiling
DEFAULT_LIMIT = f"the limit is {MAX_CHARS:,} characters (--max-chars)"
MODEL = ["--model", "openai/gpt-4.1-mini"]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "digest.txt"
    path.write_text(LONG, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ run


@pytest.mark.parametrize("how", ["flag", "env"])
def test_run_reads_a_document_above_the_default_under_a_raised_ceiling(
    big: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    assert len(LONG) > MAX_CHARS
    refused = runner.invoke(app, ["run", str(big), "--dry-run", *MODEL])
    one_line_error(refused, 2, DEFAULT_LIMIT)
    if how == "flag":
        raised = ["--max-chars", str(RAISED)]
    else:
        monkeypatch.setenv("SUMMARIZER_MAX_CHARS", str(RAISED))
        raised = []
    result = runner.invoke(app, ["run", str(big), "--dry-run", *MODEL, *raised])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("plan: ") and "chunk(s)" in result.stdout


def test_run_refuses_a_file_above_a_lowered_ceiling_by_its_bytes(big: Path) -> None:
    result = runner.invoke(app, ["run", str(big), "--dry-run", *MODEL, "--max-chars", "1000"])
    line = one_line_error(result, 2, "the limit is 1,000 characters (--max-chars)")
    assert f"more than {byte_limit(1000):,} bytes" in line  # refused before it was read


def test_a_file_above_a_lowered_ceiling_is_not_read_whole(tmp_path: Path) -> None:
    """A FIFO shows how much was read: the writer can only get ahead by the pipe's buffer."""
    fifo = tmp_path / "article.txt"
    os.mkfifo(fifo)
    written = [0]

    def feed() -> None:
        with open(fifo, "wb", buffering=0) as pipe:
            try:
                while written[0] < byte_limit():  # what the default ceiling would read
                    written[0] += pipe.write(b"x" * 65536)
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed)
    writer.start()
    with pytest.raises(InputError, match=f"more than {byte_limit(1000):,} bytes"):
        inputs.read_one(str(fifo), max_chars=1000)
    writer.join()
    assert written[0] < byte_limit(1000) + 4 * 65536 + (1 << 20)  # the pipe buffer, at most 1 MiB


# --------------------------------------------------------------------------------------- readers


def _jsonl(path: Path, *texts: str, ascii: bool = False) -> Path:
    records = ({"id": f"a{n}", "text": text} for n, text in enumerate(texts))
    lines = (json.dumps(record, ensure_ascii=ascii) + "\n" for record in records)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _csv(path: Path, *texts: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text"])
        writer.writerows([f"a{n}", t] for n, t in enumerate(texts))
    return path


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_record_above_the_default_is_read_under_a_raised_ceiling(
    tmp_path: Path, kind: str
) -> None:
    path = (_jsonl if kind == "jsonl" else _csv)(tmp_path / f"in.{kind}", LONG, "Talks resumed.")
    default = list(batch_inputs.read([str(path)]))
    assert isinstance(default[0], ErrorRecord) and DEFAULT_LIMIT in default[0].message
    assert isinstance(default[1], Article)
    raised = list(batch_inputs.read([str(path)], max_chars=RAISED))
    assert [type(item) for item in raised] == [Article, Article]
    assert raised[0].text == LONG  # type: ignore[union-attr]


def test_the_line_and_byte_bounds_follow_a_raised_ceiling(tmp_path: Path) -> None:
    """Characters outside the BMP: 4 bytes each in a file, 12 in a JSON escape, so a record
    just above the default ceiling is more bytes than the default bounds allow."""
    text = "\U0001f600" * (MAX_CHARS + 6000)
    record = _jsonl(tmp_path / "in.jsonl", text, ascii=True)
    assert record.stat().st_size > line_limit()
    (refused,) = inputs.records(str(record))
    assert isinstance(refused[1], inputs.Unreadable) and "longer than" in refused[1].message
    (read,) = inputs.records(str(record), max_chars=RAISED)
    assert isinstance(read[1], Article) and read[1].text == text
    file = tmp_path / "in.txt"
    file.write_text(text, encoding="utf-8")
    assert file.stat().st_size > byte_limit()
    (refused,) = inputs.records(str(file))
    assert isinstance(refused[1], inputs.Unreadable) and "more than" in refused[1].message
    assert inputs.read_one(str(file), max_chars=RAISED).text == text


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_line_above_a_lowered_ceiling_is_an_error_record_and_reading_goes_on(
    tmp_path: Path, kind: str
) -> None:
    path = (_jsonl if kind == "jsonl" else _csv)(tmp_path / f"in.{kind}", "x" * 100_000, "Talks.")
    assert inputs.count([str(path)], max_chars=1000) == 2
    first, second = batch_inputs.read([str(path)], max_chars=1000)
    assert isinstance(first, ErrorRecord)
    assert f"longer than {line_limit(1000):,} bytes" in first.message  # not read whole
    assert "the limit is 1,000 characters (--max-chars)" in first.message
    assert isinstance(second, Article) and second.text == "Talks."


def test_python_records_follow_the_ceiling() -> None:
    over, short = batch_inputs.from_records([{"text": "x" * 20}, "Talks."], max_chars=10)
    assert isinstance(over, ErrorRecord) and "the limit is 10 characters" in over.message
    assert isinstance(short, Article)
    (long,) = batch_inputs.from_records([LONG], max_chars=RAISED)
    assert isinstance(long, Article)


# ----------------------------------------------------------------------------------------- batch


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[Article]:
    """The articles a batch job sends to the model (the model is not called)."""
    seen: list[Article] = []

    async def fake(article: Article, settings: Any, **_: Any) -> Any:
        seen.append(article)
        raise InputError("stop here")

    monkeypatch.setattr(engine, "aanalyze", fake)
    return seen


def test_summarize_many_follows_the_settings_ceiling(analysed: list[Article]) -> None:
    settings = Settings(model="openai/gpt-4.1-mini", api_key=TEST_KEY, max_chars=RAISED)
    (record,) = summarize_many([LONG], settings=settings, cache=False)
    assert isinstance(record, ErrorRecord) and record.message == "stop here"
    assert [len(a.text) for a in analysed] == [len(LONG)]


def test_batch_sends_a_record_above_the_default_to_the_model_under_a_raised_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, analysed: list[Article]
) -> None:
    """The long record reaches the model call (faked here); before, it was an error record."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    source = _jsonl(tmp_path / "in.jsonl", LONG)
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), "-o", str(out), "--no-cache", *MODEL, "--max-chars", str(RAISED)]
    result = runner.invoke(app, args)
    assert [len(a.text) for a in analysed] == [len(LONG)]
    (error,) = (json.loads(line) for line in errors_path(out).read_text().splitlines())
    assert error["id"] == "a0" and error["message"] == "stop here", result.output


@pytest.mark.parametrize("command", ["validate", "report"])
def test_validate_and_report_read_articles_under_the_raised_ceiling(
    command: str, big: Path, tmp_path: Path
) -> None:
    """Articles a job read under a raised ceiling can be re-read to check or show its records."""
    from test_resolve import shooting

    from summarizer.schema import ArticleAnalysis

    records = tmp_path / "out.jsonl"
    rec: ArticleAnalysis = shooting("a", "2020-05-02", "A man was shot in Chicago.")
    records.write_text(rec.model_dump_json() + "\n", encoding="utf-8")
    args = [command, str(records), "--source", str(big)]
    if command == "report":
        args += ["-o", str(tmp_path / "r.html")]
    one_line_error(runner.invoke(app, args), 2, DEFAULT_LIMIT)
    result = runner.invoke(app, [*args, "--max-chars", str(RAISED)])
    assert "the limit is" not in result.output, result.output
    assert result.exit_code in (0, 1), result.output  # read: the record's checks decide
