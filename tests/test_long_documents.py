"""Long documents: the context budget, truncation by the server, chunked runs and their plan."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from conftest import RESPONSES, ROOT, TEST_KEY, all_spans, load_example, one_line_error
from scripted_server import NUM_CTX
from typer.testing import CliRunner

from summarizer import ArticleAnalysis, ModelError, analyze, chunking, summarize
from summarizer.errors import PromptTruncated
from summarizer.llm import context_window
from summarizer.settings import Settings
from summarizer.source import Article, make_article

SEED_TEXT, SEED_META = load_example("centcom-strikes-iraq")
runner = CliRunner()


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_a_server_that_cuts_the_prompt_is_an_error_naming_the_fix(make_settings: Any) -> None:
    settings = make_settings("scripted-truncated-context")
    with pytest.raises(PromptTruncated) as caught:
        summarize(SEED_TEXT, published=SEED_META["published"], settings=settings)
    message = str(caught.value)
    assert f"read {NUM_CTX:,} of" in message
    assert "num_ctx" in message and "--context-window" in message
    assert caught.value.usage.prompt_tokens == NUM_CTX  # the call is still accounted


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_run_reports_a_cut_prompt_as_one_line_exit_1(tmp_path: Path, configured: list[str]) -> None:
    from summarizer.cli import app

    path = tmp_path / "article.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    args = ["run", str(path), "--published", "2020-03-13", *configured]
    result = runner.invoke(app, [*args, "--model", "openai/scripted-truncated-context"])
    one_line_error(result, 1, "num_ctx")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("model", "tokens"),
    [
        ("openai/gpt-4.1-mini", 1_047_576),
        ("openai/gpt-4o-2024-08-06", 128_000),
        ("ollama/qwen2.5:7b", 4096),
        ("vllm/qwen", 32_768),  # a window that holds the instructions and an answer
        ("llamacpp/qwen", 32_768),
    ],
)
def test_context_window_defaults_per_provider(model: str, tokens: int) -> None:
    settings = Settings(_env_file=None, model=model, api_key=TEST_KEY)  # type: ignore[call-arg]
    assert context_window(settings)[0] == tokens
    given = Settings(_env_file=None, model=model, api_key=TEST_KEY, context_window=32_768)  # type: ignore[call-arg]
    assert context_window(given) == (32_768, "--context-window")


def test_context_window_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER_CONTEXT_WINDOW", "16384")
    monkeypatch.setenv("SUMMARIZER_MAX_CHARS", "1000")
    settings = Settings(_env_file=None, model="ollama/x")  # type: ignore[call-arg]
    assert context_window(settings)[0] == 16384 and settings.max_chars == 1000


# ------------------------------------------------------------------ chunked documents

ANSWER_TOKENS = 2000
CHUNK_TOKENS = 180  # about 700 characters: the seed article (2,718) becomes five chunks


def _small_window(make_settings: Any, scenario: str | None = None) -> Settings:
    """Settings whose context window leaves CHUNK_TOKENS for the article."""
    base = make_settings(scenario, max_tokens=ANSWER_TOKENS)
    overhead = chunking.overhead_tokens(_seed_article(), base)
    return make_settings(
        scenario, max_tokens=ANSWER_TOKENS, context_window=overhead + ANSWER_TOKENS + CHUNK_TOKENS
    )


def _seed_article() -> Article:
    return make_article(
        SEED_TEXT, published=SEED_META["published"], title=SEED_META["title"], id=SEED_META["id"]
    )


WHOLE = json.loads((RESPONSES / "centcom-strikes-iraq.json").read_text(encoding="utf-8"))
CHUNKED = [pytest.mark.scripted_only, pytest.mark.default_cassette("chunked_seed.yaml")]


def _chunked(make_settings: Any) -> tuple[ArticleAnalysis, chunking.Plan]:
    settings = _small_window(make_settings)
    return analyze(_seed_article(), settings), chunking.plan(_seed_article(), settings)


@pytest.mark.vcr
@pytest.mark.scripted_only
@pytest.mark.default_cassette("chunked_seed.yaml")
def test_a_long_document_is_one_merged_validated_record(make_settings: Any) -> None:
    record, plan = _chunked(make_settings)
    assert len(plan.chunks) >= 4 and all(c.end > n.start for c, n in pairwise(plan.chunks))
    assert record.validation.ok, [i for i in record.validation.issues if i.is_error]
    assert [i.code for i in record.validation.issues if i.code == "chunked"] == ["chunked"]
    assert plan.calls == len(plan.chunks) + 1  # the chunks and the reduce step
    # no re-ask: the first chunk names a speaker by title only ("CENTCOM Commander"), and whether
    # the name is supported is checked against the whole text (where McKenzie is named)
    assert record.usage.calls == plan.calls
    for span in all_spans(record):  # re-based and checked against the whole text
        assert SEED_TEXT[span.start : span.end] == span.text
    # every event and quotation of the whole-article answer, each once
    assert len(record.events) == len(WHOLE["events"])
    assert len(record.quotes) == len(WHOLE["quotes"])
    assert len({(q.span.start, q.span.end) for q in record.quotes}) == len(record.quotes)
    assert [e.id for e in record.events] == [f"e{i + 1}" for i in range(len(record.events))]
    assert 3 <= len(record.summary.bullets) <= 6 and all(b.evidence for b in record.summary.bullets)


@pytest.mark.vcr
@pytest.mark.scripted_only
@pytest.mark.default_cassette("chunked_seed.yaml")
def test_an_event_split_by_a_chunk_boundary_is_one_event_with_all_its_evidence(
    make_settings: Any,
) -> None:
    record, plan = _chunked(make_settings)
    starts = {s.start for e in record.events for s in e.evidence}

    def chunks_of(start: int) -> set[int]:
        return {k for k, c in enumerate(plan.chunks) if c.start <= start < c.end}

    split = [
        e for e in record.events if len(set().union(*(chunks_of(s.start) for s in e.evidence))) > 1
    ]
    assert split, "no event of the seed article spans a chunk boundary: the test tests nothing"
    for event in split:
        texts = {s.text for s in event.evidence}
        assert any(set(w["evidence"]) == texts for w in WHOLE["events"]), texts
    assert len(starts) == sum(len(e.evidence) for e in record.events)  # no evidence twice


@pytest.mark.vcr
@pytest.mark.scripted_only
@pytest.mark.default_cassette("chunked_seed.yaml")
def test_a_weekday_in_a_later_chunk_resolves_against_the_publication_date(
    make_settings: Any,
) -> None:
    record, plan = _chunked(make_settings)
    later = [e for e in record.events if e.evidence[0].start >= plan.chunks[1].start]
    fridays = [e for e in later if e.date.text == "Friday"]
    assert fridays
    for event in fridays:
        assert event.date.resolved == dt.date(2020, 3, 13) and event.date.anchor == dt.date(
            2020, 3, 13
        )


def test_no_chunk_boundary_falls_inside_a_quotation() -> None:
    quote = "“" + " ".join(["We will hold the line. They will not pass."] * 12) + "”"
    text = "Opening words. " * 20 + quote + " he said. " + "Closing words. " * 20
    chunks = chunking.split(text, 300)
    inside = chunking.quotations(text)
    assert (text.index("“"), text.index("”") + 1) in inside
    for chunk in chunks:
        for lo, hi in inside:
            assert not lo < chunk.start < hi and not lo < chunk.end < hi
    assert any(quote in c.text for c in chunks)  # the long quotation whole, in one chunk
    assert "".join(c.text for c in chunks[:1]) == text[: chunks[0].end]
    covered = sorted((c.start, c.end) for c in chunks)
    assert covered[0][0] == 0 and covered[-1][1] == len(text)
    assert all(a[1] >= b[0] for a, b in pairwise(covered))  # no gap


def test_seed_chunks_cut_at_line_ends_never_in_a_quotation() -> None:
    chunks = chunking.split(SEED_TEXT, 700)
    inside = chunking.quotations(SEED_TEXT)
    assert len(chunks) >= 4
    for chunk in chunks[1:]:
        assert (
            SEED_TEXT[chunk.start - 1] in "\n " and chunk.text == SEED_TEXT[chunk.start : chunk.end]
        )
        assert not any(lo < chunk.start < hi for lo, hi in inside)


@pytest.mark.vcr
@pytest.mark.scripted_only
def test_a_chunk_without_an_answer_fails_the_document_naming_it(make_settings: Any) -> None:
    settings = _small_window(make_settings, "scripted-broken-json")
    with pytest.raises(ModelError) as caught:
        analyze(_seed_article(), settings)
    assert "chunk 1 of" in str(caught.value)
    assert caught.value.usage.calls >= 1


def test_dry_run_prints_the_plan_and_calls_no_model(tmp_path: Path) -> None:
    from summarizer.cli import app

    path = tmp_path / "long.txt"
    path.write_text("\n\n".join([SEED_TEXT] * 40), encoding="utf-8")  # 108,759 characters
    args = ["run", str(path), "--dry-run", "--model", "openai/gpt-4.1-mini", "--context-window"]
    result = runner.invoke(app, [*args, "16384"])
    assert result.exit_code == 0, result.output
    plan = result.stdout
    assert plan.startswith("plan: ") and "tokens counted with tiktoken cl100k_base" in plan
    dollars = float(plan.split("estimated cost: about $")[1].split(" ")[0])
    assert 0 < dollars < 1
    chunks = int(plan.split("plan: ")[1].split(" chunk")[0])
    assert chunks >= 3 and f"{chunks + 1} call(s)" in plan
    assert "context window 16,384: --context-window" in plan


def test_the_default_ollama_window_is_refused_naming_num_ctx(tmp_path: Path) -> None:
    from summarizer.cli import app

    path = tmp_path / "a.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    result = runner.invoke(app, ["run", str(path), "--dry-run", "--model", "ollama/qwen2.5:7b"])
    line = one_line_error(result, 2, "4,096 tokens (Ollama's default num_ctx)")
    assert "OLLAMA_CONTEXT_LENGTH" in line


@pytest.mark.parametrize("model", ["vllm/Qwen/Qwen2.5-7B-Instruct", "llamacpp/any"])
def test_servers_of_unknown_window_run_without_a_flag(tmp_path: Path, model: str) -> None:
    """Only a model string and a base URL: the assumed window holds instructions and answer."""
    from summarizer.cli import app

    path = tmp_path / "a.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    result = runner.invoke(app, ["run", str(path), "--dry-run", "--model", model])
    assert result.exit_code == 0, result.output
    assert "plan: 1 chunk(s)" in result.stderr + result.stdout


def test_max_chars_is_a_ceiling(tmp_path: Path) -> None:
    from summarizer.cli import app

    path = tmp_path / "a.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    args = ["run", str(path), "--dry-run", "--max-chars", "1000"]
    one_line_error(runner.invoke(app, args), 2, "the limit is 1,000")


@pytest.mark.vcr
@pytest.mark.scripted_only
def test_a_batch_job_chunks_a_long_article_and_stays_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any, scripted_url: str
) -> None:
    from summarizer.cli import app

    window = _small_window(make_settings).context_window
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("SUMMARIZER_TRANSPORT_RETRIES", "0")
    monkeypatch.setenv("SUMMARIZER_MAX_TOKENS", str(ANSWER_TOKENS))
    monkeypatch.setenv("SUMMARIZER_CONTEXT_WINDOW", str(window))
    short = (ROOT / "tests/data/articles/mucsum-TST1-MUC3-0036.txt").read_text(encoding="utf-8")
    source = tmp_path / "in.jsonl"
    lines = [
        {"id": "seed", "text": SEED_TEXT, "published": SEED_META["published"]},
        {"id": "short", "text": short},
    ]
    source.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), "-o", str(out), "--base-url", scripted_url, "--no-cache"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    records = [ArticleAnalysis.model_validate_json(x) for x in out.read_text().splitlines()]
    assert sorted(r.article.id for r in records) == ["seed", "short"]  # each exactly once
    seed = next(r for r in records if r.article.id == "seed")
    short_record = next(r for r in records if r.article.id == "short")
    assert any(i.code == "chunked" for i in seed.validation.issues)
    assert not any(i.code == "chunked" for i in short_record.validation.issues)
    assert len(seed.events) == len(WHOLE["events"]) and seed.validation.ok


@pytest.mark.vcr
@pytest.mark.scripted_only
@pytest.mark.default_cassette("chunked_seed.yaml")
def test_merging_keeps_distinct_events_apart(make_settings: Any) -> None:
    record, _ = _chunked(make_settings)
    strikes = next(
        e for e in record.events if str(e.date.resolved) == "2020-03-13" and e.plover == "ASSAULT"
    )
    soleimani = next(e for e in record.events if str(e.date.resolved) == "2020-01-03")
    assert strikes.actors[0].name == soleimani.actors[0].name  # both by the United States
    article = _seed_article()
    assert not chunking.same_event(strikes, soleimani)  # other date, other target
    assert len(chunking.merge_events([[strikes], [soleimani]], article)) == 2
    echo = strikes.model_copy(update={"evidence": strikes.evidence[:1]})
    assert chunking.same_event(strikes, echo)
    # seen in two chunks: one event; twice in one chunk: the model told them apart, two stay
    assert len(chunking.merge_events([[strikes], [echo]], article)) == 1
    assert len(chunking.merge_events([[strikes, echo]], article)) == 2
    far = [[] for _ in range(11)]  # chunks 2 and 10: "10" sorts before "2" as text
    far[2], far[10] = [strikes], [echo]
    assert len(chunking.merge_events(far, article)) == 1
    quotes = chunking.merge_quotes([record.quotes, record.quotes[:3]])
    assert [q.span for q in quotes] == [q.span for q in record.quotes]


@pytest.mark.vcr
@pytest.mark.scripted_only
@pytest.mark.default_cassette("chunked_seed.yaml")
def test_sync_analyze_of_a_long_document_works_inside_a_running_event_loop(
    make_settings: Any,
) -> None:
    async def notebook_cell() -> tuple[ArticleAnalysis, chunking.Plan]:
        return _chunked(make_settings)  # sync code, called where a loop runs (as in Jupyter)

    record, plan = asyncio.run(notebook_cell())
    assert plan.chunked and record.validation.ok


@pytest.mark.vcr
@pytest.mark.scripted_only
@pytest.mark.default_cassette("chunked_seed.yaml")
def test_a_client_made_for_one_document_is_closed_after_it(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunked ``analyze`` makes its own async client; its connections close with the call
    (before: left open, and a later event loop warned "Event loop is closed")."""
    from summarizer import llm

    made: list[Any] = []
    real = llm.client

    def spy(settings: Settings, *, use_async: bool = False) -> Any:
        made.append(real(settings, use_async=use_async))
        return made[-1]

    monkeypatch.setattr(llm, "client", spy)
    record, _ = _chunked(make_settings)
    assert record.validation.ok and len(made) == 1
    assert made[0].client.is_closed()
