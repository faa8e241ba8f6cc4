"""Waiting for Batch API batches rides out transient errors (tenacity); other errors stop the job
at once, and so do transient ones that outlast :data:`POLL_ATTEMPTS`."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx2 as httpx
import openai
import pytest

from summarizer import llm
from summarizer.batch import openai_batch
from summarizer.batch.openai_batch import POLL_ATTEMPTS, BatchAPI
from summarizer.errors import ProviderError

REQUEST = httpx.Request("GET", "https://api.openai.com/v1/batches/b1")


def _status(code: int) -> openai.APIStatusError:
    response = httpx.Response(code, request=REQUEST, json={"error": {"message": f"HTTP {code}"}})
    kind = {401: openai.AuthenticationError, 500: openai.InternalServerError}[code]
    return kind(f"HTTP {code}", response=response, body=None)


class Provider:
    """Batches and Files APIs that fail with ``errors`` (in order) before answering."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls = 0
        self.batches = SimpleNamespace(retrieve=self.retrieve)
        self.files = SimpleNamespace(content=self.content)

    async def retrieve(self, batch_id: str) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return SimpleNamespace(status="completed", output_file_id="f1", error_file_id=None)

    async def content(self, file_id: str) -> Any:
        return SimpleNamespace(text="")


def _collect(provider: Provider) -> None:
    job: Any = SimpleNamespace(
        options=SimpleNamespace(output=None, restart=False, poll_s=0.0),
        target=llm.Target("openai", "gpt-4.1-mini", None, "sk-test-key-000000"),
        client=lambda: SimpleNamespace(client=provider),
    )

    async def run() -> None:
        try:
            async with asyncio.TaskGroup() as group:
                await BatchAPI(job)._collect("b1", group)
        except ExceptionGroup as errors:  # as the engine does: the one error as it is
            raise errors.exceptions[0] from None

    asyncio.run(run())


def test_polling_rides_out_transient_errors() -> None:
    provider = Provider([openai.APIConnectionError(request=REQUEST), _status(500)])
    _collect(provider)
    assert provider.calls == 3


def test_other_errors_stop_at_once_and_long_outages_stop_too() -> None:
    provider = Provider([_status(401)])
    with pytest.raises(ProviderError, match="HTTP 401"):
        _collect(provider)
    assert provider.calls == 1

    provider = Provider([openai.APITimeoutError(request=REQUEST)] * (POLL_ATTEMPTS + 1))
    with pytest.raises(ProviderError):
        _collect(provider)
    assert provider.calls == POLL_ATTEMPTS == openai_batch.POLL_ATTEMPTS
