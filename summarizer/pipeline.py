"""One article, end to end: render -> call (with re-asks) -> ground -> check -> ArticleAnalysis.

When the model's last well-formed answer still fails checks after every re-ask, the record is
kept: text that could not be aligned is left out and every failed check is listed in
``validation.issues`` (``validation.ok`` is false). If later answers were not well-formed, the
record keeps the last one that was, and an ``earlier_answer_kept`` warning says so. When no answer
is even well-formed, a :class:`~summarizer.errors.ModelError` is raised with the usage of every
attempt.

A document longer than one call's context budget (:func:`summarizer.chunking.plan`) is read in
overlapping chunks, :data:`~summarizer.chunking.CONCURRENCY` at a time, each with the document's
metadata; their records are merged (:mod:`summarizer.chunking`), one summary is written from the
chunks' summaries by a second call (the reduce step, checked like any summary), and the merged
record is checked against the whole text. A chunk without an answer fails the document.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError

from summarizer import chunking, geocode, llm, prompts
from summarizer.checks import CheckedExtraction, Review, check, review
from summarizer.errors import ChecksFailed, ModelError
from summarizer.grounding import Grounded
from summarizer.resources import __version__
from summarizer.schema import (
    ArticleAnalysis,
    ArticleMeta,
    Event,
    Extraction,
    Issue,
    Provenance,
    Summary,
    SummaryDraft,
    Usage,
    Validation,
)
from summarizer.settings import Settings
from summarizer.source import Article, make_article, parse_date


def _prepare(article: Article, settings: Settings) -> tuple[list[dict[str, str]], dict[str, Any]]:
    llm.resolve(settings)  # configuration errors before any work
    return prompts.load().messages(), prompts.context(article)


def analyze(
    article: Article, settings: Settings | None = None, *, client: Any = None
) -> ArticleAnalysis:
    """Analyse one article (sync). ``client`` reuses an instructor client across articles."""
    settings = settings or Settings()
    messages, context = _prepare(article, settings)
    plan = chunking.plan(article, settings)
    if plan.chunked:
        return _run(_analyze_chunks(article, settings, plan, None))
    own = None if client is not None else llm.client(settings)
    try:
        outcome = llm.call(
            client or own, settings, messages, context, CheckedExtraction, record_id=article.key
        )
    finally:
        if own is not None:  # made for this call: its connections close with it
            own.client.close()
    return _finish(article, settings, outcome)


def _run(job: Coroutine[Any, Any, ArticleAnalysis]) -> ArticleAnalysis:
    """Run ``job`` to the end from sync code, also where an event loop is running (a notebook):
    then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(job)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, job).result()


async def aanalyze(
    article: Article, settings: Settings | None = None, *, client: Any = None
) -> ArticleAnalysis:
    """Analyse one article (async); pass an async instructor client to share it."""
    settings = settings or Settings()
    messages, context = _prepare(article, settings)
    plan = chunking.plan(article, settings)
    if plan.chunked:
        return await _analyze_chunks(article, settings, plan, client)
    async with _async_client(client, settings) as client:
        outcome = await llm.acall(
            client, settings, messages, context, CheckedExtraction, record_id=article.key
        )
    return _finish(article, settings, outcome)


@contextlib.asynccontextmanager
async def _async_client(client: Any, settings: Settings) -> AsyncIterator[Any]:
    """``client``, or one made for this call and closed after it (its connection pool too)."""
    if client is not None:
        yield client
        return
    own = llm.client(settings, use_async=True)
    try:
        yield own
    finally:
        await own.client.close()


async def _analyze_chunks(
    article: Article, settings: Settings, plan: chunking.Plan, client: Any
) -> ArticleAnalysis:
    """A long document: its chunks in parallel, merged, summarised by the reduce step."""
    async with _async_client(client, settings) as client:
        return await _chunks(article, settings, plan, client)


async def _chunks(
    article: Article, settings: Settings, plan: chunking.Plan, client: Any
) -> ArticleAnalysis:
    started = time.perf_counter()
    gate = asyncio.Semaphore(chunking.CONCURRENCY)
    parts = [article.model_copy(update={"text": c.text}) for c in plan.chunks]

    async def read(part: Article) -> llm.Outcome:
        async with gate:
            return await llm.acall(
                client,
                settings,
                prompts.load().messages(),
                prompts.context(part),
                chunking.CheckedChunk,
                record_id=article.key,
            )

    outcomes = await asyncio.gather(*(read(part) for part in parts))
    usage = Usage(model=str(llm.resolve(settings)))
    issues = [Issue(severity="warning", path="", code="chunked", message=plan.describe())]
    events, quotes, summaries, alignment, languages = [], [], [], Counter[str](), Counter[str]()
    for number, (chunk, part, outcome) in enumerate(zip(plan.chunks, parts, outcomes, strict=True)):
        _add(usage, outcome.usage)
        try:
            extraction, result = _reviewed(part, outcome)
        except ModelError as exc:
            raise type(exc)(
                f"chunk {number + 1} of {len(plan.chunks)} (characters {chunk.start:,}-"
                f"{chunk.end:,}): {exc}",
                usage=usage,
                attempts=usage.calls,
            ) from None
        g = result.grounded
        for records in (g.events, g.quotes, g.summary):
            chunking.rebase(records, chunk.start)
        events.append(g.events)
        quotes.append(g.quotes)
        summaries.append(chunking.part_summary(number, chunk, g.summary))
        alignment.update(g.alignment)
        languages[extraction.language] += len(chunk.text)
        kept = [
            i
            for i in result.issues
            if i.code.startswith("span_") or i.code == "earlier_answer_kept"
        ]
        issues += chunking.chunk_issues(number, chunk, kept)
    language = languages.most_common(1)[0][0]
    merged_events = chunking.merge_events(events, article.model_copy(update={"language": language}))
    merged_quotes = chunking.merge_quotes(quotes)
    summary, summary_issues = await _reduce(
        article, settings, client, summaries, merged_events, usage
    )
    issues += summary_issues
    issues += check(merged_events, merged_quotes, summary, article.text, article.published)
    usage.latency_s = round(time.perf_counter() - started, 3)
    grounded = Grounded(merged_events, merged_quotes, summary, [], alignment)
    return _record(article, settings, language, Review(grounded, issues), usage)


async def _reduce(
    article: Article,
    settings: Settings,
    client: Any,
    summaries: list[str],
    events: list[Event],
    usage: Usage,
) -> tuple[Summary, list[Issue]]:
    """One summary of the document from its chunks' summaries: a model call, checked against the
    whole text (its grounding issues are returned; the caller checks the record as a whole)."""
    context = prompts.reduce_context(article, summaries)
    context["dates"] = [e.date.resolved.isoformat() for e in events if e.date.resolved]
    messages = prompts.load_reduce().messages()
    outcome = await llm.acall(
        client, settings, messages, context, chunking.DocumentSummary, record_id=article.key
    )
    _add(usage, outcome.usage)
    value = outcome.value
    if isinstance(value, chunking.DocumentSummary) and value._review is not None:
        summary, issues = value._review
    else:
        error = outcome.error or ModelError("no answer", usage=usage)
        if type(error) is not ModelError or not outcome.last_answer:
            error.usage = usage
            raise error
        try:
            draft = SummaryDraft.model_validate_json(outcome.last_answer)
        except ValidationError:
            error.usage = usage
            raise error from None
        dates = [e.date.resolved for e in events]
        summary, issues = chunking.review_summary(draft, article.text, dates)
    return summary, [i for i in issues if i.code.startswith("span_")]


def _add(total: Usage, part: Usage) -> Usage:
    """Add ``part``'s calls and tokens to ``total`` (in place)."""
    total.calls += part.calls
    total.prompt_tokens += part.prompt_tokens
    total.completion_tokens += part.completion_tokens
    total.cached_tokens += part.cached_tokens
    total.estimated = total.estimated or part.estimated
    return total


def _finish(article: Article, settings: Settings, outcome: llm.Outcome) -> ArticleAnalysis:
    extraction, result = _reviewed(article, outcome)
    return _record(article, settings, extraction.language, result, outcome.usage)


def _record(
    article: Article, settings: Settings, language: str, result: Review, usage: Usage
) -> ArticleAnalysis:
    g = result.grounded
    analysis = ArticleAnalysis(
        article=ArticleMeta(
            id=article.key,
            title=article.title,
            source=article.source,
            url=article.url,
            published=article.published,
            language=article.language or language,
            text_sha256=article.sha256,
        ),
        events=g.events,
        quotes=g.quotes,
        summary=g.summary,
        validation=Validation(
            ok=not result.errors,
            issues=result.issues,
            alignment={k: g.alignment[k] for k in ("exact", "normalized", "fuzzy", "unaligned")},
        ),
        usage=usage,
        provenance=Provenance(
            summarizer_version=__version__,
            prompt_version=prompts.load().version,
            model=str(target := llm.resolve(settings)),
            endpoint=llm.endpoint(target),
            created_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        ),
    )
    analysis = geocode.geocode_record(analysis, article.text)  # after checks: places -> points
    if settings.strictness == "strict" and result.errors:
        codes = sorted({i.code for i in result.errors})
        raise ChecksFailed(
            f"{article.key}: {len(result.errors)} check(s) failed after every re-ask "
            f"({', '.join(codes)}); strict mode keeps no record",
            analysis=analysis,
        )
    return analysis


def finish(article: Article, settings: Settings, outcome: llm.Outcome) -> ArticleAnalysis:
    """The record of ``article`` from a call's outcome (the Batch API engine's answers)."""
    return _finish(article, settings, outcome)


def _reviewed(article: Article, outcome: llm.Outcome) -> tuple[Extraction, Review]:
    """The reviewed answer; the last well-formed answer that still fails checks is kept too."""
    value = outcome.value
    if isinstance(value, CheckedExtraction) and value._review is not None:
        return value, value._review
    if isinstance(value, Extraction):
        return value, review(value, article.text, article.published)
    error = outcome.error or ModelError("no answer", usage=outcome.usage)
    if type(error) is not ModelError:
        raise error
    for number in range(len(outcome.answers), 0, -1):
        answer = outcome.answers[number - 1]
        try:
            extraction = Extraction.model_validate_json(answer) if answer else None
        except ValidationError:
            continue
        if extraction is None:
            continue
        result = review(extraction, article.text, article.published)
        if number < len(outcome.answers):
            result.issues.append(
                Issue(
                    severity="warning",
                    path="",
                    code="earlier_answer_kept",
                    message=f"answers after attempt {number} of {len(outcome.answers)} were not "
                    f"well-formed; this record keeps attempt {number}'s answer",
                )
            )
        return extraction, result
    raise error


def _article(text: str, published: str | dt.date | None, **meta: str | None) -> Article:
    return make_article(text, published=parse_date(published, "published"), **meta)


def summarize(
    text: str,
    *,
    published: str | dt.date | None = None,
    title: str | None = None,
    source: str | None = None,
    url: str | None = None,
    id: str | None = None,
    language: str | None = None,
    settings: Settings | None = None,
) -> ArticleAnalysis:
    """Analyse one news report given as text. See :class:`ArticleAnalysis` for the result."""
    meta = {"title": title, "source": source, "url": url, "id": id, "language": language}
    return analyze(_article(text, published, **meta), settings)


async def asummarize(
    text: str,
    *,
    published: str | dt.date | None = None,
    title: str | None = None,
    source: str | None = None,
    url: str | None = None,
    id: str | None = None,
    language: str | None = None,
    settings: Settings | None = None,
) -> ArticleAnalysis:
    """Async twin of :func:`summarize`."""
    meta = {"title": title, "source": source, "url": url, "id": id, "language": language}
    return await aanalyze(_article(text, published, **meta), settings)
