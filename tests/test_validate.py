"""`summarizer validate` and strict/lenient: stored records re-checked with the pipeline's rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, TEST_KEY, load_example
from typer.testing import CliRunner

from summarizer import ChecksFailed, summarize
from summarizer.cli import app
from summarizer.demo import run as run_demo
from summarizer.llm import Outcome
from summarizer.pipeline import finish
from summarizer.report import _issue_places, render
from summarizer.schema import ArticleAnalysis, Extraction, Issue, Usage
from summarizer.settings import Settings
from summarizer.source import make_article, parse_date
from summarizer.validate import recheck

runner = CliRunner()
EXAMPLES = ROOT / "examples"
SEED_TEXT, SEED_META = load_example("centcom-strikes-iraq")


@pytest.fixture(scope="module")
def records() -> list[ArticleAnalysis]:
    """The demo's records: real pipeline output, replayed from cassettes/demo."""
    return run_demo()


def _write(tmp_path: Path, records: list[ArticleAnalysis], name: str = "out.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    return path


def _validate(*args: str) -> Any:
    return runner.invoke(app, ["validate", *args])


def test_clean_records_exit_0(tmp_path: Path, records: list[ArticleAnalysis]) -> None:
    result = _validate(str(_write(tmp_path, records)), "--articles", str(EXAMPLES))
    assert result.exit_code == 0, result.output
    assert "2 record(s): 2 clean, 0 failed (strict)" in result.stdout


def _tampered(records: list[ArticleAnalysis]) -> ArticleAnalysis:
    bad = records[0].model_copy(deep=True)
    bad.events[0].evidence[0].start += 2
    bad.summary.bullets[0].text += " Tehran denied it."
    return bad


@pytest.mark.parametrize("strictness", ["strict", "lenient"])
def test_record_hiding_errors_fails_in_both_modes(
    tmp_path: Path, records: list[ArticleAnalysis], strictness: str
) -> None:
    path = _write(tmp_path, [_tampered(records), records[1]])
    result = _validate(str(path), "--articles", str(EXAMPLES), "--strictness", strictness)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FAIL    centcom-strikes-iraq  2 error(s)")
    assert "2 not flagged by the record" in lines[0]
    assert "span_mismatch events[0].evidence[0]" in result.stdout
    assert "bullet_unsupported summary.bullets[0]: not in the article: Tehran (name)" in (
        result.stdout
    )
    assert any(line.startswith("ok      mucsum-TST1-MUC3-0001") for line in lines)


def test_flagged_record_fails_only_when_strict(
    tmp_path: Path, records: list[ArticleAnalysis]
) -> None:
    flagged = _tampered(records)
    path = _write(tmp_path, [flagged])
    found = json.loads(_validate(str(path), "--articles", str(EXAMPLES), "-f", "json").stdout)
    flagged.validation.ok = False
    flagged.validation.issues = [Issue(**i) for i in found[0]["issues"]]
    path = _write(tmp_path, [flagged])
    strict = _validate(str(path), "--source", str(EXAMPLES / "centcom-strikes-iraq.txt"))
    assert strict.exit_code == 1
    lenient = _validate(
        str(path), "--source", str(EXAMPLES / "centcom-strikes-iraq.txt"), "--strictness", "lenient"
    )
    assert lenient.exit_code == 0, lenient.output
    assert lenient.stdout.startswith("flagged centcom-strikes-iraq  2 error(s)")


def test_json_report(tmp_path: Path, records: list[ArticleAnalysis]) -> None:
    path = _write(tmp_path, [_tampered(records), records[1]])
    result = _validate(str(path), "--articles", str(EXAMPLES), "--format", "json")
    assert result.exit_code == 1
    shown = json.loads(result.stdout)
    assert [(r["id"], r["failed"], r["errors"]) for r in shown] == [
        ("centcom-strikes-iraq", True, 2),
        ("mucsum-TST1-MUC3-0001", False, 0),
    ]
    assert {i["code"] for i in shown[0]["issues"]} == {"span_mismatch", "bullet_unsupported"}


def test_record_against_another_text_is_a_source_mismatch(
    tmp_path: Path, records: list[ArticleAnalysis]
) -> None:
    path = tmp_path / "record.json"
    path.write_text(records[0].model_dump_json(), encoding="utf-8")
    other = EXAMPLES / "mucsum-TST1-MUC3-0001.txt"
    result = _validate(str(path), "--source", str(other))
    assert result.exit_code == 1
    assert (
        "source_mismatch article.text_sha256: no given text: the record was made from"
        in result.stdout
    )


def test_batch_input_jsonl_gives_the_texts(tmp_path: Path, records: list[ArticleAnalysis]) -> None:
    batch = tmp_path / "input.jsonl"
    batch.write_text(json.dumps({"id": "a", "text": SEED_TEXT}) + "\n", encoding="utf-8")
    result = _validate(str(_write(tmp_path, records)), "--articles", str(batch))
    assert result.exit_code == 1  # the MUCSUM record's text is not in the batch input
    assert result.stdout.startswith("ok      centcom-strikes-iraq")
    assert "source_mismatch article.text_sha256: no given text" in result.stdout


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        ('{"not": "a record"}', ["--articles", str(EXAMPLES)], "not an ArticleAnalysis record"),
        ("{broken\n", ["--articles", str(EXAMPLES)], "line 1: not JSON"),
        ("", ["--articles", str(EXAMPLES)], "holds no record"),
        ("{}", [], "exactly one of --source"),
        ("{}", ["--source", "a.txt", "--articles", "b.jsonl"], "exactly one of --source"),
        ("{}", ["--source", "missing.txt"], "cannot read"),
    ],
    ids=["not-a-record", "not-json", "empty", "no-source", "two-sources", "missing-source"],
)
def test_bad_input_exits_2(tmp_path: Path, content: str, args: list[str], needle: str) -> None:
    path = tmp_path / "records.json"
    path.write_text(content, encoding="utf-8")
    result = _validate(str(path), *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip().startswith("error: ") and needle in result.stderr


def test_missing_records_file_exits_2(tmp_path: Path) -> None:
    result = _validate(str(tmp_path / "nope.jsonl"), "--articles", str(EXAMPLES))
    assert result.exit_code == 2 and "cannot read" in result.stderr


# --------------------------------------------------------------------------- strict pipeline


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_strict_mode_fails_the_article(make_settings: Any) -> None:
    settings = make_settings("never-valid", strictness="strict")
    with pytest.raises(
        ChecksFailed, match=r"span_unaligned.*strict mode keeps no record"
    ) as raised:
        summarize(SEED_TEXT, published=SEED_META["published"], settings=settings)
    assert raised.value.exit_code == 1
    kept = raised.value.analysis
    assert isinstance(kept, ArticleAnalysis) and not kept.validation.ok


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_lenient_mode_keeps_the_flagged_record(make_settings: Any) -> None:
    settings = make_settings("never-valid", strictness="lenient")
    result = summarize(SEED_TEXT, published=SEED_META["published"], settings=settings)
    assert not result.validation.ok
    assert [i.code for i in result.validation.issues if i.severity == "error"] == ["span_unaligned"]


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_cli_strict_run_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scripted_url: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("SUMMARIZER_TRANSPORT_RETRIES", "0")
    monkeypatch.setenv("SUMMARIZER_STRICTNESS", "strict")
    path = tmp_path / "article.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    args = ["run", str(path), "--published", "2020-03-13", "--model", "openai/never-valid"]
    result = runner.invoke(app, [*args, "--base-url", scripted_url])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "strict mode keeps no record" in lines[0]


# --------------------------------------------------------------------------- stable item ids


def _record_with_dropped_quote() -> ArticleAnalysis:
    """The pipeline's record of the seed answer whose first quotation is invented: grounding
    drops it, so the record's first quote is the answer's second."""
    answer = json.loads((ROOT / "tests" / "responses" / "centcom-strikes-iraq.json").read_text())
    answer["quotes"][0]["text"] = "We will never negotiate with anyone, ever."
    article = make_article(SEED_TEXT, id="seed", published=parse_date(SEED_META["published"]))
    outcome = Outcome(value=Extraction.model_validate(answer), usage=Usage())
    settings = Settings(_env_file=None, model="openai/test", api_key=TEST_KEY)  # type: ignore[call-arg]
    return finish(article, settings, outcome)


def test_a_dropped_quote_keeps_its_id_and_its_issue_names_it() -> None:
    record = _record_with_dropped_quote()
    assert not record.validation.ok
    [issue] = [i for i in record.validation.issues if i.is_error]
    assert (issue.code, issue.path, issue.item) == ("span_unaligned", "quotes[0].text", "q1")
    assert [q.id for q in record.quotes][:2] == ["q2", "q3"]  # q1 was left out, nothing renumbered
    assert [b.id for b in record.summary.bullets][:2] == ["b1", "b2"]


def test_the_report_shows_a_dropped_quote_issue_apart_from_the_quote_in_its_place() -> None:
    record = _record_with_dropped_quote()
    placed, general = _issue_places(record)
    assert ("quotes", 0) not in placed  # the record's first quote (q2) is not the one that failed
    assert [(i.code, i.item) for i in general] == [("span_unaligned", "q1")]
    page = render([record], {record.article.text_sha256: SEED_TEXT})
    quotes, other = page.index("<h3>Quotes"), page.index("Other check results")
    assert page.index("span_unaligned") > other > quotes  # not under the quote in its place


def test_a_failed_quote_issue_after_a_dropped_one_names_its_own_quote() -> None:
    record = _record_with_dropped_quote()
    record.quotes[0].speaker.country = "XXX"  # the answer's second quote, the record's first
    issues = recheck(record, SEED_TEXT).issues
    [issue] = [i for i in issues if i.code == "country_unknown"]
    assert (issue.path, issue.item) == ("quotes[1].speaker.country", "q2")


@pytest.mark.parametrize("strictness", ["strict", "lenient"])
def test_validate_agrees_with_the_record_that_failed_itself(
    tmp_path: Path, strictness: str
) -> None:
    path = _write(tmp_path, [_record_with_dropped_quote()])
    result = _validate(str(path), "--source", str(EXAMPLES / "centcom-strikes-iraq.txt"),
                       "--strictness", strictness)  # fmt: skip
    assert result.exit_code == (1 if strictness == "strict" else 0), result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("FAIL    seed" if strictness == "strict" else "flagged seed")
    assert "span_unaligned quotes[0].text" in result.stdout and "(stated by the record)" in (
        result.stdout
    )


@pytest.mark.parametrize("ok", [True, False])
def test_a_verdict_that_contradicts_its_own_issues_fails(tmp_path: Path, ok: bool) -> None:
    record = _record_with_dropped_quote()
    record.validation.ok = ok
    if not ok:
        record.validation.issues = []
    path = _write(tmp_path, [record])
    source = str(EXAMPLES / "centcom-strikes-iraq.txt")
    result = _validate(str(path), "--source", source, "--strictness", "lenient")
    assert result.exit_code == 1, result.output
    assert "validation_inconsistent validation.ok" in result.stdout


def test_records_stored_before_ids_load_with_ids_by_position(
    records: list[ArticleAnalysis],
) -> None:
    data = json.loads(records[0].model_dump_json())
    for item in [*data["quotes"], *data["summary"]["bullets"]]:
        del item["id"]
    for issue in data["validation"]["issues"]:
        del issue["item"]
    data["validation"]["issues"].append(
        {"severity": "error", "path": "quotes[1].text", "code": "x", "message": "m"}
    )
    old = ArticleAnalysis.model_validate(data)
    assert [q.id for q in old.quotes] == [f"q{n}" for n in range(1, len(old.quotes) + 1)]
    assert [b.id for b in old.summary.bullets] == [
        f"b{n}" for n in range(1, len(old.summary.bullets) + 1)
    ]
    assert old.validation.issues[-1].item == "q2"


def test_a_renamed_actor_or_speaker_fails(tmp_path: Path, records: list[ArticleAnalysis]) -> None:
    bad = records[0].model_copy(deep=True)
    target = next(t for e in bad.events for t in e.targets if t.name == "Kataib Hezbollah")
    target.name = "Shining Path"  # its evidence still reads 'Kataib Hezbollah'
    speaker = next(q.speaker for q in bad.quotes if q.speaker.name == "Ahmed al-Sahaf")
    speaker.name = "Kenneth F. McKenzie Jr."
    result = _validate(str(_write(tmp_path, [bad])), "--articles", str(EXAMPLES))
    assert result.exit_code == 1, result.output
    assert result.stdout.count("name_unsupported") == 2
    assert "'Shining Path' is not what its evidence 'Kataib Hezbollah' names" in result.stdout
