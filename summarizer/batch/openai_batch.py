"""The OpenAI Batch API engine (``--engine openai-batch``): half the price, answers within 24 h.

1. Each article's first request (:func:`summarizer.batch.requests.body`, exactly what the realtime
   pipeline sends) goes into request JSONL files, split at 50,000 requests or 200 MB, written next
   to the output (``OUT.jsonl.batch/``), uploaded (``purpose=batch``) and submitted.
2. ``OUT.jsonl.batch/state.json`` (replaced atomically) records each request file's digest and ids
   before it is uploaded, then its file id, then its batch id, so a job killed at any point polls
   the same batches when run again and never submits (or pays for) an article twice. A batch is
   tagged with the digest (``metadata``); a run that finds an upload without a batch id looks the
   batch up in the most recent :data:`LOOKUP_DEPTH` batches and creates it only when it is absent.
3. The batches are polled every ``poll_s`` seconds until they end; their output and error files
   are downloaded. Every answer is validated with the same checks as a realtime answer
   (:func:`summarizer.batch.requests.parse`). Valid ones become records; invalid or failed ones, and
   any article a batch did not answer (expired, cancelled), go through the realtime engine, which
   re-asks as usual. Records go to the same OUT / OUT.errors files.

A provider error of the Files or Batches API stops the job as a
:class:`~summarizer.errors.ProviderError`, mapped and redacted as the realtime engine's are
(:func:`summarizer.llm.provider_errors`); the batches already saved are picked up by the next run.
Waiting for batches is the one place that retries beyond the openai client's transport retries:
a poll or download that fails transiently (connection, timeout, 429, 5xx) is tried again
(tenacity) up to :data:`POLL_ATTEMPTS` times, waits growing from ``poll_s / 4`` to 5 minutes
(about 75 minutes at the default ``poll_s``), so a job waiting hours for its batches rides out
an outage. Uploads and batch creation get no more than the client's retries: creating a batch
again after a lost answer could pay for it twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai
from instructor.core.exceptions import InstructorError
from openai.types.chat import ChatCompletion
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from summarizer import llm
from summarizer.batch import requests
from summarizer.batch.cost import Estimate
from summarizer.pipeline import finish
from summarizer.schema import Usage
from summarizer.settings import Settings
from summarizer.source import Article

if TYPE_CHECKING:
    from summarizer.batch.engine import Job

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
ENDPOINT = "/v1/chat/completions"
DONE = {"completed", "failed", "expired", "cancelled"}
LOOKUP_DEPTH = 1_000  # recent batches searched for one created by a killed run
POLL_ATTEMPTS = 20  # tries of one poll or download through transient errors
TRANSIENT = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)


class BatchAPI:
    """Runs a job's articles through the Batch API."""

    def __init__(self, job: Job) -> None:
        self.job = job
        output = job.options.output
        self.folder = output.with_name(output.name + ".batch") if output else None
        self.state: dict[str, Any] = {"batches": []}
        if self.folder and (self.folder / "state.json").exists() and not job.options.restart:
            self.state = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
        self.pending: dict[str, tuple[Article, str | None, Estimate | None]] = {}

    async def run(self, todo: AsyncIterator[tuple[Article, str | None]]) -> None:
        with llm.provider_errors(self.job.target):
            await self._run(todo)

    async def _run(self, todo: AsyncIterator[tuple[Article, str | None]]) -> None:
        submitted = {cid for batch in self.state["batches"] for cid in batch["custom_ids"]}
        fresh: list[Article] = []
        async for article, key in todo:
            if article.key in submitted:  # sent by an earlier run: wait for that batch
                self.pending[article.key] = (article, key, None)
                continue
            estimate = self.job.admit(article, batch=True)
            if estimate is None:
                continue
            self.pending[article.key] = (article, key, estimate)
            fresh.append(article)
        for entry in self.state["batches"]:  # uploaded or planned by a killed run
            if entry.get("id") is None and any(cid in self.pending for cid in entry["custom_ids"]):
                await self._resume(entry)
        for chunk in self._chunks(fresh):
            await self._submit(chunk)
        async with asyncio.TaskGroup() as group:
            for batch in self.state["batches"]:
                if any(cid in self.pending for cid in batch["custom_ids"]):
                    await self._collect(batch["id"], group)
            for article, key, _ in list(self.pending.values()):  # never answered
                await self._realtime(article, key, group)
        if self.folder and (self.folder / "state.json").exists():
            (self.folder / "state.json").unlink()

    # ---------------------------------------------------------------------------- submitting

    def _chunks(self, articles: list[Article]) -> list[bytes]:
        chunks: list[bytes] = []
        lines: list[bytes] = []
        size = 0
        for article in articles:
            line = json.dumps(
                {
                    "custom_id": article.key,
                    "method": "POST",
                    "url": ENDPOINT,
                    "body": requests.body(article, self.job.settings),
                },
                ensure_ascii=False,
            ).encode("utf-8")
            line += b"\n"
            if lines and (len(lines) >= MAX_REQUESTS or size + len(line) > MAX_BYTES):
                chunks.append(b"".join(lines))
                lines, size = [], 0
            lines.append(line)
            size += len(line)
        if lines:
            chunks.append(b"".join(lines))
        return chunks

    async def _submit(self, content: bytes) -> None:
        digest = hashlib.sha256(content).hexdigest()[:32]
        ids = [json.loads(line)["custom_id"] for line in content.splitlines()]
        entry: dict[str, Any] = {"digest": digest, "custom_ids": ids, "file": None, "id": None}
        if self.folder:
            _write(self.folder / _name(digest), content)
        self.state["batches"].append(entry)
        self._save_state()  # the intent, before the provider hears of it
        await self._create(entry, content)

    async def _resume(self, entry: dict[str, Any]) -> None:
        """An entry a killed run left without a batch id: adopt its batch, or create it now."""
        if entry["file"] is None:  # killed before the upload was recorded: no batch exists
            assert self.folder is not None  # a state is only ever read from the folder
            await self._create(entry, (self.folder / _name(entry["digest"])).read_bytes())
        elif (batch := await self._find(entry)) is None:  # killed before batches.create
            await self._create(entry, b"")
        else:  # killed after the provider created it
            entry["id"] = batch.id
            self._save_state()

    async def _find(self, entry: dict[str, Any]) -> Any | None:
        """The batch made from the entry's upload, among the newest :data:`LOOKUP_DEPTH`."""
        looked = 0
        async for batch in self._raw().batches.list(limit=100):  # newest first, page by page
            tag = (batch.metadata or {}).get("digest")
            if batch.input_file_id == entry["file"] and tag == entry["digest"]:
                return batch
            looked += 1
            if looked >= LOOKUP_DEPTH:
                break
        return None

    async def _create(self, entry: dict[str, Any], content: bytes) -> None:
        """Upload the request file (unless an earlier run did) and create its batch."""
        client = self._raw()
        digest = entry["digest"]
        if entry["file"] is None:
            # A boundary derived from the content keeps the upload byte-identical between runs.
            upload = await client.files.create(
                file=(_name(digest), content, "application/jsonl"),
                purpose="batch",
                extra_headers={"Content-Type": f"multipart/form-data; boundary=batch-{digest}"},
            )
            entry["file"] = upload.id
            self._save_state()
        batch = await client.batches.create(
            input_file_id=entry["file"],
            endpoint=ENDPOINT,
            completion_window="24h",
            metadata={"tool": "summarizer", "digest": digest},
        )
        entry["id"] = batch.id
        self._save_state()

    def _save_state(self) -> None:
        if self.folder is not None:
            _write(self.folder / "state.json", json.dumps(self.state).encode("utf-8"))

    # ---------------------------------------------------------------------------- collecting

    def _raw(self) -> Any:
        return self.job.client().client

    async def _collect(self, batch_id: str, group: asyncio.TaskGroup) -> None:
        client = self._raw()
        with llm.provider_errors(self.job.target):  # in the task group: not covered by run's
            retrieve = client.batches.retrieve
            while (batch := await self._patiently(retrieve, batch_id)).status not in DONE:
                await asyncio.sleep(self.job.options.poll_s)
            contents = [
                await self._patiently(client.files.content, file_id)
                for file_id in (batch.output_file_id, batch.error_file_id)
                if file_id
            ]
        for content in contents:
            for line in content.text.splitlines():
                if line.strip():
                    await self._answer(json.loads(line), group)

    async def _patiently(self, read: Any, *args: Any) -> Any:
        """``await read(*args)``, tried again through transient errors (module docstring)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential(multiplier=self.job.options.poll_s / 4, max=300),
            stop=stop_after_attempt(POLL_ATTEMPTS),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await read(*args)
        raise AssertionError("unreachable")  # reraise=True: the last error is raised

    async def _answer(self, line: dict[str, Any], group: asyncio.TaskGroup) -> None:
        entry = self.pending.pop(line.get("custom_id", ""), None)
        if entry is None:  # not ours, or already written
            return
        article, key, estimate = entry
        response = line.get("response") or {}
        usage = None
        if response.get("status_code") == 200:
            completion = ChatCompletion.model_validate(response["body"])
            usage = _usage(completion, article, self.job.settings)
            if estimate is not None:
                self.job.settle(estimate, usage, batch=True)
            else:
                self.job.budget.charge(usage, batch=True)
            try:
                value = requests.parse(completion, article, self.job.settings)
            except (ValidationError, ValueError, InstructorError):
                pass  # fails the checks: re-asked through the realtime engine below
            else:
                analysis = finish(article, self.job.settings, llm.Outcome(value, usage))
                await self.job.emit(analysis, key=key, fresh=True)
                return
        elif estimate is not None:
            self.job.settle(estimate, None, batch=True)
        self.job.stats.reasked += 1
        if usage is not None:
            self.job.count_usage(usage)
        await self._realtime(article, key, group)

    async def _realtime(self, article: Article, key: str | None, group: asyncio.TaskGroup) -> None:
        self.pending.pop(article.key, None)
        await self.job.limits.slots.acquire()
        group.create_task(self.job.realtime(article, key))


def _name(digest: str) -> str:
    return f"requests-{digest[:12]}.jsonl"


def _write(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def _usage(completion: ChatCompletion, article: Article, settings: Settings) -> Usage:
    """The answer's token counts; counted here when the provider gave none."""
    usage = completion.usage
    estimated = usage is None
    if usage is None:
        usage = llm.estimated_usage(requests.body(article, settings), completion)
    details = usage.prompt_tokens_details
    return Usage(
        model=completion.model or str(llm.resolve(settings)),
        calls=1,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_tokens=(details.cached_tokens or 0) if details else 0,
        estimated=estimated,
    )
