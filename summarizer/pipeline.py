"""One article, end to end: render -> call (with re-asks) -> ground -> check -> ArticleAnalysis.

When the model's last well-formed answer still fails checks after every re-ask, the record is
kept: text that could not be aligned is left out and every failed check is listed in
``validation.issues`` (``validation.ok`` is false). If later answers were not well-formed, the
record keeps the last one that was, and an ``earlier_answer_kept`` warning says so. When no answer
is even well-formed, a :class:`~summarizer.errors.ModelError` is raised with the usage of every
attempt.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from summarizer import geocode, llm, prompts
from summarizer.checks import CheckedExtraction, Review, review
from summarizer.errors import ChecksFailed, ModelError
from summarizer.resources import __version__
from summarizer.schema import (
    ArticleAnalysis,
    ArticleMeta,
    Extraction,
    Issue,
    Provenance,
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
    client = client or llm.client(settings)
    outcome = llm.call(
        client, settings, messages, context, CheckedExtraction, record_id=article.key
    )
    return _finish(article, settings, outcome)


async def aanalyze(
    article: Article, settings: Settings | None = None, *, client: Any = None
) -> ArticleAnalysis:
    """Analyse one article (async); pass an async instructor client to share it."""
    settings = settings or Settings()
    messages, context = _prepare(article, settings)
    client = client or llm.client(settings, use_async=True)
    outcome = await llm.acall(
        client, settings, messages, context, CheckedExtraction, record_id=article.key
    )
    return _finish(article, settings, outcome)


def _finish(article: Article, settings: Settings, outcome: llm.Outcome) -> ArticleAnalysis:
    extraction, result = _reviewed(article, outcome)
    g = result.grounded
    analysis = ArticleAnalysis(
        article=ArticleMeta(
            id=article.key,
            title=article.title,
            source=article.source,
            url=article.url,
            published=article.published,
            language=article.language or extraction.language,
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
        usage=outcome.usage,
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
