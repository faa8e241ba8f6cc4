"""How fast a job may go: bounded concurrency, client-side requests- and tokens-per-minute limits,
and a job-wide pause when the provider answers 429.

Layers, one per concern:

- *transport retries* stay with the openai client (``settings.transport_retries``, honouring
  ``Retry-After``), as for a single article;
- this module sits in the client's HTTP event hooks, so it sees every request, including re-asks
  and the client's own retries. Before a request goes out it waits for the job-wide pause, for its
  turn at the job's request rate and for its estimated tokens from the TPM limiter (aiolimiter
  leaky buckets). A 401/403/404, or a 429 saying the quota is used up, is fatal for the job: it
  stops, and the article is left for a later run.
- the provider's own limits, when it states them (OpenAI's ``x-ratelimit-limit-requests`` and
  ``x-ratelimit-limit-tokens`` on every answer), become the job's ``--rpm`` / ``--tpm`` wherever
  they are lower or were not given; so a job paces itself at the account's limits from its first
  answer on;
- a 429 slows the whole job, not just that request (which the client then retries): every request
  waits out its ``Retry-After``, and the job's request rate is cut to ``BACKOFF`` times the rate
  the provider accepted over the last seconds (requests sent, less those refused; no cut before
  there are ``MIN_SAMPLE`` of them, when only the pause paces the job). One cut
  answers a burst: the 429s of requests sent before it, or within ``CUT_HOLD_S`` after it (the
  client's quick retries), do not cut again. The rate then grows back by ``RECOVERY`` of the cut
  rate per second, up to ``--rpm`` when given (additive increase, multiplicative decrease, as TCP
  does). So a job without ``--rpm`` settles just under the provider's limit instead of retrying
  into it.

Token estimates use :func:`summarizer.llm.prompt_tokens` (tiktoken) for the messages and the tool
schema, plus the mean completion length seen so far.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from aiolimiter import AsyncLimiter

from summarizer.batch.cost import COMPLETION_GUESS
from summarizer.llm import prompt_tokens
from summarizer.schema import Usage

BACKOFF = 0.85  # a 429 cuts the request rate to this share of the rate accepted
RECOVERY = 0.02  # then it grows back by this share of the cut rate per second
MIN_RPM = 1.0
MIN_SAMPLE = 10  # requests in the window before a 429 may cut the rate
CUT_HOLD_S = 2.0  # 429s to requests sent up to this long after a cut do not cut again
PACER_BURST = 2  # requests the request rate lets through at once
RATE_WINDOW_S = 10.0  # the accepted rate is measured over this many recent seconds
TOKEN_BURST = 32_000  # tokens the TPM bucket holds at least (a few requests' worth)
LIMIT_HEADERS = {"x-ratelimit-limit-requests": "rpm", "x-ratelimit-limit-tokens": "tpm"}
SENT_AT = "summarizer_sent_at"  # request extension: when the limits let it go
FATAL = {401: "the API key was refused", 403: "access denied", 404: "model or endpoint not found"}


def _limiter(per_minute: float | None, burst: float) -> AsyncLimiter | None:
    """A leaky bucket for ``per_minute`` that holds ``burst`` (at most a minute's worth)."""
    if not per_minute:
        return None
    capacity = min(per_minute, max(burst, per_minute / 60))
    return AsyncLimiter(capacity, 60 * capacity / per_minute)


def _per_minute(limiter: AsyncLimiter) -> float:
    return 60 * limiter.max_rate / limiter.time_period


class Limits:
    """Concurrency slots, the request rate, the TPM limiter and the 429 pause of one job."""

    def __init__(
        self, *, concurrency: int, rpm: float | None = None, tpm: float | None = None
    ) -> None:
        self.concurrency = concurrency
        self.slots = asyncio.Semaphore(concurrency)
        self.rpm, self.tpm = rpm, tpm
        self._tokens = _limiter(tpm, TOKEN_BURST)
        self._pacer: AsyncLimiter | None = None  # paces requests at ``rate``, made on first use
        self._cut: tuple[float, float] | None = None  # (when, rate per minute) of the last cut
        self._sent: deque[float] = deque()  # send times within RATE_WINDOW_S
        self._refused: deque[float] = deque()  # and the times of the 429s
        self.paused_until = 0.0
        self.sent = 0  # HTTP requests let through (re-asks and retries included)
        self.rate_limited = 0  # 429 answers seen
        self.rate_cuts = 0  # times a 429 cut the request rate
        self.paused_s = 0.0  # time the job spent paused by them
        self.fatal: str | None = None
        self.learned: dict[str, float] = {}  # limits the provider stated that the job now keeps
        self._completion = (0, 0)  # (completion tokens, calls) seen

    @property
    def rate(self) -> float | None:
        """Requests per minute the job may send now: ``--rpm``, or less after a 429."""
        if self._cut is None:
            return self.rpm
        when, cut = self._cut
        grown = cut * (1 + RECOVERY * (time.monotonic() - when))
        return min(grown, self.rpm) if self.rpm else grown

    def accepted_rate(self) -> float:
        """Requests per minute sent and not refused with a 429, over the last ``RATE_WINDOW_S``
        seconds (at least one second: early in a job a short span would read as a slow rate)."""
        now = time.monotonic()
        for times in (self._sent, self._refused):
            while times and times[0] < now - RATE_WINDOW_S:
                times.popleft()
        if not self._sent:
            return 0.0
        span = max(1.0, now - self._sent[0])
        return 60 * max(0, len(self._sent) - len(self._refused)) / span

    def slow_down(self, sent_at: float | None) -> None:
        """Cut the request rate after a 429 to a request sent at ``sent_at``."""
        self._refused.append(time.monotonic())
        if self._cut is not None and sent_at is not None and sent_at < self._cut[0] + CUT_HOLD_S:
            return  # sent before the last cut took effect: that cut already answers it
        accepted = self.accepted_rate()
        if len(self._sent) < MIN_SAMPLE:
            return  # too few requests to tell a rate: the Retry-After pause alone paces them
        rate = min(self.rate or math.inf, accepted)
        self._cut = (time.monotonic(), max(MIN_RPM, BACKOFF * rate))
        self.rate_cuts += 1

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

    def learn(self, headers: Mapping[str, str]) -> None:
        """Keep the provider's stated per-minute limits where they are lower than the job's."""
        for header, name in LIMIT_HEADERS.items():
            try:
                stated = float(headers[header])
            except (KeyError, ValueError):
                continue
            current = getattr(self, name)
            if stated > 0 and (current is None or stated < current):
                setattr(self, name, stated)
                self.learned[name] = stated
                if name == "tpm":
                    self._tokens = _limiter(stated, TOKEN_BURST)

    def pause(self, seconds: float) -> None:
        """Hold every request of the job for ``seconds`` (a 429's Retry-After)."""
        self.rate_limited += 1
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    async def wait_turn(self, tokens: int) -> None:
        """Wait for the pause to end, a request slot and ``tokens`` from the TPM bucket."""
        while (wait := self.paused_until - time.monotonic()) > 0:
            self.paused_s += wait
            await asyncio.sleep(wait)
        while (rate := self.rate) is not None:
            pacer = self._pacer
            if pacer is None or abs(_per_minute(pacer) - rate) > 0.05 * rate:
                # A new rate. The burst is a few requests: a provider's bucket absorbs the
                # jitter of arrivals only while the client does not spend it on bursts.
                pacer = self._pacer = AsyncLimiter(PACER_BURST, 60 * PACER_BURST / rate)
            assert pacer is not None
            await pacer.acquire()
            if pacer is self._pacer:  # not replaced while this request waited
                break
        self._sent.append(time.monotonic())
        self.accepted_rate()  # drops the times that left the window
        if self._tokens is not None:
            await self._tokens.acquire(min(tokens, self._tokens.max_rate))

    # httpx event hooks ----------------------------------------------------------------------

    async def on_request(self, request: Any) -> None:
        body = None
        if request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(request.content)
        await self.wait_turn(self.estimate(body) if isinstance(body, dict) else 0)
        request.extensions[SENT_AT] = time.monotonic()
        self.sent += 1

    async def on_response(self, response: Any) -> None:
        self.learn(response.headers)
        status = response.status_code
        if status in FATAL:
            self.fatal = f"HTTP {status}: {FATAL[status]}"
        elif status == 429:
            await response.aread()
            if b"insufficient_quota" in response.content:
                self.fatal = "HTTP 429: the account's quota is used up"
                return
            self.pause(_retry_after(response.headers))
            self.slow_down(response.request.extensions.get(SENT_AT))


def _retry_after(headers: Mapping[str, str]) -> float:
    """Seconds from ``retry-after-ms`` or ``retry-after``; 1 s when the server gives neither."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return max(0.0, min(float(headers[name]) / scale, 120.0))
        except (KeyError, ValueError):
            continue
    return 1.0
