"""Batch jobs: input formats, exactly-once output, resume, cache, 429s and budgets.

Model exchanges are cassettes recorded against the scripted server (``cassettes/test_batch/``).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from conftest import DATA, ROOT, TEST_KEY
from typer.testing import CliRunner

from summarizer import ArticleAnalysis, asummarize_many, summarize_many
from summarizer.batch import inputs, limits
from summarizer.batch.engine import Job, Options
from summarizer.batch.journal import ErrorRecord, Journal, errors_path
from summarizer.cli import app
from summarizer.errors import InputError

runner = CliRunner()
MUCSUM = sorted((DATA / "articles").glob("*.txt"))
SEED = (ROOT / "examples" / "centcom-strikes-iraq.txt").read_text(encoding="utf-8")


def _articles(n: int) -> list[dict[str, Any]]:
    return [{"id": p.stem, "text": p.read_text(encoding="utf-8")} for p in MUCSUM[:n]]


def _jsonl(path: Path, records: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ids(output: Path) -> Counter[str]:
    """How often each id occurs across OUT and OUT.errors (exactly-once means all 1)."""
    ids: Counter[str] = Counter()
    for line in output.read_text(encoding="utf-8").splitlines():
        ids[json.loads(line)["article"]["id"]] += 1
    errors = errors_path(output)
    if errors.exists():
        for line in errors.read_text(encoding="utf-8").splitlines():
            ids[json.loads(line)["id"]] += 1
    return ids


def _requests(vcr: Any) -> int:
    """Requests that reached the model so far (recorded while recording, played in replay)."""
    return vcr.play_count + (len(vcr.requests) if vcr.record_mode != "none" else 0)


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, scripted_url: str, tmp_path: Path) -> list[str]:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("SUMMARIZER_TRANSPORT_RETRIES", "0")
    return ["--base-url", scripted_url, "--cache", str(tmp_path / "cache.sqlite")]


# ----------------------------------------------------------------------------------- inputs


def test_each_input_format(tmp_path: Path) -> None:
    text = MUCSUM[0].read_text(encoding="utf-8")
    jsonl = _jsonl(
        tmp_path / "a.jsonl",
        [{"id": 7, "text": text, "published": "1990-01-05", "title": "T", "url": "u"}],
    )
    csv_path = tmp_path / "b.csv"
    csv_path.write_text(
        'id,text,published\ncsv-1,"line one\nline two, with a comma",1990-02-01\n',
        encoding="utf-8",
    )
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "plain.txt").write_text("A bomb exploded in Lima on Monday.", encoding="utf-8")
    (folder / "sub" / "notes.md").write_text("# Notes\n\nTalks resumed.", encoding="utf-8")
    paragraph = "Rebels attacked a police post in Cuzco on Friday, the army said. " * 4
    (folder / "page.html").write_text(
        "<html><head><title>Attack in Cuzco</title>"
        '<meta property="article:published_time" content="2020-03-02"></head>'
        f"<body><nav>Home | World</nav><article><p>{paragraph}</p></article></body></html>",
        encoding="utf-8",
    )
    (folder / "image.png").write_bytes(b"\x89PNG")

    names = inputs.check([str(jsonl), str(csv_path), str(folder)])
    items = list(inputs.read(names))
    assert inputs.count(names) == len(items) == 5
    assert all(not isinstance(i, ErrorRecord) for i in items)
    by_id = {i.key: i for i in items}  # type: ignore[union-attr]
    assert by_id["7"].published is not None and by_id["7"].published.isoformat() == "1990-01-05"
    assert by_id["7"].title == "T" and by_id["7"].text == text
    assert by_id["csv-1"].text == "line one\nline two, with a comma"
    assert by_id["plain"].text.startswith("A bomb")
    assert by_id["sub/notes"].text.startswith("# Notes")
    page = by_id["page"]
    assert page.title == "Attack in Cuzco" and str(page.published) == "2020-03-02"
    assert "police post in Cuzco" in page.text and "Home | World" not in page.text


def test_stdin_is_jsonl(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    data = b'{"text": "A bomb exploded in Lima."}\n\n{"id": "b", "text": "Talks resumed."}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    items = list(inputs.read(inputs.check(["-"])))
    assert [i.key for i in items][1] == "b"  # type: ignore[union-attr]
    assert items[0].key.startswith("sha256-")  # type: ignore[union-attr]
    assert inputs.count(["-"]) is None


def test_malformed_records_become_error_records_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b'{"id": "ok", "text": "Talks resumed."}\n'
        b"{broken\n"
        b"[1, 2]\n"
        b'{"id": "empty", "text": "   "}\n'
        b'{"id": "date", "text": "x", "published": "13/03/2020"}\n'
        b'{"id": "ok", "text": "Another text with the same id."}\n'
        b'{"text": "Talks resumed."}\n'
        b'{"text": "caf\xe9"}\n'
        b'{"title": "no text"}\n'
    )
    items = list(inputs.read([str(path)]))
    errors = {i.id: i for i in items if isinstance(i, ErrorRecord)}
    name = str(path)
    assert [i.key for i in items if not isinstance(i, ErrorRecord)] == ["ok", items[6].key]
    assert (
        errors[f"{name}:2"].code == "bad_input" and "not valid JSON" in errors[f"{name}:2"].message
    )
    assert "expected a JSON object" in errors[f"{name}:3"].message
    assert errors["empty"].source == f"{name}:4" and "empty" in errors["empty"].message
    assert "ISO date" in errors["date"].message
    assert errors[f"{name}:6"].code == "duplicate_id" and f"{name}:1" in errors[f"{name}:6"].message
    assert "not UTF-8" in errors[f"{name}:8"].message
    assert "no 'text'" in errors[f"{name}:9"].message
    assert len(items) == 9  # one item per record: nothing dropped, nothing merged


def test_csv_problems_are_per_row(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b'id,text\na,"fine text"\nb,"x",extra\nc,caf\xe9\nd,""\n')
    items = list(inputs.read([str(path)]))
    assert [type(i).__name__ for i in items] == ["Article", *["ErrorRecord"] * 3]
    messages = [i.message for i in items if isinstance(i, ErrorRecord)]
    assert "more cells" in messages[0] and "not UTF-8" in messages[1] and "empty" in messages[2]
    assert [i.source for i in items if isinstance(i, ErrorRecord)] == [
        f"{path}:3",
        f"{path}:4",
        f"{path}:5",
    ]


# ---------------------------------------------------------------------------------- journal


def test_journal_cuts_a_torn_last_line_and_knows_what_is_done(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    journal = Journal(out)
    journal.write(ErrorRecord(id='we"ird\nid', code="bad_input", message="m"))
    journal.close()
    line = out.read_text().splitlines()[0] if out.read_text() else ""
    assert line == ""  # errors go to the errors file
    errors = errors_path(out)
    assert errors.name == "out.errors.jsonl"
    with errors.open("ab") as handle:
        handle.write(b'{"id":"torn","code":"bad_in')  # a write cut short by kill -9
    journal = Journal(out)
    assert 'we"ird\nid' in journal.done and len(journal.done) == 1
    assert "torn" not in journal.done
    assert errors.read_bytes().endswith(b"}\n") and b"torn" not in errors.read_bytes()
    journal.close()
    assert len(Journal(out, restart=True).done) == 0


def test_retry_errors_takes_out_model_failures_but_keeps_input_errors(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    journal = Journal(out)
    for id, code in [("a", "provider_error"), ("b", "bad_input"), ("c", "invalid_answer")]:
        journal.write(ErrorRecord(id=id, code=code, message="m"))
    journal.close()
    journal = Journal(out)
    assert journal.error_count == 3  # a plain resume keeps them all
    journal.close()

    journal = Journal(out, retry_errors=True)
    assert journal.retried == 2 and journal.error_count == 1
    assert "b" in journal.done and "a" not in journal.done and "c" not in journal.done
    journal.write(ErrorRecord(id="a", code="provider_error", message="again"))
    journal.close()
    assert [json.loads(line)["id"] for line in errors_path(out).read_text().splitlines()] == [
        "b",
        "a",
    ]


def test_an_output_line_this_tool_did_not_write_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"something": "else"}\n')
    with pytest.raises(InputError, match="not a record this tool wrote"):
        Journal(out)
    out.unlink()
    errors_path(out).write_text("[1, 2]\nnot json\n")
    with pytest.raises(InputError, match="not a record this tool wrote"):
        Journal(out, retry_errors=True)


# ----------------------------------------------------------------------------------- limits


class _Response:
    """A 429 as httpx hands it to the response hook."""

    status_code = 429
    headers: ClassVar = {"retry-after-ms": "2500", "retry-after": "3"}

    def __init__(self, sent_at: float, code: str = "rate_limit_exceeded") -> None:
        self.request = SimpleNamespace(extensions={limits.SENT_AT: sent_at})
        self.content = json.dumps({"error": {"code": code}}).encode()

    async def aread(self) -> bytes:
        return self.content


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """limits' monotonic clock, moved by hand (and by its asyncio.sleep)."""
    now = [1000.0]

    async def fake_sleep(seconds: float) -> None:
        now[0] += seconds + 0.001

    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(limits.asyncio, "sleep", fake_sleep)
    return now


def test_a_429_pauses_every_request_of_the_job(clock: list[float]) -> None:
    async def scenario() -> None:
        lim = limits.Limits(concurrency=4)
        start = clock[0]
        await lim.wait_turn(10)
        assert clock[0] == start

        await lim.on_response(_Response(sent_at=clock[0]))
        assert lim.rate_limited == 1 and lim.fatal is None
        await lim.wait_turn(10)  # any request of the job, not only the one that got the 429
        assert clock[0] - start == pytest.approx(2.5, abs=0.01)
        await lim.on_response(_Response(sent_at=clock[0], code="insufficient_quota"))
        assert lim.fatal is not None and "quota" in lim.fatal

    asyncio.run(scenario())


def test_a_429_cuts_the_job_rate_once_per_round_and_it_grows_back(clock: list[float]) -> None:
    async def scenario() -> None:
        lim = limits.Limits(concurrency=32)
        assert lim.rate is None  # no --rpm and no 429 yet: unpaced
        for _ in range(100):  # 10 requests a second for 10 s
            await lim.wait_turn(0)
            clock[0] += 0.1
        assert lim.accepted_rate() == pytest.approx(600, rel=0.02)

        await lim.on_response(_Response(sent_at=clock[0] - 0.5))
        assert lim.rate == pytest.approx(limits.BACKOFF * 600, rel=0.02)
        await lim.on_response(_Response(sent_at=clock[0] - 0.2))  # in flight before the cut
        await lim.on_response(_Response(sent_at=clock[0] + 0.1))  # a quick retry after it
        assert lim.rate_cuts == 1 and lim.rate_limited == 3
        await lim.wait_turn(0)  # waits out the Retry-After, then goes at the cut rate
        cut = lim.rate
        assert cut is not None and lim._pacer is not None
        assert limits._per_minute(lim._pacer) == pytest.approx(cut, rel=0.05)

        clock[0] += limits.CUT_HOLD_S
        await lim.on_response(_Response(sent_at=clock[0]))  # sent well after the cut: cut again
        assert lim.rate_cuts == 2
        again = lim.rate
        assert again is not None and again <= limits.BACKOFF * cut + 1e-6  # of what it sent
        clock[0] += 50
        assert lim.rate == pytest.approx(again * (1 + 50 * limits.RECOVERY), rel=0.01)

    asyncio.run(scenario())


def test_the_providers_stated_limits_become_the_jobs() -> None:
    lim = limits.Limits(concurrency=4, rpm=1000)
    lim.learn({"x-ratelimit-limit-requests": "500", "x-ratelimit-limit-tokens": "200000"})
    assert (lim.rate, lim.tpm) == (500, 200_000)
    assert lim.learned == {"rpm": 500, "tpm": 200_000}
    lim.learn({"x-ratelimit-limit-requests": "900"})  # above what the job keeps: not taken
    lim.learn({"x-ratelimit-limit-requests": "soon", "x-ratelimit-limit-tokens": "0"})
    assert (lim.rate, lim.tpm) == (500, 200_000)


def test_too_few_requests_do_not_cut_and_the_rate_never_grows_past_the_limit(
    clock: list[float],
) -> None:
    async def scenario() -> None:  # unpaced sends: the fake clock stops the event loop's too
        lim = limits.Limits(concurrency=4)
        lim.slow_down(sent_at=None)  # a 429 before anything was sent: only the pause
        assert lim.rate is None and lim.rate_cuts == 0
        for _ in range(limits.MIN_SAMPLE):
            await lim.wait_turn(0)
            lim.slow_down(sent_at=None)  # every one refused: nothing was accepted
        assert lim.rate_cuts == 1 and lim.rate == limits.MIN_RPM
        clock[0] += 1e6
        assert lim.rate is not None and lim.rate > 1e4  # grown back, nothing caps it
        lim.learn({"x-ratelimit-limit-requests": "120"})
        assert lim.rate == 120

    asyncio.run(scenario())


def test_token_estimate_counts_messages_and_schema() -> None:
    body = {
        "messages": [{"role": "system", "content": "hello world"}],
        "tools": [{"type": "function", "function": {"name": "x", "parameters": {}}}],
    }
    small = limits.prompt_tokens(body)
    body["messages"].append({"role": "user", "content": "word " * 400})
    assert limits.prompt_tokens(body) - small == pytest.approx(400, abs=5)


# ------------------------------------------------------------------------- end to end (vcr)


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_retry_errors_analyses_the_failed_articles_again(
    tmp_path: Path, configured: list[str], vcr: Any
) -> None:
    source = _jsonl(tmp_path / "in.jsonl", [*_articles(2), "{not json"])
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), "-o", str(out), "--concurrency", "1", *configured]
    broken = runner.invoke(app, [*args, "--model", "openai/broken-json"])
    assert broken.exit_code == 1 and "3 error record(s)" in broken.stderr
    assert _requests(vcr) == 6  # two articles, three attempts each

    resumed = runner.invoke(app, args)  # a plain resume: the error records are final
    assert resumed.exit_code == 1 and _requests(vcr) == 6

    retried = runner.invoke(app, [*args, "--retry-errors"])
    assert retried.exit_code == 1, retried.output  # the malformed line is still an error
    assert "1 error record(s)" in retried.stderr
    assert re.search(r"error records retried\W+2\b", retried.stderr)
    assert _requests(vcr) == 8
    ids = _ids(out)
    assert set(ids.values()) == {1} and len(ids) == 3
    assert [json.loads(line)["code"] for line in errors_path(out).read_text().splitlines()] == [
        "bad_input"
    ]


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_cli_job_writes_every_id_once_and_a_rerun_calls_no_model(
    tmp_path: Path, configured: list[str], vcr: Any
) -> None:
    source = _jsonl(
        tmp_path / "in.jsonl",
        [*_articles(3), "{oops", {"id": MUCSUM[0].stem, "text": "dup"}, {"id": "e", "text": ""}],
    )
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), "-o", str(out), "--concurrency", "2", *configured]
    first = runner.invoke(app, args)

    assert first.exit_code == 1, first.output  # error records exist
    assert "3 error record(s)" in first.stderr and "batch summary" in first.stderr
    ids = _ids(out)
    assert set(ids.values()) == {1} and len(ids) == 6
    analyses = [ArticleAnalysis.model_validate_json(x) for x in out.read_text().splitlines()]
    assert sorted(a.article.id for a in analyses) == [p.stem for p in MUCSUM[:3]]
    assert all(a.validation.ok for a in analyses)
    errors = [json.loads(x) for x in errors_path(out).read_text().splitlines()]
    assert {e["code"] for e in errors} == {"bad_input", "duplicate_id"}
    assert all(TEST_KEY not in x for x in (out.read_text(), errors_path(out).read_text()))
    calls = _requests(vcr)
    assert calls == 3

    again = runner.invoke(app, args)  # resume of a finished job: nothing to do
    assert again.exit_code == 1 and _ids(out) == ids
    assert _requests(vcr) == calls

    fresh = runner.invoke(app, [*args, "--restart"])  # start over: the cache answers
    assert fresh.exit_code == 1 and _ids(out) == ids
    assert _requests(vcr) == calls  # zero requests reached the server
    assert "3 from the cache" in fresh.stderr


@pytest.mark.scripted_only
@pytest.mark.vcr(allow_playback_repeats=True)  # a request the crashed run sent may come again
def test_resume_after_a_crash_gives_every_id_exactly_once(
    tmp_path: Path, make_settings: Any
) -> None:
    articles = _articles(len(MUCSUM))
    out = tmp_path / "out.jsonl"
    options = {"output": out, "cache": False, "concurrency": 1}
    stream = summarize_many(articles, settings=make_settings(), **options)
    first = [next(stream), next(stream)]
    stream.close()  # the process dies: work in flight is never written
    written = set(_ids(out))
    assert {r.article.id for r in first} <= written  # type: ignore[union-attr]
    assert 2 <= len(written) < len(articles)
    with out.open("ab") as handle:
        handle.write(b'{"article":{"id":"torn')  # a line cut short by kill -9

    rest = list(summarize_many(articles, settings=make_settings(), **options))
    ids = _ids(out)
    assert sorted(ids) == sorted(a["id"] for a in articles)
    assert set(ids.values()) == {1}
    assert {r.article.id for r in rest} == set(ids) - written  # type: ignore[union-attr]


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_budget_stops_cleanly_and_the_rest_is_left_for_resume(
    tmp_path: Path, configured: list[str], vcr: Any
) -> None:
    source = _jsonl(tmp_path / "in.jsonl", _articles(4))
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), "-o", str(out), "--concurrency", "1", *configured]
    stopped = runner.invoke(app, [*args, "--max-cost", "0.006"])

    assert stopped.exit_code == 1
    assert "stopped: --max-cost $0.006 reached" in stopped.stderr
    assert "3 article(s) left" in stopped.stderr
    assert len(_ids(out)) == 1
    by_tokens = runner.invoke(app, [*args, "--max-tokens", "12000"])  # ~4,800 per article
    assert by_tokens.exit_code == 1, by_tokens.stderr
    assert "--max-tokens 12,000 reached" in by_tokens.stderr
    assert len(_ids(out)) == 3

    finished = runner.invoke(app, args)
    assert finished.exit_code == 0, finished.output
    ids = _ids(out)
    assert len(ids) == 4 and set(ids.values()) == {1}
    assert _requests(vcr) == 4


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_rate_limited_job_pauses_and_finishes(tmp_path: Path, make_settings: Any) -> None:
    settings = make_settings("rate-limited", transport_retries=1)
    job = Job(settings, Options(concurrency=3, cache=False, output=tmp_path / "out.jsonl"))

    async def drain() -> list[Any]:
        return [r async for r in job.run(inputs.from_records(_articles(3)))]

    records = asyncio.run(drain())
    assert len(records) == 3 and all(isinstance(r, ArticleAnalysis) for r in records)
    assert job.stats.rate_limited == 3  # each article's first request got a 429
    assert job.limits.paused_until > 0  # the whole job was held for the Retry-After
    assert all(r.usage.calls == 1 for r in records)  # retried by the transport, not re-asked


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_async_api_yields_results_and_error_records(make_settings: Any) -> None:
    async def collect() -> list[Any]:
        stream = asummarize_many(
            [SEED, {"id": "blank", "text": " "}],
            settings=make_settings("broken-json"),
            cache=False,
            concurrency=2,
        )
        return [r async for r in stream]

    records = asyncio.run(collect())
    assert len(records) == 2 and all(isinstance(r, ErrorRecord) for r in records)
    failed = next(r for r in records if r.code == "invalid_answer")
    assert failed.attempts == 3 and failed.usage is not None and failed.usage.calls == 3


def test_bad_usage_exits_2(tmp_path: Path, configured: list[str]) -> None:
    out = ["-o", str(tmp_path / "out.jsonl")]
    missing = runner.invoke(app, ["batch", str(tmp_path / "nope.jsonl"), *out, *configured])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    odd = tmp_path / "in.xml"
    odd.write_text("<a/>")
    unknown = runner.invoke(app, ["batch", str(odd), *out, *configured])
    assert unknown.exit_code == 2 and "unknown input type" in unknown.stderr
    source = _jsonl(tmp_path / "in.jsonl", _articles(1))
    local = ["--model", "my-finetune", "--max-cost", "1"]  # priced nowhere
    no_price = runner.invoke(app, ["batch", str(source), *out, *configured, *local])
    assert no_price.exit_code == 2 and "--prices" in no_price.stderr
    headless = tmp_path / "in.csv"
    headless.write_text("id,body\n1,x\n")
    no_text = runner.invoke(app, ["batch", str(headless), *out, *configured])
    assert no_text.exit_code == 2 and "no 'text' column" in no_text.stderr
    for result in (missing, unknown, no_price, no_text):
        assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1


# ------------------------------------------------------------------------------------- cost


def test_prices_and_budget(tmp_path: Path) -> None:
    from summarizer.batch.cost import Budget, dollars, load_prices, price_for
    from summarizer.errors import ConfigError, InputError
    from summarizer.schema import Usage

    prices = load_prices(None)
    assert price_for("openai/gpt-4.1-mini-2025-04-14", prices) is prices["gpt-4.1-mini"]
    assert price_for("openai/my-finetune", prices) is None
    usage = Usage(prompt_tokens=1_000_000, cached_tokens=400_000, completion_tokens=100_000)
    mini = prices["gpt-4.1-mini"]
    assert dollars(usage, mini) == pytest.approx(0.6 * 0.40 + 0.4 * 0.10 + 0.1 * 1.60)
    assert dollars(usage, mini, batch=True) == pytest.approx(dollars(usage, mini) / 2)

    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"my-finetune": {"input": 0, "cached_input": 0, "output": 1}}))
    assert price_for("openai/my-finetune", load_prices(table)) is not None
    table.write_text('{"x": {"input": "free"}}')
    with pytest.raises(InputError, match="not a price table"):
        load_prices(table)
    with pytest.raises(ConfigError, match="--prices"):
        Budget(None, max_cost=1.0)

    budget = Budget(mini, max_tokens=10_000)
    assert budget.admit(4_000, 1_000) and budget.admit(4_000, 1_000)
    assert not budget.admit(1, 0) and budget.stopped is not None  # reservations count
    budget.settle(4_000, 1_000, Usage(prompt_tokens=3_000, completion_tokens=500))
    assert (budget.tokens, budget.reserved_tokens) == (3_500, 5_000)
    assert not budget.admit(1, 0)  # once stopped, the run stays stopped
