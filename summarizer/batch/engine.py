"""The batch job: many articles through the pipeline at the provider's pace, exactly once.

For each input record, in order: an input problem is written as an error record; an id already in
the output is skipped (resume); a cache hit is written without a model call; otherwise, if the
budget admits it, the article is analysed by :func:`summarizer.pipeline.aanalyze` (one model call
plus re-asks) in one of ``concurrency`` slots, at the pace :mod:`summarizer.batch.limits` allows.
Every record is written to the journal (and an analysis to the cache first) before it is
reported. A job stopped by its budget or a fatal provider error finishes the articles in flight
and leaves the rest for the next run. A provider that cannot be reached at all is fatal after
:data:`MAX_UNREACHABLE` articles in a row failed to connect: those articles get no error record
(nothing was tried) and are left for the next run too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import instructor
import openai

from summarizer import llm
from summarizer.batch import cache as cache_module
from summarizer.batch import requests
from summarizer.batch.cost import PRICES, Budget, Estimate, Price, price_for
from summarizer.batch.inputs import Item, from_records
from summarizer.batch.journal import ErrorRecord, Journal, Record
from summarizer.batch.limits import Limits
from summarizer.errors import InputError, ProviderUnreachable, SummarizerError, redact
from summarizer.llm import count_tokens, prompt_tokens
from summarizer.pipeline import aanalyze
from summarizer.schema import ArticleAnalysis, Usage
from summarizer.settings import Settings
from summarizer.source import Article, make_article

Engine = Literal["realtime", "openai-batch"]
MAX_UNREACHABLE = 5  # articles in a row whose requests could not connect: the job stops


@dataclass
class Options:
    """How a batch job runs (the ``summarizer batch`` flags)."""

    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    cache: Path | bool = True  # True: the default cache file; False: no cache
    max_cost: float | None = None
    max_tokens: int | None = None
    prices: Mapping[str, Price] = field(default_factory=lambda: dict(PRICES))
    output: Path | None = None  # journal (and resume) here when given
    restart: bool = False
    retry_errors: bool = False  # analyse again the ids whose error record is a model failure
    wait: bool = False  # wait for another job holding ``output`` instead of refusing
    engine: Engine = "realtime"
    poll_s: float = 30.0  # Batch API engine: seconds between status polls

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise InputError("concurrency must be at least 1")
        for name in ("rpm", "tpm", "max_cost", "max_tokens"):  # rates > 0, budgets >= 0
            value, rate = getattr(self, name), name in ("rpm", "tpm")
            if value is None or (math.isfinite(value) and (value > 0 if rate else value >= 0)):
                continue
            least = "above 0" if rate else "0 or more"
            raise InputError(
                f"--{name.replace('_', '-')} must be a finite number {least}, not {value}"
            )


@dataclass
class Stats:
    """Where a job is; updated as records are written."""

    total: int | None = None  # input records, when known
    skipped: int = 0  # already in the output before this run
    written: int = 0  # records written by this run
    analysed: int = 0
    failed: int = 0  # error records (model, provider or input)
    cached: int = 0
    left: int = 0  # not started: the job stopped early
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    rate_limited: int = 0  # 429 answers
    rate_cuts: int = 0  # times they cut the job's request rate
    learned: dict[str, float] = field(default_factory=dict)  # limits the provider stated
    retried: int = 0  # error records taken back by --retry-errors
    reasked: int = 0  # Batch API answers that failed the checks and went through realtime
    started: float = field(default_factory=time.monotonic)
    stopped: str | None = None

    @property
    def done(self) -> int:
        return self.skipped + self.written

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Job:
    """One batch job. ``run`` yields records as they finish; ``stats`` says where it is."""

    def __init__(
        self,
        settings: Settings,
        options: Options | None = None,
        *,
        on_record: Callable[[Record, Stats], None] | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or Options()
        self.target = llm.resolve(settings)
        self.budget = Budget(
            price_for(str(self.target), self.options.prices),
            max_cost=self.options.max_cost,
            max_tokens=self.options.max_tokens,
        )
        self.stats = Stats(cost=0.0 if self.budget.price else None)
        self.limits = Limits(
            concurrency=self.options.concurrency, rpm=self.options.rpm, tpm=self.options.tpm
        )
        self.on_record = on_record
        self.journal = (
            Journal(
                self.options.output,
                restart=self.options.restart,
                retry_errors=self.options.retry_errors,
                wait=self.options.wait,
            )
            if self.options.output
            else None
        )
        self.stats.learned = self.limits.learned  # the same dict: filled as answers come
        self.stats.retried = self.journal.retried if self.journal else 0
        path = self.options.cache
        path = cache_module.default_path() if path is True else path
        try:
            self.cache = cache_module.Cache(path) if path else None
        except BaseException:
            if self.journal:
                self.journal.close()  # and its lock
            raise
        self._client: Any = None
        self._static_tokens: int | None = None
        self._backlog: asyncio.Semaphore | None = None
        self._out: asyncio.Queue[Record | None] | None = None
        self._unreachable: list[ErrorRecord] = []  # written once the provider answers again

    # -------------------------------------------------------------------------------- public

    async def run(self, items: Iterable[Item]) -> AsyncIterator[Record]:
        """Process ``items``; yield each record once it is durably written."""
        self._out, self._backlog = asyncio.Queue(), asyncio.Semaphore(4 * self.limits.concurrency)
        producer = asyncio.create_task(self._produce(items))
        try:
            while (record := await self._out.get()) is not None:
                yield record
                self._backlog.release()
            await producer
        finally:
            if not producer.done():
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer
            self.stats.stopped = self.stats.stopped or self.budget.stopped or self.limits.fatal
            self.stats.rate_limited = self.limits.rate_limited
            self.stats.rate_cuts = self.limits.rate_cuts
            await self.close()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.client.close()
            self._client = None
        if self.journal:
            self.journal.close()
        if self.cache:
            self.cache.close()

    # ------------------------------------------------------------------------------ producing

    @property
    def stopped(self) -> bool:
        return bool(self.budget.stopped or self.limits.fatal)

    async def _produce(self, items: Iterable[Item]) -> None:
        try:
            todo = self._triage(items)
            if self.options.engine == "openai-batch":
                from summarizer.batch.openai_batch import BatchAPI

                await BatchAPI(self).run(todo)
            else:
                async with asyncio.TaskGroup() as group:
                    async for article, key in todo:
                        await self.limits.slots.acquire()
                        group.create_task(self.realtime(article, key))
            await self._reached()  # connection failures the job did not stop for are errors
        except ExceptionGroup as group:  # one error (bad input, a bug): raise it as it is
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        finally:
            assert self._out is not None
            self._out.put_nowait(None)

    async def _triage(self, items: Iterable[Item]) -> AsyncIterator[tuple[Article, str | None]]:
        """Write what needs no model call; yield the articles (and cache keys) that do."""
        for item in items:
            await asyncio.sleep(0)  # let finished work be written while reading
            done = self.journal.done if self.journal else ()
            if (item.id if isinstance(item, ErrorRecord) else item.key) in done:
                self.stats.skipped += 1
                continue
            if isinstance(item, ErrorRecord):
                await self.emit(item)
                continue
            key = cache_module.key(item, self.settings) if self.cache else None
            hit = self.cache.get(key, item) if self.cache and key else None
            if hit is not None:
                self.stats.cached += 1
                await self.emit(hit)
                continue
            if self.stopped:
                self.stats.left += 1
                continue
            yield item, key

    def admit(self, article: Article, *, batch: bool = False) -> Estimate | None:
        """Reserve the budget for ``article`` (what finished articles cost on average, see
        :class:`~summarizer.batch.cost.Learned`); None (and the job stops) when it does not fit."""
        if self._static_tokens is None:  # system prompt + schema: the same for every article
            probe = make_article(".")
            body = requests.body(probe, self.settings)
            self._static_tokens = prompt_tokens(body) - count_tokens(probe.text)
        estimate = self.budget.estimate(self._static_tokens + count_tokens(article.text))
        if not self.budget.admit(
            estimate.tokens_in, estimate.tokens_out, batch=batch, cached=estimate.cached
        ):
            self.stats.left += 1
            return None
        return estimate

    def settle(self, estimate: Estimate, usage: Usage | None, *, batch: bool = False) -> None:
        """Replace an admitted article's reservation by what it used, and learn from it."""
        self.budget.settle(
            estimate.tokens_in,
            estimate.tokens_out,
            usage,
            batch=batch,
            cached=estimate.cached,
            first=estimate.first,
        )

    # ------------------------------------------------------------------------------- realtime

    def client(self) -> Any:
        """The job's async instructor client, its HTTP hooks wired to the limits."""
        if self._client is None:
            raw = llm.client(self.settings, use_async=True).client
            hooks = {"request": [self.limits.on_request], "response": [self.limits.on_response]}
            http = openai.DefaultAsyncHttpxClient(event_hooks=hooks)
            self._client = instructor.from_openai(
                raw.copy(http_client=http), mode=llm.MODES[self.settings.mode]
            )
        return self._client

    async def realtime(self, article: Article, key: str | None) -> None:
        """Analyse ``article`` in the slot the caller acquired, and write its record."""
        try:
            estimate = self.admit(article)
            if estimate is None:
                return
            record = await self.analyse(article)
            usage = record.usage if record is not None else None
            self.settle(estimate, usage)
            if record is not None:
                await self._reached()
                await self.emit(record, key=key, fresh=True)
        finally:
            self.limits.slots.release()

    async def analyse(self, article: Article) -> Record | None:
        """One article through the realtime pipeline; None when a fatal error stopped the job."""
        try:
            return await aanalyze(article, self.settings, client=self.client())
        except SummarizerError as exc:
            usage = getattr(exc, "usage", None)
            if self.limits.fatal:
                self.stats.left += 1
                if usage is not None:
                    self.budget.charge(usage)
                return None
            record = ErrorRecord(
                id=article.key,
                code=exc.code,
                message=redact(str(exc), self.target.api_key),
                attempts=getattr(exc, "attempts", 0),
                usage=usage,
            )
            if not isinstance(exc, ProviderUnreachable):
                return record
            self._unreachable.append(record)
            if len(self._unreachable) >= MAX_UNREACHABLE:
                url = redact(str(self.client().client.base_url), self.target.api_key)
                self.limits.fatal = (
                    f"cannot reach {url} ({len(self._unreachable)} articles in a row could not "
                    "connect)"
                )
                self.stats.left += len(self._unreachable)
                self._unreachable.clear()
            return None

    async def _reached(self) -> None:
        """The provider answered (or the job ended without giving up on it): the connection
        failures held back were real failures of their articles, so write them."""
        held, self._unreachable = self._unreachable, []
        for record in held:
            await self.emit(record, fresh=True)

    # -------------------------------------------------------------------------------- writing

    async def emit(self, record: Record, *, key: str | None = None, fresh: bool = False) -> None:
        """Cache, journal, count and hand out one finished record."""
        assert self._out is not None and self._backlog is not None
        await self._backlog.acquire()
        if isinstance(record, ArticleAnalysis) and key and self.cache:
            self.cache.put(key, record)
        if self.journal:
            self.journal.write(record)
        stats = self.stats
        stats.written += 1
        if isinstance(record, ArticleAnalysis):
            stats.analysed += 1
        else:
            stats.failed += 1
        if fresh and record.usage is not None:  # made model calls in this run
            self.count_usage(record.usage)
        stats.cost = self.budget.cost if self.budget.price else None
        stats.rate_limited = self.limits.rate_limited
        stats.rate_cuts = self.limits.rate_cuts
        self._out.put_nowait(record)
        if self.on_record:
            self.on_record(record, stats)

    def count_usage(self, usage: Usage) -> None:
        """Add model calls of this run to the totals."""
        total = self.stats.usage
        total.calls += usage.calls
        total.prompt_tokens += usage.prompt_tokens
        total.completion_tokens += usage.completion_tokens
        total.cached_tokens += usage.cached_tokens
        total.estimated = total.estimated or usage.estimated
        self.limits.observe(usage)


# ------------------------------------------------------------------------------------ Python API


async def asummarize_many(
    articles: Iterable[Article | Mapping[str, Any] | str],
    *,
    settings: Settings | None = None,
    **options: Any,
) -> AsyncIterator[ArticleAnalysis | ErrorRecord]:
    """Analyse many articles concurrently; yield each result as it finishes.

    ``articles`` are :class:`Article` objects, dicts with the JSONL fields, or plain texts.
    ``options`` are the fields of :class:`Options` (``concurrency``, ``rpm``, ``tpm``, ``cache``,
    ``max_cost``, ``max_tokens``, ``prices``, ``output``, ``restart``, ``retry_errors``,
    ``engine``). Failures are yielded as :class:`ErrorRecord` objects, never raised.
    """
    job = Job(settings or Settings(), Options(**options))
    items = from_records(articles, max_chars=job.settings.max_chars)
    async with contextlib.aclosing(job.run(items)) as records:
        async for record in records:
            yield record


def summarize_many(
    articles: Iterable[Article | Mapping[str, Any] | str],
    *,
    settings: Settings | None = None,
    **options: Any,
) -> Iterator[ArticleAnalysis | ErrorRecord]:
    """Sync twin of :func:`asummarize_many` (runs its own event loop while you iterate)."""
    stream = asummarize_many(articles, settings=settings, **options)
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                record = loop.run_until_complete(anext(stream))
            except StopAsyncIteration:
                return
            yield record
    finally:
        loop.run_until_complete(stream.aclose())
        loop.close()
