"""The GVC sample (tests/data/gvc, 25 articles of 11 incidents) through ``summarizer batch``.

The model answers are the scripted answers ``tests/derive_gvc.py`` derives from the gold incident
and the article (``tests/data/gvc/responses/gvc-*.json``); the exchanges are recorded in
``cassettes/test_gvc_pipeline/`` (record: ``pytest tests/test_gvc_pipeline.py
--record-mode=rewrite``, which serves the sample from a scripted server of its own).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
from conftest import DATA, REPLAY_URL, ROOT, TEST_KEY, all_spans
from scripted_server import Fixture, ScriptedServer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from derive_gvc import (
    check_answer,
    derive,
    derive_all,
    fatalities,
    incident_date,
    place,
    read_jsonl,
    resolve_expression,
)

from summarizer import prompts
from summarizer.cli import app
from summarizer.schema import ArticleAnalysis
from summarizer.source import make_article

SAMPLE = DATA / "gvc"
RESPONSES = SAMPLE / "responses"
runner = CliRunner()


def sample() -> list[dict[str, Any]]:
    return list(read_jsonl(SAMPLE / "articles.jsonl"))


def answer(article_id: str) -> dict[str, Any]:
    return json.loads((RESPONSES / f"gvc-{article_id}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def gvc_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A scripted server holding the sample while recording; a dead address during replay."""
    if request.config.getoption("--record-mode") in (None, "none"):
        yield REPLAY_URL
        return
    fixtures = [Fixture(f"gvc-{a['id']}", a["text"], answer(a["id"])) for a in sample()]
    with ScriptedServer(fixtures) as server:
        yield server.url


def run_batch(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> list[ArticleAnalysis]:
    """``summarizer batch`` over the sample; the records in input order."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("SUMMARIZER_TRANSPORT_RETRIES", "0")
    source = tmp_path / "gvc.jsonl"
    fields = ("id", "title", "published", "url", "text")
    source.write_text(
        "".join(json.dumps({k: a[k] for k in fields}) + "\n" for a in sample()), encoding="utf-8"
    )
    out = tmp_path / "records.jsonl"
    args = ["batch", str(source), "-o", str(out), "--base-url", url, "--no-cache"]
    result = runner.invoke(app, [*args, "--concurrency", "4"])
    assert result.exit_code == 0, result.output
    by_id = {
        r.article.id: r
        for r in map(ArticleAnalysis.model_validate_json, out.read_text().splitlines())
    }
    return [by_id[a["id"]] for a in sample()]


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_batch_over_the_gvc_sample_gives_valid_exact_records(
    tmp_path: Path, gvc_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = run_batch(tmp_path, gvc_url, monkeypatch)

    assert len(records) == 25
    for article, record in zip(sample(), records, strict=True):
        text = article["text"]
        assert record.validation.ok, (article["id"], record.validation.issues)
        assert record.validation.alignment["exact"] > 0
        assert record.validation.alignment["normalized"] == 0
        assert record.validation.alignment["fuzzy"] == record.validation.alignment["unaligned"] == 0
        assert all(text[s.start : s.end] == s.text for s in all_spans(record))
        assert record.article.published == dt.date.fromisoformat(article["published"])
        derived = answer(article["id"])
        assert [e.plover for e in record.events] == [e["plover"] for e in derived["events"]]
        e1 = record.events[0]
        assert e1.id == "e1" and e1.plover == "ASSAULT" and e1.acled_event_type is None
        assert e1.date.anchor == record.article.published
        assert str(e1.date.resolved) == str(derived["events"][0]["date"]["resolved"])
    follow_ups = [r for r in records if len(r.events) == 2]
    assert len(follow_ups) == 6
    assert {r.events[1].plover for r in follow_ups} == {"ACCUSE", "SANCTION"}


def test_the_committed_answers_are_what_the_script_derives() -> None:
    incidents = {i["incident_id"]: i for i in read_jsonl(SAMPLE / "incidents.jsonl")}
    for article in sample():
        derived = derive(article, incidents[article["incident_id"]])
        assert derived == answer(article["id"]), article["id"]
        assert check_answer(derived, article) == []


def test_dates_resolve_as_the_article_writes_them() -> None:
    published = dt.date(2016, 6, 20)  # a Monday
    assert resolve_expression("Saturday night", published) == dt.date(2016, 6, 18)
    assert resolve_expression("Monday", published) == published
    assert resolve_expression("yesterday", published) == dt.date(2016, 6, 19)
    assert resolve_expression("Dec. 5", published) == dt.date(2015, 12, 5)  # not in the future
    text = "Police said the shooting happened Saturday night. The boy died Sunday."
    # GVA dates it Sunday (after midnight): the article's Saturday is kept, one day off
    assert incident_date(text, published, dt.date(2016, 6, 19))["text"] == "Sunday"
    assert incident_date(text, published, dt.date(2016, 6, 18))["text"] == "Saturday night"
    late = incident_date(text, dt.date(2016, 8, 1), dt.date(2016, 6, 18))
    assert late == {"text": None, "resolved": None, "precision": "unknown"}


def test_fatalities_do_not_read_ages_as_death_counts() -> None:
    got = fatalities("A man shot and killed his 4-year-old daughter on Friday.", 1)
    assert (got["min"], got["text"]) == (1, "killed")
    assert fatalities("Two people were killed and three hurt.", 2)["text"] == (
        "Two people were killed"
    )
    assert fatalities("The boy, 15, was wounded.", 1) == {
        "min": 0,
        "max": 0,
        "estimated": False,
        "text": None,
    }


def test_the_place_is_written_as_the_article_writes_it() -> None:
    where = place("Police in St. Paul said...", {"city_or_county": "Saint Paul", "state": "MN"})
    assert where == {"text": "St. Paul", "country": "USA", "admin1": "MN"}
    text = "A Marion County deputy said the boy lived in Marion, near Jefferson."
    assert place(text, {"city_or_county": "Marion (county)"})["text"] == "Marion County"
    assert place("Nothing here.", {"city_or_county": "Rome", "state": "Georgia"}) is None


@pytest.mark.parametrize(
    ("text", "city", "state", "written"),
    [  # the dateline's capitals before the state's name written later
        ("NEW STANTON, Pa. - Pennsylvania police said", "New Stanton", "Pennsylvania",
         "NEW STANTON"),
        ("A boy died in Franklin Township Sunday.", "Franklin", "Michigan", "Franklin Township"),
        # a county of another state is not the incident's place; the state is
        ("In Arkansas two boys died. Guest: the prosecutor for Butler County, Ohio.",
         "Little Rock", "Arkansas", "Arkansas"),
        ("Six Miami-Dade County Public Schools students were shot.", "Miami", "Florida",
         "Miami-Dade County"),
        ("The Mesa County Sheriff's office said a hunter was shot.", "Cedaredge", "Colorado",
         "Mesa County"),
        ("A St. Lucie County deputy said.", "Fort Pierce", "Florida", "St. Lucie County"),
        # no GVA name and no county: the city whose police the article names
        ("Riviera Beach Police said the girl found a gun.", "West Palm Beach", "Florida",
         "Riviera Beach"),
        ("Chicago police said a man was shot.", "West Palm Beach", "Florida", None),
    ],
)  # fmt: skip
def test_the_place_is_the_incidents_as_the_article_writes_it(
    text: str, city: str, state: str, written: str | None
) -> None:
    where = place(text, {"city_or_county": city, "state": state})
    assert (where and where["text"]) == written


def test_the_benchmark_server_finds_answers_by_article_text_and_title() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from resolve_gvc import IndexedServer

    text = "The same wire story.\n\nPrinted twice."
    fixtures = [Fixture("a", text, {"n": 1}), Fixture("b", text, {"n": 2}), Fixture("c", "x y", {})]
    server = IndexedServer(fixtures, {"a": "First title", "b": "Second title", "c": ""})
    try:

        def asked(title: str, body: str) -> str:  # the user message the pipeline sends
            context = prompts.context(make_article(body, title=title or None))
            prompt = jinja2.Template(prompts.load().user_template).render(**context)
            return server._find_fixture([{"role": "user", "content": prompt}]).id

        assert asked("Second title", "The same  wire story.\nPrinted twice.") == "b"
        assert asked("First title", text) == "a"
        assert asked("", "x y") == "c"
    finally:
        server.stop()


def test_an_unusable_article_is_reported_not_fatal(tmp_path: Path) -> None:
    good = sample()[0]
    lines = [good, {"id": "empty", "text": "", "incident_id": "none", "published": "2016-01-01"}]
    (tmp_path / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in lines))
    incidents = (SAMPLE / "incidents.jsonl").read_text(encoding="utf-8")
    (tmp_path / "incidents.jsonl").write_text(incidents, encoding="utf-8")
    results = list(derive_all(tmp_path))
    assert (results[0][0]["id"], results[0][2]) == (good["id"], [])
    assert results[1][1] == {} and results[1][2][0].startswith("cannot derive an answer")
