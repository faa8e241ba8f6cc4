"""Budgets, provider errors and a dead endpoint in batch jobs.

- a reply without ``usage`` is counted here, so ``--max-tokens`` still stops the job (cassette);
- admission learns what an article really costs (calls, re-asks, answer length): a deterministic
  test of the rule; ``benchmarks/budget_overshoot.py`` measures the overshoot against the server;
- the Batch API engine's provider errors are one redacted line, even when the provider echoes the
  key (a live scripted server: the echoed key must not be written to a cassette);
- a dead endpoint stops the job after ``MAX_UNREACHABLE`` connection failures in a row, writes no
  error record for articles never tried, and names the URL with its credentials masked.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, ROOT
from scripted_server import ScriptedServer, load_fixtures

from summarizer.batch import inputs, requests
from summarizer.batch.cost import COMPLETION_GUESS, Budget, load_prices
from summarizer.batch.engine import MAX_UNREACHABLE, Job, Options
from summarizer.batch.journal import ErrorRecord, errors_path
from summarizer.llm import prompt_tokens
from summarizer.schema import Usage

MUCSUM = sorted((DATA / "articles").glob("*.txt"))
LOOPBACK = pytest.mark.block_network(allowed_hosts=[r"127\.0\.0\.1$"])
ODD_KEY = "provider-key-0f1e2d3c4b5a69788796"  # not shaped like sk-…: only redaction by value works


def _articles(n: int) -> list[dict[str, Any]]:
    return [{"id": p.stem, "text": p.read_text(encoding="utf-8")} for p in MUCSUM[:n]]


def _run(job: Job, articles: list[dict[str, Any]]) -> list[Any]:
    async def drain() -> list[Any]:
        return [r async for r in job.run(inputs.from_records(articles))]

    return asyncio.run(drain())


# ------------------------------------------------------------------------------ no usage


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_max_tokens_stops_a_job_whose_replies_carry_no_usage(
    tmp_path: Path, make_settings: Any
) -> None:
    options = Options(concurrency=1, cache=False, output=tmp_path / "o.jsonl", max_tokens=12_000)
    job = Job(make_settings("no-usage"), options)
    records = _run(job, _articles(4))

    assert 1 <= len(records) < 4  # counted as zero tokens, all four would run
    assert all(r.usage.estimated and r.usage.prompt_tokens > 2_000 for r in records)
    assert job.stats.stopped and "--max-tokens 12,000 reached" in job.stats.stopped
    assert job.stats.left == 4 - len(records)


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_batch_api_answers_without_usage_are_counted_here(
    tmp_path: Path, make_settings: Any
) -> None:
    options = Options(engine="openai-batch", output=tmp_path / "o.jsonl", cache=False, poll_s=0)
    job = Job(make_settings("no-usage"), options)
    records = _run(job, _articles(2))

    assert len(records) == 2 and job.stats.reasked == 0
    for record, source in zip(sorted(records, key=lambda r: r.article.id), MUCSUM, strict=False):
        article = inputs.make_article(source.read_text(encoding="utf-8"), id=source.stem)
        assert record.usage.estimated and record.usage.calls == 1
        assert record.usage.prompt_tokens == prompt_tokens(requests.body(article, job.settings))
        assert record.usage.completion_tokens > 100
    assert job.stats.usage.estimated  # the job totals say so too


# ------------------------------------------------------------------------------ admission


def test_admission_learns_calls_and_tokens_per_article() -> None:
    price = load_prices(None)["gpt-4.1-mini"]
    budget = Budget(price, max_cost=0.05)
    first = budget.estimate(4_000)  # nothing learned yet: one call, a COMPLETION_GUESS answer
    assert (first.tokens_in, first.tokens_out, first.cached) == (4_000, COMPLETION_GUESS, 0)

    # Each article really takes 3 calls (two re-asks resend the history, mostly cached).
    real = Usage(calls=3, prompt_tokens=15_000, cached_tokens=9_000, completion_tokens=4_500)
    for _ in range(2):
        assert budget.admit(first.tokens_in, first.tokens_out, cached=first.cached)
        budget.settle(first.tokens_in, first.tokens_out, real, cached=first.cached, first=4_000)
    assert budget.learned.calls / budget.learned.articles == 3

    learned = budget.estimate(2_000)  # a shorter article: scaled by what the others really used
    assert (learned.tokens_in, learned.tokens_out, learned.cached) == (7_500, 4_500, 4_500)
    per_article = budget.estimate_cost(15_000, 4_500, cached=9_000)
    assert budget.estimate(4_000).tokens_in == 15_000
    spent = budget.cost
    assert spent == pytest.approx(2 * per_article)
    admitted = 0
    while budget.admit(15_000, 4_500, cached=9_000):  # the learned estimate of 4,000-token ones
        admitted += 1
    # Admitted while spent + reserved + the next article's learned cost fits in the cap.
    assert admitted == int((0.05 - spent) // per_article)
    assert budget.reserved_cost + spent <= 0.05
    assert budget.stopped and "--max-cost $0.05 reached" in budget.stopped
    # The old rule (one call, 1,500 tokens) would have admitted about three times as many.
    naive = budget.estimate_cost(4_000, COMPLETION_GUESS)
    assert int((0.05 - spent) // naive) >= 2 * admitted


# ------------------------------------------------------------------------------ live loopback


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "summarizer", *args],
        cwd=ROOT, env=os.environ | env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@LOOPBACK
@pytest.mark.parametrize("engine", ["openai-batch", "realtime"])
def test_a_provider_that_echoes_the_key_never_puts_it_on_stderr(
    tmp_path: Path, engine: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(a) + "\n" for a in _articles(2)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    env = {"OPENAI_API_KEY": ODD_KEY, "SUMMARIZER_TRANSPORT_RETRIES": "0"}
    with ScriptedServer(load_fixtures(ROOT)) as server:
        args = ["batch", str(source), "-o", str(out), "--no-cache", "--engine", engine]
        result = _cli(*args, "--model", "refuse-key", "--base-url", server.url, env=env)

    assert result.returncode == 1, result.stderr
    assert ODD_KEY not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: ") and "HTTP 401" in result.stderr
    if engine == "openai-batch":  # the provider's message, redacted
        assert "Incorrect API key provided: ***" in result.stderr
    for path in (out, errors_path(out)):
        assert not path.exists() or ODD_KEY not in path.read_text(encoding="utf-8")


@LOOPBACK
def test_a_dead_endpoint_stops_the_job_and_leaves_every_article(
    tmp_path: Path, make_settings: Any
) -> None:
    url = f"http://user:hunter2@127.0.0.1:{_free_port()}/v1"  # nothing listens there
    out = tmp_path / "out.jsonl"
    job = Job(make_settings(base_url=url), Options(concurrency=2, cache=False, output=out))
    records = _run(job, _articles(12))

    assert records == []  # no error record for articles that were never really tried
    assert not errors_path(out).exists() or not errors_path(out).read_text()
    assert job.stats.left == 12
    stopped = job.stats.stopped or ""
    assert "cannot reach http://***@127.0.0.1:" in stopped and "hunter2" not in stopped
    assert f"{MAX_UNREACHABLE} articles in a row" in stopped

    again = Job(make_settings(base_url=url), Options(concurrency=2, cache=False, output=out))
    assert _run(again, _articles(12)) == [] and again.stats.left == 12  # all left for next run


@LOOPBACK
def test_connection_failures_the_job_does_not_stop_for_become_error_records(
    tmp_path: Path, make_settings: Any
) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    job = Job(make_settings(base_url=url), Options(concurrency=1, cache=False))
    records = _run(job, _articles(MAX_UNREACHABLE - 1))

    assert len(records) == MAX_UNREACHABLE - 1 and not job.stats.stopped
    assert all(isinstance(r, ErrorRecord) and r.code == "provider_error" for r in records)
    assert all(url in r.message for r in records)  # the URL it could not reach
