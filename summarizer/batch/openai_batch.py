"""The OpenAI Batch API engine (``--engine openai-batch``): half the price, answers within 24 h.

1. Each article's first request (:func:`summarizer.batch.requests.body`, exactly what the realtime
   pipeline sends) goes into request JSONL files, split at 50,000 requests or 200 MB, written next
   to the output (``OUT.jsonl.batch/``), uploaded (``purpose=batch``) and submitted.
2. The submitted batches are recorded in ``OUT.jsonl.batch/state.json`` (replaced atomically)
   before anything else happens, so a job killed while waiting polls the same batches when run
   again and never submits (or pays for) an article twice. (One window remains: a kill between
   the provider creating a batch and the state file being replaced; ``--restart`` forgets it.)
3. The batches are polled every ``poll_s`` seconds until they end; their output and error files
   are downloaded. Every answer is validated with the same checks as a realtime answer
   (:func:`summarizer.batch.requests.parse`). Valid ones become records; invalid or failed ones, and
   any article a batch did not answer (expired, cancelled), go through the realtime engine, which
   re-asks as usual. Records go to the same OUT / OUT.errors files.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from instructor.core.exceptions import InstructorError
from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from summarizer import llm
from summarizer.batch import requests
from summarizer.pipeline import finish
from summarizer.schema import Usage
from summarizer.source import Article

if TYPE_CHECKING:
    from summarizer.batch.engine import Job

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
ENDPOINT = "/v1/chat/completions"
DONE = {"completed", "failed", "expired", "cancelled"}


class BatchAPI:
    """Runs a job's articles through the Batch API."""

    def __init__(self, job: Job) -> None:
        self.job = job
        output = job.options.output
        self.folder = output.with_name(output.name + ".batch") if output else None
        self.state: dict[str, Any] = {"batches": []}
        if self.folder and (self.folder / "state.json").exists() and not job.options.restart:
            self.state = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
        self.pending: dict[str, tuple[Article, str | None, tuple[int, int] | None]] = {}

    async def run(self, todo: AsyncIterator[tuple[Article, str | None]]) -> None:
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
        client = self._raw()
        digest = hashlib.sha256(content).hexdigest()[:32]
        name = f"requests-{digest[:12]}.jsonl"
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / name).write_bytes(content)
        # A boundary derived from the content keeps the upload byte-identical between runs.
        upload = await client.files.create(
            file=(name, content, "application/jsonl"),
            purpose="batch",
            extra_headers={"Content-Type": f"multipart/form-data; boundary=batch-{digest}"},
        )
        batch = await client.batches.create(
            input_file_id=upload.id,
            endpoint=ENDPOINT,
            completion_window="24h",
            metadata={"tool": "summarizer"},
        )
        ids = [json.loads(line)["custom_id"] for line in content.splitlines()]
        self.state["batches"].append({"id": batch.id, "custom_ids": ids})
        self._save_state()

    def _save_state(self) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / "state.json.tmp"
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(self.state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.folder / "state.json")

    # ---------------------------------------------------------------------------- collecting

    def _raw(self) -> Any:
        return self.job.client().client

    async def _collect(self, batch_id: str, group: asyncio.TaskGroup) -> None:
        client = self._raw()
        while (batch := await client.batches.retrieve(batch_id)).status not in DONE:
            await asyncio.sleep(self.job.options.poll_s)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await client.files.content(file_id)
            for line in content.text.splitlines():
                if line.strip():
                    await self._answer(json.loads(line), group)

    async def _answer(self, line: dict[str, Any], group: asyncio.TaskGroup) -> None:
        entry = self.pending.pop(line.get("custom_id", ""), None)
        if entry is None:  # not ours, or already written
            return
        article, key, estimate = entry
        response = line.get("response") or {}
        usage = None
        if response.get("status_code") == 200:
            completion = ChatCompletion.model_validate(response["body"])
            usage = _usage(completion, str(llm.resolve(self.job.settings)))
            if estimate is not None:
                self.job.budget.settle(*estimate, usage, batch=True)
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
            self.job.budget.settle(*estimate, None, batch=True)
        self.job.stats.reasked += 1
        if usage is not None:
            self.job.count_usage(usage)
        await self._realtime(article, key, group)

    async def _realtime(self, article: Article, key: str | None, group: asyncio.TaskGroup) -> None:
        self.pending.pop(article.key, None)
        await self.job.limits.slots.acquire()
        group.create_task(self.job.realtime(article, key))


def _usage(completion: ChatCompletion, model: str) -> Usage:
    usage = completion.usage
    details = usage.prompt_tokens_details if usage else None
    return Usage(
        model=completion.model or model,
        calls=1,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        cached_tokens=(details.cached_tokens or 0) if details else 0,
    )
