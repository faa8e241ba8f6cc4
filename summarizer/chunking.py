"""Chunking stage: a document too long for one call is planned, split and merged back.

- :func:`plan` sizes the work to the context budget: the window (``llm.context_window``) less the
  instructions, the schema and the answer's reserve (``max_tokens``) is what one chunk may hold,
  and never more than :data:`MAX_CHUNK_TOKENS`. A document within it is one call, as before.
- :func:`split` cuts at paragraph ends, else sentence ends, never inside a quotation; each chunk
  starts with the last sentences (up to :data:`OVERLAP` of a chunk) of the previous one.
- :func:`rebase` moves the chunks' spans to document offsets; :func:`merge_events` joins the
  same event seen in several chunks into one with the evidence of all (:func:`same_event`,
  gated by the match model of cross-article resolution, :mod:`summarizer.matching`);
  :func:`merge_quotes` keeps each quotation once (by span); items are numbered in document
  order. The record is then checked against the whole text by the caller.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self

import jinja2
from pydantic import ConfigDict, PrivateAttr, ValidationInfo, model_validator

from summarizer import llm, matching, prompts
from summarizer.checks import CheckedExtraction, check_summary, reask_message
from summarizer.errors import ConfigError
from summarizer.faithfulness import date_words
from summarizer.grounding import ground
from summarizer.schema import (
    Actor,
    Event,
    Extraction,
    Issue,
    Quote,
    Span,
    Summary,
    SummaryDraft,
    item_id,
)
from summarizer.settings import Settings
from summarizer.source import Article, check_length

MAX_CHUNK_TOKENS = 50_000
"""Most article tokens one call is given even when the window holds more (about 200,000
characters, the old single-article limit): an answer listing a longer text's events would not
fit in ``max_tokens``."""
OVERLAP = 0.2
"""Most of a chunk repeated at the start of the next one (its last whole sentences, if any end
in that share)."""
CONCURRENCY = 4
"""Chunks of one document in flight at once."""


@dataclass(frozen=True)
class Chunk:
    """``text == document[start:end]``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Plan:
    """What a document will cost: chunks, tokens and calls, and the budget they come from."""

    chunks: list[Chunk]
    window: int
    window_from: str
    counting: str
    overhead: int  # tokens of every call besides the article: instructions, schema, metadata
    reserve: int  # tokens kept for the answer
    chunk_tokens: int  # article tokens one call may hold
    article_tokens: list[int]

    @property
    def chunked(self) -> bool:
        return len(self.chunks) > 1

    @property
    def calls(self) -> int:
        """Model calls on success without re-asks: one per chunk, plus the reduce step."""
        return len(self.chunks) + (1 if self.chunked else 0)

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens of those calls (the reduce call counted as one chunk's worth)."""
        reduce = self.overhead + self.chunk_tokens // 4 if self.chunked else 0
        return sum(self.article_tokens) + self.overhead * len(self.chunks) + reduce

    def describe(self) -> str:
        return (
            f"{len(self.chunks)} chunk(s) of at most {self.chunk_tokens:,} article tokens, "
            f"{self.calls} call(s), about {self.prompt_tokens:,} prompt tokens "
            f"(context window {self.window:,}: {self.window_from}; {self.overhead:,} for "
            f"instructions and schema, {self.reserve:,} kept for the answer; tokens counted "
            f"with {self.counting})"
        )


def overhead_tokens(article: Article, settings: Settings) -> int:
    """Prompt tokens of one call besides the article text (counted as ``settings`` counts)."""
    count, _ = llm.tokens_for(settings)
    prompt = prompts.load()
    variables = prompts.context(article) | {"article": ""}
    user = jinja2.Environment(autoescape=False).from_string(prompt.user_template).render(variables)
    schema = json.dumps(llm.prepared(CheckedExtraction).model_json_schema(), sort_keys=True)
    return 16 + count(prompt.system) + count(user) + count(schema)


def plan(article: Article, settings: Settings) -> Plan:
    """The chunks of ``article`` under ``settings``' context budget; ConfigError if nothing fits."""
    check_length(article.text, settings.max_chars)
    window, window_from = llm.context_window(settings)
    count, counting = llm.tokens_for(settings)
    overhead = overhead_tokens(article, settings)
    reserve = settings.max_tokens or 4096
    budget = min(window - overhead - reserve, MAX_CHUNK_TOKENS)
    if budget < 100:
        raise ConfigError(
            f"the context window of {window:,} tokens ({window_from}) leaves no room for the "
            f"article: the instructions and schema take {overhead:,} tokens and the answer "
            f"{reserve:,} (max_tokens); raise the server's context (Ollama: num_ctx or "
            "OLLAMA_CONTEXT_LENGTH) and pass it as --context-window"
        )
    total = count(article.text)
    if total <= budget:
        return Plan(
            [Chunk(0, len(article.text), article.text)],
            window,
            window_from,
            counting,
            overhead,
            reserve,
            budget,
            [total],
        )
    max_chars = max(200, int(budget * len(article.text) / total))
    for _ in range(8):
        chunks = split(article.text, max_chars)
        tokens = [count(c.text) for c in chunks]
        if max(tokens) <= budget:
            return Plan(chunks, window, window_from, counting, overhead, reserve, budget, tokens)
        max_chars = int(max_chars * budget / max(tokens) * 0.95)
    raise ConfigError(
        f"a passage that cannot be cut (a quotation or a sentence) has more than {budget:,} "
        f"tokens, the most one call may hold; raise --context-window"
    )


# ------------------------------------------------------------------------------ splitting

_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")  # as grounding.attribution_window reads them
_LINE = re.compile(r"\n\s*")
_SENTENCE = re.compile(r"[.!?…][\"'”’»)\]]*\s+")
_SPACE = re.compile(r"\s+")
_OPEN, _CLOSE = "“«„", "”»"


def quotations(text: str) -> list[tuple[int, int]]:
    """Where quotations run: curly/guillemet pairs, and straight double quotes paired within a
    paragraph. A quotation still open at a paragraph's end runs on when the next paragraph opens
    with a quote mark (the convention for quotations of several paragraphs), else ends there."""
    regions: list[tuple[int, int]] = []
    breaks = _PARAGRAPH if _PARAGRAPH.search(text) else _LINE
    ends = [m.start() for m in breaks.finditer(text)] + [len(text)]
    opened: int | None = None
    straight: int | None = None
    start = 0
    for end in ends:
        for i in range(start, end):
            ch = text[i]
            if ch in _OPEN and opened is None:
                opened = i
            elif ch in _CLOSE and opened is not None:
                regions.append((opened, i + 1))
                opened = None
            elif ch == '"' and opened is None:
                if straight is None:
                    straight = i
                else:
                    regions.append((straight, i + 1))
                    straight = None
        straight = None
        nxt = breaks.search(text, end)
        start = nxt.end() if nxt and nxt.start() == end else len(text)
        if opened is not None and not (start < len(text) and text[start] in _OPEN + '"'):
            regions.append((opened, end))
            opened = None
    if opened is not None:
        regions.append((opened, len(text)))
    return regions


def _cuts(pattern: re.Pattern[str], text: str, inside: list[tuple[int, int]]) -> list[int]:
    starts = [s for s, _ in inside]

    def free(p: int) -> bool:
        i = bisect.bisect_left(starts, p) - 1
        return i < 0 or inside[i][1] <= p

    return [p for p in (m.end() for m in pattern.finditer(text)) if 0 < p < len(text) and free(p)]


def split(text: str, max_chars: int) -> list[Chunk]:
    """Chunks of at most ``max_chars`` (unless one sentence or quotation is longer), cut at
    paragraph ends, else sentence ends, else spaces, never inside a quotation; overlapping."""
    inside = quotations(text)
    breaks = _PARAGRAPH if _PARAGRAPH.search(text) else _LINE
    paragraphs = _cuts(breaks, text, inside)
    sentences = sorted(set(paragraphs) | set(_cuts(_SENTENCE, text, inside)))
    spaces = _cuts(_SPACE, text, inside)
    overlap = int(max_chars * OVERLAP)
    chunks: list[Chunk] = []
    start = 0
    while True:
        if len(text) - start <= max_chars:
            chunks.append(Chunk(start, len(text), text[start:]))
            return chunks
        end = _last(paragraphs, start + max_chars // 2, start + max_chars)
        end = end or _last(sentences, start, start + max_chars)
        end = end or _last(spaces, start, start + max_chars)
        end = end or next((p for p in spaces if p > start + max_chars), len(text))
        chunks.append(Chunk(start, end, text[start:end]))
        if end >= len(text):
            return chunks
        back = _first(sentences, end - overlap, end)
        start = back if back and back > start else end


def _last(cuts: list[int], lo: int, hi: int) -> int | None:
    i = bisect.bisect_right(cuts, hi) - 1
    return cuts[i] if i >= 0 and cuts[i] > lo else None


def _first(cuts: list[int], lo: int, hi: int) -> int | None:
    i = bisect.bisect_left(cuts, lo)
    return cuts[i] if i < len(cuts) and cuts[i] < hi else None


# ------------------------------------------------------------------------------ merging


def rebase(obj: object, offset: int) -> None:
    """Shift every :class:`Span` inside ``obj`` (records, lists) by ``offset``, in place."""
    if isinstance(obj, Span):
        obj.start += offset
        obj.end += offset
    elif isinstance(obj, list):
        for item in obj:
            rebase(item, offset)
    elif hasattr(type(obj), "model_fields"):
        for name in type(obj).model_fields:
            rebase(getattr(obj, name), offset)


def _shared(a: Iterable[Span], b: Iterable[Span]) -> int:
    """Characters of evidence two events share."""
    return sum(max(0, min(x.end, y.end) - max(x.start, y.start)) for x in a for y in b)


def _overlap(a: Iterable[Span], b: Iterable[Span]) -> bool:
    return any(x.start < y.end and y.start < x.end for x in a for y in b)


def _place(event: Event) -> str | None:
    return event.location.text.casefold() if event.location else None


def _names(actors: list[Actor]) -> set[str]:
    return {a.name.casefold() for a in actors}


def _one_date(a: Event, b: Event) -> bool:
    """Same PLOVER category and resolved date, places not in conflict (one may lack it)."""
    if a.plover != b.plover or not a.date.resolved or a.date.resolved != b.date.resolved:
        return False
    return not (_place(a) and _place(b) and _place(a) != _place(b))


def same_event(a: Event, b: Event) -> bool:
    """Whether two events from different chunks of one document can be one event: nothing tells
    them apart (PLOVER category, resolved date, place, actors, targets: where both give one),
    and their evidence overlaps, or they share the resolved date and the place (or, both without
    a place, one names no one), or they share an actor (a later paragraph returning to the
    event)."""
    if a.plover != b.plover:
        return False
    if a.date.resolved and b.date.resolved and a.date.resolved != b.date.resolved:
        return False
    if _place(a) and _place(b) and _place(a) != _place(b):
        return False
    if _overlap(a.evidence, b.evidence):
        return True
    for x, y in ((_names(a.actors), _names(b.actors)), (_names(a.targets), _names(b.targets))):
        if x and y and not x & y:
            return False
    if a.date.resolved and a.date.resolved == b.date.resolved and _place(a) == _place(b):
        return _place(a) is not None or not (a.actors + a.targets and b.actors + b.targets)
    return bool(_names(a.actors) & _names(b.actors))


def _spans(spans: Iterable[Span]) -> list[Span]:
    unique = {(s.start, s.end): s for s in spans}
    return [unique[k] for k in sorted(unique)]


def _actors(groups: Iterable[list[Actor]]) -> list[Actor]:
    seen: dict[str, Actor] = {}
    for actor in (a for group in groups for a in group):
        seen.setdefault(actor.name.casefold(), actor)
    return list(seen.values())


def _joined(events: list[Event]) -> Event:
    """One event from several views of it: the evidence, actors and weapons of all; the first
    resolved date and place; the death count with the highest stated maximum."""
    first = max(events, key=lambda e: len(e.evidence))
    dated = next((e.date for e in events if e.date.resolved), first.date)
    return first.model_copy(
        update={
            "evidence": _spans(s for e in events for s in e.evidence),
            "actors": _actors(e.actors for e in events),
            "targets": _actors(e.targets for e in events),
            "weapons": _spans(s for e in events for s in e.weapons),
            "date": dated,
            "location": next((e.location for e in events if e.location), None),
            "fatalities": max((e.fatalities for e in events), key=lambda f: f.max),
        }
    )


def merge_events(per_chunk: list[list[Event]], article: Article) -> list[Event]:
    """The events of all chunks of ``article`` (spans already in document offsets), each event
    once. Two events of different chunks are joined when the match model of cross-article
    resolution joins them (:func:`summarizer.matching.same_event_pairs`, the chunk in place of
    the article, at the document's prior) and the document says they can be one event
    (:func:`same_event`); or, when one view lacks the place the rule compares
    (:func:`_one_date`), when the model joins them at a stream's prior. The model alone would
    join distinct events of one document, which share actors, place and words far more than
    reports in a stream do. Never two events of one chunk (the model told those apart): the
    constrained linkage of ``summarizer.resolution``, the pairs sharing most evidence first,
    then the strongest. Numbered e1, e2, ... in order of their first evidence."""
    flat = [(k, e) for k, events in enumerate(per_chunk) for e in events]
    candidates: dict[tuple[int, int], bool] = {}  # pair -> whether the document's rule holds
    for i, (ki, a) in enumerate(flat):
        for j, (kj, b) in enumerate(flat[i + 1 :], i + 1):
            if ki != kj and ((rule := same_event(a, b)) or _one_date(a, b)):
                candidates[(i, j)] = rule
    pairs: dict[tuple[int, int], float] = {}
    if candidates:
        untitled = article.model_copy(update={"title": None})  # every chunk has the title
        rows = [matching.mention(untitled, e) | {"article_id": str(k)} for k, e in flat]
        stricter = matching.prior_bits(matching.DOCUMENT_PRIOR) - matching.prior_bits()
        for i, j, w in matching.same_event_pairs(rows):
            # the document's own rule, or the stream's bar for a view that lacks the place
            if candidates.get((i, j)) or ((i, j) in candidates and w - stricter >= 0):
                pairs[(i, j)] = w
    parent = list(range(len(flat)))
    chunks = [{k} for k, _ in flat]  # the chunks each group has an event from

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def strength(pair: tuple[int, int]) -> tuple[int, float]:
        return _shared(flat[pair[0]][1].evidence, flat[pair[1]][1].evidence), pairs[pair]

    for i, j in sorted(pairs, key=strength, reverse=True):
        ri, rj = root(i), root(j)
        if ri != rj and not chunks[ri] & chunks[rj]:
            parent[rj] = ri
            chunks[ri] |= chunks[rj]
    groups: dict[int, list[Event]] = {}
    for i, (_, event) in enumerate(flat):
        groups.setdefault(root(i), []).append(event)
    joined = [_joined(g) if len(g) > 1 else g[0] for g in groups.values()]
    joined.sort(key=lambda e: min((s.start for s in e.evidence), default=0))
    return [e.model_copy(update={"id": item_id("events", i)}) for i, e in enumerate(joined)]


def merge_quotes(per_chunk: list[list[Quote]]) -> list[Quote]:
    """Each quotation once (by span), in document order, numbered q1, q2, ..."""
    unique: dict[tuple[int, int], Quote] = {}
    for quote in (q for quotes in per_chunk for q in quotes):
        unique.setdefault((quote.span.start, quote.span.end), quote)
    ordered = [unique[k] for k in sorted(unique)]
    return [q.model_copy(update={"id": item_id("quotes", i)}) for i, q in enumerate(ordered)]


def chunk_issues(number: int, chunk: Chunk, issues: list[Issue]) -> list[Issue]:
    """A chunk's issues, their paths under ``chunks[number]`` (their items are the chunk's)."""
    return [
        Issue(
            severity=i.severity,
            path=f"chunks[{number}].{i.path}" if i.path else f"chunks[{number}]",
            code=i.code,
            message=f"{i.message} (in characters {chunk.start:,}-{chunk.end:,})",
        )
        for i in issues
    ]


CHUNK_BLIND = frozenset({"name_unsupported"})
"""Checks a chunk cannot decide (a name may be given in a part of the document the chunk lacks,
"the CENTCOM commander" here, "Gen. McKenzie" three paragraphs up): not re-asked per chunk, run
on the merged record against the whole text."""


class CheckedChunk(CheckedExtraction):
    """:class:`CheckedExtraction` for one chunk: errors in :data:`CHUNK_BLIND` are no re-ask."""

    model_config = ConfigDict(title="Extraction")  # the request is byte-identical
    not_reasked = CHUNK_BLIND


# ------------------------------------------------------------------------------ reduce step


def part_summary(number: int, chunk: Chunk, summary: Summary) -> str:
    """One line of the reduce step's input: a chunk's summary with its evidence (document text)."""
    bullets = [{"text": b.text, "evidence": [s.text for s in b.evidence]} for b in summary.bullets]
    part = {
        "part": number + 1,
        "characters": [chunk.start, chunk.end],
        "headline": summary.headline,
        "one_sentence": summary.one_sentence,
        "bullets": bullets,
    }
    return json.dumps(part, ensure_ascii=False)


def review_summary(
    draft: SummaryDraft, text: str, dates: Iterable[dt.date | None]
) -> tuple[Summary, list[Issue]]:
    """Ground a summary's evidence in the whole ``text`` and check it like any summary."""
    grounded = ground(Extraction(language="und", events=[], quotes=[], summary=draft), text, None)
    allowed = date_words([d for d in dates if d is not None])
    return grounded.summary, grounded.issues + list(check_summary(grounded.summary, text, allowed))


class DocumentSummary(SummaryDraft):
    """The reduce step's answer; validation grounds and checks it against the whole document
    (context keys ``article`` and ``dates``, ISO strings), so failures are re-asked."""

    model_config = ConfigDict(title="DocumentSummary")
    _review: tuple[Summary, list[Issue]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _grounded_in_document(self, info: ValidationInfo) -> Self:
        ctx = info.context or {}
        if "article" not in ctx:
            return self
        dates = [dt.date.fromisoformat(d) for d in ctx.get("dates") or []]
        summary, issues = review_summary(self, ctx["article"], dates)
        errors = [i for i in issues if i.is_error]
        if errors:
            raise ValueError(reask_message(errors))
        self._review = (summary, issues)
        return self


__all__ = [
    "CHUNK_BLIND",
    "CONCURRENCY",
    "CheckedChunk",
    "Chunk",
    "DocumentSummary",
    "Plan",
    "merge_events",
    "merge_quotes",
    "part_summary",
    "plan",
    "quotations",
    "rebase",
    "review_summary",
    "same_event",
    "split",
]
