"""Validation stage: every rule a record must pass, each with its code, stated once.

The same rules run inside the model call (:class:`CheckedExtraction`'s validator reads the article
from instructor's validation ``context`` and raises, so instructor re-asks with the messages) and
after it, on the built record. Codes (severity in brackets):

- ``span_unaligned`` [error] a quoted text does not occur in the article (from grounding)
- ``span_fuzzy`` [warning] a quoted text matched only fuzzily (from grounding)
- ``span_mismatch`` [error] a span's text is not ``article[start:end]``
- ``quote_not_verbatim`` [error] a quotation differs from the article's words
- ``speaker_far`` [error] a speaker is not named in the quotation's paragraph or the one before
- ``date_precision`` [error] precision contradicts the date text, or resolved/unknown disagree
- ``date_weekday`` [error] the resolved date falls on another weekday than the text names
- ``date_mismatch`` [error] the resolved date contradicts the day, month, year or offset written
- ``date_far`` [error] a bare weekday resolved more than 7 days from the publication date
- ``date_future`` [error] an event dated after publication that is not planned or hypothetical
- ``date_anchor`` [error] the anchor is not the publication date
- ``country_unknown`` [error] not an ISO 3166-1 alpha-3 or PLOVER supranational code
- ``name_unsupported`` [error] an actor's, target's or speaker's name is not what its evidence
  names (:func:`summarizer.faithfulness.name_mismatch`)
- ``plover_unknown``, ``plover_mode_unknown``, ``acled_unknown``, ``acled_incomplete``,
  ``acled_sub_mismatch``, ``cameo_unknown``, ``codes_disagree`` [error] taxonomy rules
  (:func:`summarizer.taxonomy.disagreements`)
- ``fatalities_range`` [error] fatalities min greater than max
- ``fatalities_unsupported`` [error] a count that is not estimated yet is neither a figure in the
  fatalities text nor their total (plus one when the first figure follows "and": "X and two
  of her bodyguards"); no text: 0; a text without a figure: 1
- ``headline_too_long`` [error] headline over 15 words
- ``summary_unsupported`` [error] a number, date, name or quoted phrase in the headline or sentence
  is not in the article (:func:`summarizer.faithfulness.unsupported`)
- ``bullet_unsupported`` [error] a number, date, name or quoted phrase in a bullet is not in the
  article
- ``bullet_evidence_mismatch`` [error] ... is in the article but not in the bullet's evidence
- ``bullet_negation`` [error] the bullet is negated and its evidence is not
- ``language_unknown`` [warning] not an ISO 639-1 code
- ``no_events`` [warning] the article yielded no event
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import pycountry
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationInfo, model_validator

from summarizer.faithfulness import (
    MONTHS,
    WEEKDAYS,
    Finding,
    date_words,
    digits,
    name_mismatch,
    negation_flip,
    numbers,
    unsupported,
)
from summarizer.grounding import Grounded, attribution_window, clean_quote, ground, normalize
from summarizer.schema import (
    Actor,
    Event,
    Extraction,
    Issue,
    Quote,
    Span,
    Summary,
    item_path,
)
from summarizer.taxonomy import country_codes, disagreements

MAX_HEADLINE_WORDS = 15
WEEKDAY_WINDOW_DAYS = 7

_MONTHS = {name[:3]: i for i, name in enumerate(MONTHS, 1)} | {"sept": 9}
_MONTHS |= {name: i for i, name in enumerate(MONTHS, 1)}
_OFFSETS = {
    "the day before yesterday": -2,
    "yesterday": -1,
    "last night": -1,
    "today": 0,
    "this morning": 0,
    "this afternoon": 0,
    "this evening": 0,
    "tonight": 0,
    "tomorrow": 1,
}
_PERIOD = re.compile(r"\b(?:this|last|next|past|previous|coming) (week|month|year)\b")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


@dataclass(frozen=True)
class DateReading:
    """What a date expression itself says, independent of the model."""

    precision: str | None = None
    weekday: int | None = None
    day: int | None = None
    month: int | None = None
    year: int | None = None
    offset: int | None = None


def read_date(text: str) -> DateReading:
    """Read weekdays, day/month/year and relative words ('yesterday', 'last week') from ``text``."""
    t, _ = normalize(text)
    for phrase, offset in _OFFSETS.items():
        if re.search(rf"\b{phrase}\b", t):
            return DateReading(precision="day", offset=offset)
    weekday = next((i for i, w in enumerate(WEEKDAYS) if re.search(rf"\b{w}\b", t)), None)
    month = next((m for name, m in _MONTHS.items() if re.search(rf"\b{name}\b\.?", t)), None)
    year_match = _YEAR.search(t)
    year = int(year_match.group(1)) if year_match else None
    day = None
    if month is not None:
        day_match = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b(?:\s+of)?\s+[a-z]+", t) or re.search(
            r"[a-z]+\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?!\d)", t
        )
        if day_match and 1 <= int(day_match.group(1)) <= 31:
            day = int(day_match.group(1))
    if weekday is not None or day is not None:
        return DateReading("day", weekday, day, month, year)
    if month is not None:
        return DateReading("month", month=month, year=year)
    period = _PERIOD.search(t)
    if period:
        return DateReading(period.group(1))
    if year is not None:
        return DateReading("year", year=year)
    return DateReading()


def _issue(path: str, code: str, message: str, severity: str = "error") -> Issue:
    return Issue(severity=severity, path=path, code=code, message=message)  # type: ignore[arg-type]


def check_date(event: Event, path: str, published: dt.date | None) -> Iterator[Issue]:
    d, p = event.date, f"{path}.date"
    if d.anchor != published:
        yield _issue(p, "date_anchor", f"anchor {d.anchor} is not the publication date {published}")
    if (d.resolved is None) != (d.precision == "unknown"):
        yield _issue(p, "date_precision", "precision is 'unknown' exactly when resolved is null")
    if d.resolved is None:
        return
    if published and d.resolved > published and event.factuality not in ("planned", "hypothetical"):
        yield _issue(
            p,
            "date_future",
            f"{d.resolved} is after publication ({published}) but the event is {event.factuality}",
        )
    if not d.text:
        return
    r = read_date(d.text)
    if r.precision and d.precision != r.precision:
        yield _issue(
            p, "date_precision", f"{d.text!r} is {r.precision} precision, not {d.precision}"
        )
    if r.weekday is not None and d.resolved.weekday() != r.weekday:
        yield _issue(
            p,
            "date_weekday",
            f"{d.text!r} names a {WEEKDAYS[r.weekday].title()} but {d.resolved} is a "
            f"{d.resolved.strftime('%A')}",
        )
    wrong = [
        what
        for what, want, got in (
            ("day", r.day, d.resolved.day),
            ("month", r.month, d.resolved.month),
            ("year", r.year, d.resolved.year),
        )
        if want is not None and want != got
    ]
    if r.offset is not None and d.anchor and d.resolved != d.anchor + dt.timedelta(r.offset):
        wrong.append(f"offset of {r.offset} days from {d.anchor}")
    if wrong:
        yield _issue(
            p, "date_mismatch", f"{d.resolved} contradicts the {', '.join(wrong)} in {d.text!r}"
        )
    if (
        r.weekday is not None
        and r.day is None
        and d.anchor
        and abs((d.resolved - d.anchor).days) > WEEKDAY_WINDOW_DAYS
    ):
        yield _issue(
            p,
            "date_far",
            f"a bare weekday ({d.text!r}) should resolve within {WEEKDAY_WINDOW_DAYS} days of "
            f"{d.anchor}, not to {d.resolved}",
        )


def _spans(obj: Any, path: str) -> Iterator[tuple[str, Span]]:
    if isinstance(obj, Span):
        yield path, obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _spans(getattr(obj, name), f"{path}.{name}" if path else name)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _spans(item, f"{path}[{i}]")


def check_quote(quote: Quote, path: str, text: str) -> Iterator[Issue]:
    if normalize(clean_quote(quote.text))[0] != normalize(quote.span.text)[0]:
        yield _issue(
            path,
            "quote_not_verbatim",
            f"the quotation {quote.text!r} differs from the article's {quote.span.text!r}",
        )
    ev = quote.speaker.evidence
    if ev is None:
        return
    lo, hi = attribution_window(text, quote.span)
    if not lo <= ev.start < hi:
        yield _issue(
            f"{path}.speaker",
            "speaker_far",
            f"{quote.speaker.name!r} is not named in the quotation's paragraph or the one "
            "before; cite the words that attribute the quotation",
        )


def check_name(actor: Actor, path: str, text: str) -> Iterator[Issue]:
    if actor.evidence is None:
        return
    problem = name_mismatch(actor.name, actor.evidence.text, text)
    if problem:
        yield _issue(
            f"{path}.name",
            "name_unsupported",
            f"{problem}; give the name the evidence supports, or cite the words naming it",
        )


def check_summary(summary: Summary, text: str, allowed: set[str]) -> Iterator[Issue]:
    if len(summary.headline.split()) > MAX_HEADLINE_WORDS:
        yield _issue(
            "summary.headline",
            "headline_too_long",
            f"the headline has {len(summary.headline.split())} words; at most {MAX_HEADLINE_WORDS}",
        )
    for field in ("headline", "one_sentence"):
        missing = unsupported(getattr(summary, field), text, allowed)
        if missing:
            yield _issue(
                f"summary.{field}", "summary_unsupported", f"not in the article: {_list(missing)}"
            )
    for i, bullet in enumerate(summary.bullets):
        path = item_path("summary.bullets", bullet.id, i)
        missing = unsupported(bullet.text, text, allowed)
        if missing:
            yield _issue(path, "bullet_unsupported", f"not in the article: {_list(missing)}")
        elif bullet.evidence:
            cited = "\n".join(s.text for s in bullet.evidence)
            missing = unsupported(bullet.text, cited, allowed)
            flip = negation_flip(bullet.text, cited)
            if missing:
                yield _issue(
                    path,
                    "bullet_evidence_mismatch",
                    f"not in the bullet's evidence: {_list(missing)}; cite the passages "
                    "that state them",
                )
            elif flip:
                yield _issue(
                    path,
                    "bullet_negation",
                    f"negation differs between the bullet and its evidence: {flip.words}",
                )


def _list(findings: list[Finding]) -> str:
    return ", ".join(map(str, findings))


def check_fatalities(event: Event, path: str) -> Iterator[Issue]:
    f, p = event.fatalities, f"{path}.fatalities"
    if f.min > f.max:
        yield _issue(p, "fatalities_range", f"min {f.min} is greater than max {f.max}")
    if f.estimated:
        return
    words = digits(f.text or "").split()  # 'two hundred' is one figure
    figures = [(i, int(float(n))) for i, w in enumerate(words) for n in numbers(w)]
    stated = [n for _, n in figures]
    if f.text is None:
        ok = {0}
    elif stated:  # each figure or their total, +1 for 'judge X and two of her bodyguards'
        named_first = figures[0][0] > 0 and words[figures[0][0] - 1] == "and"
        ok = {*stated, sum(stated) + named_first}
    else:  # 'the death of a civilian', 'the murder of jecar neghme'
        ok = {1}
    wrong = sorted({f.min, f.max} - ok)
    if wrong:
        said = f"the words {f.text!r} state {stated or 'one death'}" if f.text else "no words"
        yield _issue(
            p,
            "fatalities_unsupported",
            f"{', '.join(map(str, wrong))} death(s) but {said}; quote the words stating the "
            "deaths or mark the count estimated",
        )


def check(
    events: list[Event], quotes: list[Quote], summary: Summary, text: str, published: dt.date | None
) -> list[Issue]:
    """Run every rule over built records; return the issues found (empty when clean)."""
    issues: list[Issue] = []
    parts: list[tuple[str, BaseModel]] = [
        (item_path("events", e.id, n), e) for n, e in enumerate(events)
    ]
    parts += [(item_path("quotes", q.id, n), q) for n, q in enumerate(quotes)]
    parts += [(item_path("summary.bullets", b.id, n), b) for n, b in enumerate(summary.bullets)]
    for path, span in (found for where, part in parts for found in _spans(part, where)):
        if text[span.start : span.end] != span.text or span.end < span.start:
            issues.append(
                _issue(
                    path, "span_mismatch", f"article[{span.start}:{span.end}] is not {span.text!r}"
                )
            )
    codes = country_codes()
    for i, ev in enumerate(events):
        path = item_path("events", ev.id, i)
        issues += check_date(ev, path, published)
        for code, message in disagreements(
            ev.plover, ev.plover_mode, ev.acled_event_type, ev.acled_sub_event_type, ev.cameo_root
        ):
            issues.append(_issue(path, code, message))
        issues += check_fatalities(ev, path)
        located = [(f"{path}.actors[{j}]", a) for j, a in enumerate(ev.actors)]
        located += [(f"{path}.targets[{j}]", a) for j, a in enumerate(ev.targets)]
        issues += (i for where, actor in located for i in check_name(actor, where, text))
        if ev.location:
            located.append((f"{path}.location", ev.location))
        for where, item in located:
            if item.country is not None and item.country not in codes:
                issues.append(
                    _issue(
                        f"{where}.country",
                        "country_unknown",
                        f"{item.country!r} is not an ISO 3166-1 alpha-3 or PLOVER actor code",
                    )
                )
    for i, q in enumerate(quotes):
        path = item_path("quotes", q.id, i)
        issues += check_quote(q, path, text)
        issues += check_name(q.speaker, f"{path}.speaker", text)
        if q.speaker.country is not None and q.speaker.country not in codes:
            issues.append(
                _issue(
                    f"{path}.speaker.country",
                    "country_unknown",
                    f"{q.speaker.country!r} is not an ISO 3166-1 alpha-3 or PLOVER actor code",
                )
            )
    dates = [d for d in [published, *(e.date.resolved for e in events)] if d is not None]
    issues += check_summary(summary, text, date_words(dates))
    if not events:
        issues.append(_issue("events", "no_events", "no event was extracted", "warning"))
    return issues


def check_language(code: str | None) -> Iterator[Issue]:
    if code is not None and pycountry.languages.get(alpha_2=code.lower()) is None:
        yield _issue("language", "language_unknown", f"{code!r} is not ISO 639-1", "warning")


@dataclass
class Review:
    """Grounded records plus every issue from grounding and checks."""

    grounded: Grounded
    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]


def review(extraction: Extraction, text: str, published: dt.date | None) -> Review:
    """Ground ``extraction`` in ``text`` and check the result."""
    grounded = ground(extraction, text, published)
    issues = list(grounded.issues)
    issues += check_language(extraction.language)
    issues += check(grounded.events, grounded.quotes, grounded.summary, text, published)
    return Review(grounded, issues)


def reask_message(errors: list[Issue]) -> str:
    """The text instructor sends back to the model when checks fail."""
    lines = [f"{len(errors)} problem(s) found when checking the answer against the article:"]
    lines += [f"- {e.path}: {e.message} [{e.code}]" for e in errors]
    return "\n".join(lines)


class CheckedExtraction(Extraction):
    """:class:`Extraction` whose validation also grounds and checks it against the article.

    Validation context keys: ``article`` (the text) and ``published`` (ISO date or None). Without
    an article in the context only the structure is validated.
    """

    model_config = ConfigDict(title="Extraction")
    _review: Review | None = PrivateAttr(default=None)
    not_reasked: ClassVar[frozenset[str]] = frozenset()
    """Error codes a subclass leaves to a later check instead of asking again."""

    @model_validator(mode="after")
    def _grounded_in_article(self, info: ValidationInfo) -> Self:
        ctx = info.context or {}
        if "article" not in ctx:
            return self
        published = ctx.get("published")
        result = review(
            self, ctx["article"], dt.date.fromisoformat(published) if published else None
        )
        errors = [i for i in result.errors if i.code not in self.not_reasked]
        if errors:
            raise ValueError(reask_message(errors))
        self._review = result
        return self
