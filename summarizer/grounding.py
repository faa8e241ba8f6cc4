"""Grounding stage: align the model's quoted text to character spans and build the output records.

Alignment tries, in order (the first that succeeds wins, and is counted in
``validation.alignment``):

1. ``exact``: the quoted text occurs in the article as is.
2. ``normalized``: it occurs after folding case, runs of whitespace, curly/straight quote marks
   and dash variants on both sides.
3. ``fuzzy``: rapidfuzz's best partial alignment on the normalised texts scores at least
   :data:`FUZZY_THRESHOLD` (0-100) and the quote has at least :data:`FUZZY_MIN_CHARS` characters.
   A fuzzy span is a warning; for a *quotation* it is an error (quotes must be verbatim).

Where a text occurs several times, the occurrence nearest to a hint is taken (for an actor, its
event's evidence; for a speaker, the quotation, preferring its :func:`attribution_window`). Text
that cannot be aligned is left out of the record and reported as an error issue, never silently
dropped. Events, quotes and bullets get their ids (:func:`~summarizer.schema.item_id`) from their
place in the answer before anything is dropped, and issue paths index that place, so an issue
names the same item in the re-ask and in the record.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz

from summarizer.schema import (
    Actor,
    ActorDraft,
    Bullet,
    DateRef,
    Event,
    Extraction,
    Fatalities,
    Issue,
    Place,
    Quote,
    Span,
    Summary,
    item_id,
)

FUZZY_THRESHOLD = 90.0
FUZZY_MIN_CHARS = 20

Method = Literal["exact", "normalized", "fuzzy"]

_FOLD = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "`": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "«": '"',
        "»": '"',
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "−": "-",
    }
)
_QUOTE_MARKS = "\"'“”‘’«»„"


def normalize(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` for matching; return it with the original index of every folded character."""
    out: list[str] = []
    index: list[int] = []
    in_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if not in_space and out:
                out.append(" ")
                index.append(i)
            in_space = True
            continue
        in_space = False
        for folded in ch.translate(_FOLD).lower():
            out.append(folded)
            index.append(i)
    if out and out[-1] == " ":
        out.pop()
        index.pop()
    return "".join(out), index


def clean_quote(text: str) -> str:
    """Strip surrounding whitespace and enclosing quote marks the model may have added."""
    text = text.strip()
    while len(text) >= 2 and text[0] in _QUOTE_MARKS and text[-1] in _QUOTE_MARKS:
        text = text[1:-1].strip()
    return text


@dataclass(frozen=True)
class Alignment:
    span: Span
    method: Method
    score: float


class Aligner:
    """Aligns quoted strings against one article text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._norm, self._index = normalize(text)

    @property
    def folded(self) -> str:
        """The text as :func:`normalize` folds it."""
        return self._norm

    def align(
        self,
        quote: str,
        *,
        near: int | None = None,
        within: tuple[int, int] | None = None,
        taken: Collection[int] = (),
    ) -> Alignment | None:
        """Align ``quote``; among several exact occurrences prefer those not starting at a
        ``taken`` offset (the same words printed twice, each copy its own item), then those
        starting ``within`` a range of the article, then the one nearest to ``near``."""
        needle = clean_quote(quote)
        if not needle:
            return None
        hits = _occurrences(self.text, needle)
        if hits:
            hits = _whole_words(self.text, hits, len(needle))
            hits = [h for h in hits if h not in taken] or hits
            start = _nearest(hits, near, within)
            return self._make(start, start + len(needle), "exact", 100.0)
        norm_needle, _ = normalize(needle)
        hits = _occurrences(self._norm, norm_needle)
        if hits:
            hits = _whole_words(self._norm, hits, len(norm_needle))
            n = _nearest(
                hits,
                None if near is None else self._to_norm(near),
                None if within is None else (self._to_norm(within[0]), self._to_norm(within[1])),
            )
            return self._from_norm(n, n + len(norm_needle), "normalized", 100.0)
        if len(norm_needle) < FUZZY_MIN_CHARS or len(norm_needle) > len(self._norm):
            return None
        found = fuzz.partial_ratio_alignment(norm_needle, self._norm, score_cutoff=FUZZY_THRESHOLD)
        if found is None:
            return None
        return self._from_norm(found.dest_start, found.dest_end, "fuzzy", round(found.score, 1))

    def _to_norm(self, pos: int) -> int:
        return bisect.bisect_left(self._index, pos)

    def _from_norm(self, start: int, end: int, method: Method, score: float) -> Alignment:
        return self._make(self._index[start], self._index[end - 1] + 1, method, score)

    def _make(self, start: int, end: int, method: Method, score: float) -> Alignment:
        return Alignment(Span(text=self.text[start:end], start=start, end=end), method, score)


@functools.lru_cache(maxsize=8)
def aligner(text: str) -> Aligner:
    """The :class:`Aligner` of ``text``, kept for the last few texts: checking one answer aligns
    against its article dozens of times (every span, every summary claim), and folding the text
    is the cost. An aligner is never changed after it is built, so sharing it is safe."""
    return Aligner(text)


def _occurrences(haystack: str, needle: str) -> list[int]:
    hits, i = [], haystack.find(needle)
    while i != -1:
        hits.append(i)
        i = haystack.find(needle, i + 1)
    return hits


def _whole_words(haystack: str, hits: list[int], length: int) -> list[int]:
    """The occurrences that do not start or end inside a word, if there are any."""

    def edge(i: int) -> bool:
        return (
            i <= 0
            or i >= len(haystack)
            or not (haystack[i - 1].isalnum() and haystack[i].isalnum())
        )

    return [h for h in hits if edge(h) and edge(h + length)] or hits


def _nearest(hits: list[int], near: int | None, within: tuple[int, int] | None) -> int:
    if within is not None:
        hits = [h for h in hits if within[0] <= h < within[1]] or hits
    return hits[0] if near is None else min(hits, key=lambda h: abs(h - near))


_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_LINE_BREAK = re.compile(r"\n\s*")


def attribution_window(text: str, span: Span) -> tuple[int, int]:
    """Where a quotation's speaker must be named: the quotation's paragraph and the one before.

    Paragraphs are separated by blank lines where the article has any, else by line breaks.
    """
    breaks = _PARAGRAPH_BREAK if _PARAGRAPH_BREAK.search(text) else _LINE_BREAK
    starts = [0] + [m.end() for m in breaks.finditer(text)]
    i = bisect.bisect_right(starts, span.start) - 1
    end = next((m.start() for m in breaks.finditer(text, span.end)), len(text))
    return starts[max(i - 1, 0)], end


@dataclass
class Grounded:
    """The output records built from one :class:`Extraction`, with what alignment found."""

    events: list[Event]
    quotes: list[Quote]
    summary: Summary
    issues: list[Issue] = field(default_factory=list)
    alignment: Counter[str] = field(default_factory=Counter)


class _Builder:
    def __init__(self, text: str) -> None:
        self.aligner = aligner(text)
        self.issues: list[Issue] = []
        self.alignment: Counter[str] = Counter()

    def span(
        self,
        quote: str,
        path: str,
        *,
        near: int | None = None,
        within: tuple[int, int] | None = None,
        taken: Collection[int] = (),
    ) -> Span | None:
        found = self.aligner.align(quote, near=near, within=within, taken=taken)
        if found is None:
            self.alignment["unaligned"] += 1
            self.issues.append(
                Issue(
                    severity="error",
                    path=path,
                    code="span_unaligned",
                    message=f"{quote!r} does not occur in the article; copy the words exactly",
                )
            )
            return None
        self.alignment[found.method] += 1
        if found.method == "fuzzy":
            self.issues.append(
                Issue(
                    severity="warning",
                    path=path,
                    code="span_fuzzy",
                    message=f"{quote!r} matched {found.span.text!r} only fuzzily "
                    f"(score {found.score})",
                )
            )
        return found.span

    def spans(
        self, quotes: list[str], path: str, near: int | None = None, taken: Collection[int] = ()
    ) -> list[Span]:
        found = (self.span(q, f"{path}[{i}]", near=near, taken=taken) for i, q in enumerate(quotes))
        return [s for s in found if s is not None]

    def actor(self, draft: ActorDraft, path: str, near: int | None) -> Actor | None:
        span = self.span(draft.evidence, f"{path}.evidence", near=near)
        if span is None:
            return None
        return Actor(**draft.model_dump(exclude={"evidence"}), evidence=span)

    def actors(self, drafts: list[ActorDraft], path: str, near: int | None) -> list[Actor]:
        found = (self.actor(a, f"{path}[{i}]", near) for i, a in enumerate(drafts))
        return [a for a in found if a is not None]

    def optional(self, quote: str | None, path: str, near: int | None) -> Span | None:
        return None if quote is None else self.span(quote, path, near=near)


def ground(extraction: Extraction, text: str, published: dt.date | None) -> Grounded:
    """Align every quoted string of ``extraction`` in ``text`` and build the output records."""
    b = _Builder(text)
    events: list[Event] = []
    claimed: set[int] = set()  # where earlier events' evidence starts
    for i, ev in enumerate(extraction.events):
        path = f"events[{i}]"
        evidence = b.spans(ev.evidence, f"{path}.evidence", taken=claimed)
        claimed |= {s.start for s in evidence}
        near = evidence[0].start if evidence else None
        date = DateRef(
            **ev.date.model_dump(),
            anchor=published,
            evidence=b.optional(ev.date.text, f"{path}.date.text", near),
        )
        location = (
            None
            if ev.location is None
            else Place(
                **ev.location.model_dump(),
                evidence=b.span(ev.location.text, f"{path}.location.text", near=near),
            )
        )
        fatalities = Fatalities(
            **ev.fatalities.model_dump(),
            evidence=b.optional(ev.fatalities.text, f"{path}.fatalities.text", near),
        )
        events.append(
            Event(
                **ev.model_dump(
                    exclude={
                        "actors",
                        "targets",
                        "date",
                        "location",
                        "fatalities",
                        "weapons",
                        "evidence",
                    }
                ),
                id=item_id("events", i),
                actors=b.actors(ev.actors, f"{path}.actors", near),
                targets=b.actors(ev.targets, f"{path}.targets", near),
                date=date,
                location=location,
                fatalities=fatalities,
                weapons=b.spans(ev.weapons, f"{path}.weapons", near),
                evidence=evidence,
            )
        )
    quotes: list[Quote] = []
    for i, q in enumerate(extraction.quotes):
        path = f"quotes[{i}]"
        span = b.span(q.text, f"{path}.text")
        if span is None:
            continue
        speaker_span = b.span(
            q.speaker.evidence,
            f"{path}.speaker.evidence",
            near=span.start,
            within=attribution_window(text, span),
        )
        speaker = Actor(**q.speaker.model_dump(exclude={"evidence"}), evidence=speaker_span)
        quotes.append(Quote(id=item_id("quotes", i), text=q.text, speaker=speaker, span=span))
    summary = Summary(
        headline=extraction.summary.headline,
        one_sentence=extraction.summary.one_sentence,
        bullets=[
            Bullet(
                id=item_id("summary.bullets", i),
                text=bl.text,
                evidence=b.spans(bl.evidence, f"summary.bullets[{i}].evidence"),
            )
            for i, bl in enumerate(extraction.summary.bullets)
        ],
    )
    return Grounded(events, quotes, summary, b.issues, b.alignment)
