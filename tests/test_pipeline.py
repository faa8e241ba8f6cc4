"""End to end through the real openai client and instructor, replayed from cassettes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from conftest import RESPONSES, all_spans, load_example, mucsum_documents
from scripted_server import FABRICATED_SENTENCE

from summarizer import ArticleAnalysis, ModelError, asummarize, summarize
from summarizer.llm import prompt_tokens
from summarizer.prompts import load as load_prompt
from summarizer.schema import Event

SEED_TEXT, SEED_META = load_example("centcom-strikes-iraq")


def _seed(settings: Any) -> ArticleAnalysis:
    return summarize(
        SEED_TEXT,
        published=SEED_META["published"],
        title=SEED_META["title"],
        id=SEED_META["id"],
        settings=settings,
    )


def _event(result: ArticleAnalysis, day: str, plover: str) -> Event:
    found = [e for e in result.events if str(e.date.resolved) == day and e.plover == plover]
    assert found, (
        f"no {plover} event on {day}: {[(e.plover, e.date.resolved) for e in result.events]}"
    )
    return found[0]


def _names(actors: list[Any]) -> str:
    return " | ".join(f"{a.name} {a.evidence.text if a.evidence else ''}" for a in actors)


@pytest.mark.vcr
def test_seed_article_events_quotes_and_summary(make_settings: Any) -> None:
    result = _seed(make_settings())

    assert result.validation.ok, result.validation.issues
    assert result.article.id == "centcom-strikes-iraq"
    assert result.article.published == dt.date(2020, 3, 13)
    strikes = _event(result, "2020-03-13", "ASSAULT")
    assert "Kataib Hezbollah" in _names(strikes.targets)
    assert strikes.acled_sub_event_type == "Air/drone strike"
    assert strikes.date.text == "Friday" and strikes.date.precision == "day"
    taji = _event(result, "2020-03-11", "ASSAULT")
    assert (taji.fatalities.min, taji.fatalities.max) == (3, 3)
    assert taji.location is not None and "Taji" in taji.location.text
    summoning = _event(result, "2020-03-13", "ACCUSE")
    assert {"USA", "GBR"} <= {t.country for t in summoning.targets}
    unami = _event(result, "2020-03-13", "REQUEST")
    assert [a.country for a in unami.actors] == ["UNO"]
    soleimani = _event(result, "2020-01-03", "ASSAULT")
    assert "Soleimani" in _names(soleimani.targets)
    assert soleimani.location is not None and soleimani.location.text == "Baghdad"
    assert any("12 rocket attacks" in s.text for e in result.events for s in e.evidence)

    speakers = {q.speaker.name for q in result.quotes}
    assert any("McKenzie" in s for s in speakers)
    assert any("Sahaf" in s for s in speakers)
    assert any("UNAMI" in s or "United Nations" in s for s in speakers)
    assert 3 <= len(result.summary.bullets) <= 6
    assert all(b.evidence for b in result.summary.bullets)

    spans = all_spans(result)
    assert len(spans) > 50
    assert all(SEED_TEXT[s.start : s.end] == s.text for s in spans)
    assert result.usage.calls == 1 and result.usage.prompt_tokens > 0
    assert result.provenance.prompt_version == load_prompt().version
    assert json.loads(result.model_dump_json())["events"][0]["evidence"][0]["text"]


@pytest.mark.vcr
def test_json_schema_mode_gives_the_same_records(make_settings: Any) -> None:
    result = _seed(make_settings(mode="json_schema"))
    assert result.validation.ok, result.validation.issues
    assert len(result.events) >= 6


@pytest.mark.vcr
@pytest.mark.parametrize("doc_id", sorted(mucsum_documents()))
def test_mucsum_documents_match_their_gold_templates(make_settings: Any, doc_id: str) -> None:
    examples = mucsum_documents()[doc_id]
    text = " ".join(examples[0]["document"])
    result = summarize(text, id=f"mucsum-{doc_id}", settings=make_settings())

    assert result.validation.ok, result.validation.issues
    assert len(result.events) == len(examples)
    mentioned = " | ".join(
        a.evidence.text for e in result.events for a in e.actors + e.targets if a.evidence
    )
    for example in examples:
        template = example["template"]
        for slot in ("perpind", "perporg", "victim", "target"):
            for value in template[slot]:
                if value in text:
                    assert value in mentioned, (slot, value)
    assert all(text[s.start : s.end] == s.text for s in all_spans(result))


@pytest.mark.vcr
def test_async_api(make_settings: Any) -> None:
    _, examples = next(iter(sorted(mucsum_documents().items())))
    text = " ".join(examples[0]["document"])
    result = asyncio.run(asummarize(text, settings=make_settings()))
    assert result.validation.ok
    assert result.article.id.startswith("sha256-")


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_invalid_answer_is_corrected_after_a_reask(make_settings: Any, vcr: Any) -> None:
    result = _seed(make_settings("reask-once"))

    assert result.validation.ok
    assert result.usage.calls == 2
    assert result.usage.cached_tokens > 0
    assert len(vcr.requests) == 2
    reask = vcr.requests[1].body.decode()
    assert "span_unaligned" in reask and FABRICATED_SENTENCE in reask
    assert all(FABRICATED_SENTENCE not in q.text for q in result.quotes)


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_rate_limit_honours_retry_after(
    make_settings: Any, vcr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai._base_client as base_client

    slept: list[float] = []
    monkeypatch.setattr(base_client.time, "sleep", slept.append)
    result = _seed(make_settings("rate-limited", transport_retries=2))

    assert result.validation.ok
    assert [r["status"]["code"] for r in vcr.responses] == [429, 200]
    assert slept == [1.0]  # the server's Retry-After, not the client's own backoff
    assert result.usage.calls == 1  # a transport retry is not a validation re-ask


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_server_error_is_retried_by_the_transport(make_settings: Any, vcr: Any) -> None:
    result = _seed(make_settings("server-error-once", transport_retries=1))
    assert result.validation.ok
    assert [r["status"]["code"] for r in vcr.responses] == [500, 200]


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_never_valid_answer_is_kept_without_the_bad_quote(make_settings: Any) -> None:
    result = _seed(make_settings("never-valid"))

    assert not result.validation.ok
    assert result.usage.calls == 3  # first try + max_retries=2 re-asks
    bad = [i for i in result.validation.issues if i.code == "span_unaligned"]
    assert [i.path for i in bad] == ["quotes[0].text"]
    assert FABRICATED_SENTENCE in bad[0].message
    expected = len(json.loads((RESPONSES / "centcom-strikes-iraq.json").read_text())["quotes"])
    assert len(result.quotes) == expected - 1
    assert result.validation.alignment["unaligned"] == 1


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_token_budget_stops_reasks_early(make_settings: Any) -> None:
    result = _seed(make_settings("never-valid", token_budget=9_000))
    assert result.usage.calls == 2
    assert not result.validation.ok


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_unparseable_answers_raise_with_usage(make_settings: Any) -> None:
    with pytest.raises(ModelError) as caught:
        _seed(make_settings("broken-json"))
    error = caught.value
    assert error.attempts == 3
    assert error.usage.calls == 3 and error.usage.prompt_tokens > 0
    assert "\n" not in str(error) and "Invalid JSON" in str(error)


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_a_broken_last_answer_keeps_the_last_well_formed_one(make_settings: Any) -> None:
    result = _seed(make_settings("broken-reask"))  # attempt 1 well-formed, then broken JSON

    assert result.usage.calls == 3
    assert not result.validation.ok  # attempt 1's answer failed a check: it is flagged
    codes = [i.code for i in result.validation.issues]
    assert "span_unaligned" in codes and "earlier_answer_kept" in codes
    kept = next(i for i in result.validation.issues if i.code == "earlier_answer_kept")
    assert kept.severity == "warning" and "attempt 1" in kept.message
    assert len(result.events) >= 6 and result.summary.bullets


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_a_reply_without_usage_is_counted_here(make_settings: Any, vcr: Any) -> None:
    result = _seed(make_settings("no-usage"))

    assert "usage" not in json.loads(vcr.responses[0]["body"]["string"])
    assert result.validation.ok
    assert result.usage.estimated
    assert result.usage.calls == 1
    sent = json.loads(vcr.requests[0].body)  # counted with tiktoken: what was really sent
    assert result.usage.prompt_tokens == prompt_tokens(sent) > 2_000
    assert result.usage.completion_tokens > 500
