"""The OpenAI Batch API engine against the scripted Files + Batches server (cassettes in
``cassettes/test_batch_openai/``): upload, poll, download, validate, re-ask the invalid answers
through the realtime engine, and resume a job killed while it waited, or killed before it saved an
upload's or a batch's id."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, REPLAY_URL, ROOT
from scripted_server import ScriptedServer, Traffic, load_fixtures

from summarizer import ArticleAnalysis
from summarizer.batch import inputs, requests
from summarizer.batch.engine import Job, Options
from summarizer.batch.journal import ErrorRecord, errors_path
from summarizer.batch.openai_batch import BatchAPI

MUCSUM = sorted((DATA / "articles").glob("*.txt"))


@pytest.fixture(scope="module")
def batch_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """While recording: a server whose answers are schema-invalid or HTTP 500 for about half the
    requests (seeded), so some Batch API answers need the realtime engine. Replay: a dead URL."""
    if request.config.getoption("--record-mode") in (None, "none"):
        yield REPLAY_URL
        return
    traffic = Traffic(fault_rate=0.5, faults=("schema_invalid", "server_error"), seed=4)
    with ScriptedServer(load_fixtures(ROOT), traffic=traffic) as server:
        yield server.url


def _job(make_settings: Any, url: str, out: Path) -> Job:
    settings = make_settings(base_url=url, transport_retries=3)
    options = Options(engine="openai-batch", output=out, cache=False, poll_s=0, concurrency=2)
    return Job(settings, options)


def _run(job: Job, n: int) -> list[Any]:
    async def drain() -> list[Any]:
        articles = [{"id": p.stem, "text": p.read_text(encoding="utf-8")} for p in MUCSUM[:n]]
        return [r async for r in job.run(inputs.from_records(articles))]

    return asyncio.run(drain())


def _paths(vcr: Any) -> Counter[str]:
    return Counter(f"{r.method} {r.path}" for r in vcr.requests)


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_batch_api_engine_validates_and_reasks_the_invalid(
    tmp_path: Path, make_settings: Any, batch_url: str, vcr: Any
) -> None:
    out = tmp_path / "out.jsonl"
    job = _job(make_settings, batch_url, out)
    records = _run(job, 6)

    assert sorted(r.article.id for r in records) == [p.stem for p in MUCSUM[:6]]
    assert all(isinstance(r, ArticleAnalysis) and r.validation.ok for r in records)
    assert 1 <= job.stats.reasked < 6  # some answers failed the checks or the request failed
    calls = _paths(vcr)
    assert calls["POST /v1/files"] == 1 and calls["POST /v1/batches"] == 1
    assert calls["GET /v1/batches/batch_scripted_1"] == 2  # in_progress, then completed
    assert calls["POST /v1/chat/completions"] >= job.stats.reasked
    uploaded = next(r for r in vcr.requests if r.path == "/v1/files").body
    first = json.loads(uploaded.split(b"\r\n\r\n", 2)[-1].split(b"\n", 1)[0])
    article = inputs.make_article(MUCSUM[0].read_text(encoding="utf-8"), id=MUCSUM[0].stem)
    assert first["custom_id"] == MUCSUM[0].stem
    assert first["body"] == requests.body(article, job.settings)  # what realtime would send
    lines = out.read_text().splitlines()
    assert len(lines) == 6 and not (tmp_path / "out.jsonl.batch" / "state.json").exists()
    assert job.stats.cost is not None and job.stats.cost > 0


class Killed(Exception):
    pass


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_a_job_killed_while_waiting_collects_the_same_batch(
    tmp_path: Path, make_settings: Any, batch_url: str, vcr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"

    async def killed(self: BatchAPI, batch_id: str, group: Any) -> None:
        raise Killed(batch_id)

    monkeypatch.setattr(BatchAPI, "_collect", killed)
    with pytest.raises(Killed):
        _run(_job(make_settings, batch_url, out), 3)
    state = json.loads((tmp_path / "out.jsonl.batch" / "state.json").read_text())
    assert [b["custom_ids"] for b in state["batches"]] == [[p.stem for p in MUCSUM[:3]]]
    monkeypatch.undo()

    records = _run(_job(make_settings, batch_url, out), 3)
    assert len(records) == 3 and not any(isinstance(r, ErrorRecord) for r in records)
    calls = _paths(vcr)
    assert calls["POST /v1/files"] == 1 and calls["POST /v1/batches"] == 1  # paid once


# kill -9 right after the provider answered: (state key just set, saved before the kill, uploads
# and batch lists over both runs). Every window ends with exactly one batch created.
WINDOWS = {
    "after_upload": ("file", False, 2, 0),  # re-uploads: no batch can exist yet
    "before_create": ("file", True, 1, 1),  # lists the batches, finds none, creates it
    "after_create": ("id", False, 1, 1),  # lists the batches and adopts the one it created
}


@pytest.mark.scripted_only
@pytest.mark.vcr
@pytest.mark.parametrize("window", list(WINDOWS))
def test_a_job_killed_before_saving_its_batch_id_submits_each_article_once(
    tmp_path: Path,
    make_settings: Any,
    batch_url: str,
    vcr: Any,
    monkeypatch: pytest.MonkeyPatch,
    window: str,
) -> None:
    out = tmp_path / "out.jsonl"
    key, saved, uploads, lists = WINDOWS[window]
    save = BatchAPI._save_state

    def killed(self: BatchAPI) -> None:  # kill -9 once the provider answered, around the save
        if self.state["batches"][-1][key] is None:
            return save(self)
        if saved:
            save(self)
        raise Killed(window)

    monkeypatch.setattr(BatchAPI, "_save_state", killed)
    with pytest.raises(Killed):
        _run(_job(make_settings, batch_url, out), 3)
    monkeypatch.undo()
    [entry] = json.loads((tmp_path / "out.jsonl.batch" / "state.json").read_text())["batches"]
    assert entry["id"] is None and entry["custom_ids"] == [p.stem for p in MUCSUM[:3]]
    assert (entry["file"] is None) == (window == "after_upload")  # the upload id, once saved

    records = _run(_job(make_settings, batch_url, out), 3)
    assert len(records) == 3
    calls = _paths(vcr)
    assert calls["POST /v1/batches"] == 1  # paid once
    assert calls["POST /v1/files"] == uploads and calls["GET /v1/batches"] == lists
    files = [f.read_text() for f in (out, errors_path(out)) if f.exists()]
    lines = [json.loads(line) for text in files for line in text.splitlines()]
    ids = sorted(r["article"]["id"] if "article" in r else r["id"] for r in lines)
    assert ids == [p.stem for p in MUCSUM[:3]]  # each once across OUT and OUT.errors
    assert not (tmp_path / "out.jsonl.batch" / "state.json").exists()


def test_request_files_are_split_by_count_and_size(
    tmp_path: Path, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from summarizer.batch import openai_batch

    api = BatchAPI(_job(make_settings, REPLAY_URL, tmp_path / "out.jsonl"))
    articles = [inputs.make_article(p.read_text(encoding="utf-8"), id=p.stem) for p in MUCSUM[:5]]
    monkeypatch.setattr(openai_batch, "MAX_REQUESTS", 2)
    chunks = api._chunks(articles)
    assert [len(c.splitlines()) for c in chunks] == [2, 2, 1]
    ids = [json.loads(line)["custom_id"] for c in chunks for line in c.splitlines()]
    assert ids == [a.key for a in articles]  # every article once, in order

    monkeypatch.setattr(openai_batch, "MAX_REQUESTS", 50_000)
    line = len(chunks[2])
    monkeypatch.setattr(openai_batch, "MAX_BYTES", int(line * 2.5))
    assert [len(c.splitlines()) for c in api._chunks(articles)] == [2, 2, 1]
    assert all(len(c) <= line * 2.5 for c in api._chunks(articles))
