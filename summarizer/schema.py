"""The output contract (``ArticleAnalysis``) and the shape the model fills in (``Extraction``).

The model never supplies character offsets. It quotes text (``*Draft`` classes, strings where the
contract has spans); :mod:`summarizer.grounding` aligns every quote and builds the contract classes,
which subclass the drafts and replace quoted strings by :class:`Span` objects.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from summarizer.taxonomy import ACLED, ACLED_SUB_TO_TYPE, CAMEO_ROOTS, PLOVER, PLOVER_SECTORS

PloverCategory = Literal[tuple(PLOVER)]  # type: ignore[valid-type]
Sector = Literal[PLOVER_SECTORS]  # type: ignore[valid-type]
AcledType = Literal[tuple(ACLED)]  # type: ignore[valid-type]
AcledSubType = Literal[tuple(ACLED_SUB_TO_TYPE)]  # type: ignore[valid-type]
CameoRoot = Literal[tuple(CAMEO_ROOTS)]  # type: ignore[valid-type]
Precision = Literal["day", "week", "month", "year", "unknown"]
Factuality = Literal["asserted", "reported", "claimed", "denied", "planned", "hypothetical"]
Severity = Literal["error", "warning"]

_VERBATIM = "copied character for character from the article"


class Span(BaseModel):
    """A piece of the article: ``text == article_text[start:end]`` (end exclusive)."""

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


# --------------------------------------------------------------------------- model-facing drafts


class ActorDraft(BaseModel):
    name: str = Field(description="Canonical name of the actor, e.g. 'Kataib Hezbollah'.")
    country: str | None = Field(
        description="ISO 3166-1 alpha-3 code of the actor's state (USA, IRQ), or a PLOVER "
        "supranational code (UNO, IGO, EUR, NGO, ISM, IMG, MNC); null if unknown."
    )
    sector: Sector | None = Field(description="PLOVER sector code; null if unknown.")
    evidence: str = Field(description=f"The words naming this actor, {_VERBATIM}.")


class DateDraft(BaseModel):
    text: str | None = Field(
        description=f"The date expression as written ('Friday', 'January 3'), {_VERBATIM}; "
        "null if the article gives no date for the event."
    )
    resolved: dt.date | None = Field(
        description="ISO date the expression refers to, resolved against the publication date; "
        "for week/month/year precision the first day of that period; null if it cannot be resolved."
    )
    precision: Precision = Field(description="How precisely the text fixes the date.")


class PlaceDraft(BaseModel):
    text: str = Field(description=f"The place as written, {_VERBATIM}.")
    country: str | None = Field(description="ISO 3166-1 alpha-3 code of the country.")
    admin1: str | None = Field(description="First-level administrative division, if known.")


class FatalitiesDraft(BaseModel):
    min: int = Field(ge=0, description="Lowest reported number of deaths (0 if none reported).")
    max: int = Field(ge=0, description="Highest reported number of deaths.")
    estimated: bool = Field(description="True when the number is an ACLED-style estimate.")
    text: str | None = Field(description=f"The words stating the deaths, {_VERBATIM}; or null.")


class EventDraft(BaseModel):
    summary: str = Field(description="One sentence: who did what to whom, when and where.")
    plover: PloverCategory = Field(description="PLOVER category.")
    plover_mode: str | None = Field(description="PLOVER mode of that category, or null.")
    acled_event_type: AcledType | None = Field(description="ACLED event type, or null.")
    acled_sub_event_type: AcledSubType | None = Field(description="ACLED sub-event type, or null.")
    cameo_root: CameoRoot = Field(description="Two-digit CAMEO root code.")
    actors: list[ActorDraft] = Field(description="Who acted (PLOVER actor / ACLED actor1).")
    targets: list[ActorDraft] = Field(description="Who was acted upon (PLOVER recipient).")
    date: DateDraft
    location: PlaceDraft | None = Field(description="Where the event happened, or null.")
    fatalities: FatalitiesDraft
    weapons: list[str] = Field(
        description=f"Weapons or means used (e.g. 'rocket', 'car bomb'), each {_VERBATIM}."
    )
    factuality: Factuality = Field(description="How the report presents the event.")
    evidence: list[str] = Field(
        min_length=1, description=f"Sentences or clauses that state the event, {_VERBATIM}."
    )


class QuoteDraft(BaseModel):
    text: str = Field(description=f"The quoted words without quote marks, {_VERBATIM}.")
    speaker: ActorDraft = Field(description="Who said it; evidence names the speaker nearby.")


class BulletDraft(BaseModel):
    text: str = Field(description="One factual statement; names and numbers as in the article.")
    evidence: list[str] = Field(
        min_length=1, description=f"The passages supporting the bullet, {_VERBATIM}."
    )


class SummaryDraft(BaseModel):
    headline: str = Field(description="At most 15 words.")
    one_sentence: str
    bullets: list[BulletDraft] = Field(min_length=3, max_length=6)


class Extraction(BaseModel):
    """Everything one call extracts from one article."""

    language: str = Field(description="ISO 639-1 code of the article's language.")
    events: list[EventDraft]
    quotes: list[QuoteDraft] = Field(description="Direct quotations with their speakers.")
    summary: SummaryDraft


# --------------------------------------------------------------------------- output contract


class Actor(ActorDraft):
    evidence: Span | None = None  # type: ignore[assignment]


class DateRef(DateDraft):
    anchor: dt.date | None = Field(default=None, description="Date the text was resolved against.")
    evidence: Span | None = None


class Place(PlaceDraft):
    """The place as extracted, plus what :mod:`summarizer.geocode` resolved it to: the point,
    the GeoNames id and name, admin1/admin2 names, ACLED's ``geo_precision`` (1 the town, 2 near
    it or district-level, 3 region or country) and ``geo_note`` (how it was resolved, or why not).
    """

    evidence: Span | None = None
    latitude: float | None = None
    longitude: float | None = None
    geonames_id: int | None = None
    geo_name: str | None = None
    admin1_name: str | None = None
    admin2: str | None = None
    geo_precision: int | None = None
    geo_note: str | None = None


class Fatalities(FatalitiesDraft):
    evidence: Span | None = None


class Event(EventDraft):
    id: str
    actors: list[Actor]  # type: ignore[assignment]
    targets: list[Actor]  # type: ignore[assignment]
    date: DateRef
    location: Place | None
    fatalities: Fatalities
    weapons: list[Span]  # type: ignore[assignment]
    evidence: list[Span]  # type: ignore[assignment]


class Quote(QuoteDraft):
    id: str = Field(default="", description="q1, q2, ...: the quotation's place in the answer.")
    speaker: Actor
    span: Span


class Bullet(BulletDraft):
    id: str = Field(default="", description="b1, b2, ...: the bullet's place in the answer.")
    evidence: list[Span]  # type: ignore[assignment]


class Summary(SummaryDraft):
    bullets: list[Bullet]  # type: ignore[assignment]

    @model_validator(mode="after")
    def _bullet_ids(self) -> Summary:
        _number(self.bullets, "summary.bullets")
        return self


# --------------------------------------------------------------------------- stable item ids

ITEMS = {"events": "e", "quotes": "q", "summary.bullets": "b"}
"""Lists whose items carry a stable id: the list's path and the id's letter."""
_ITEM_PATH = re.compile(r"^(events|quotes|summary\.bullets)\[(\d+)\]")


def item_id(kind: str, position: int) -> str:
    """The id of the item at ``position`` in the model's answer (``e1``, ``q2``, ``b3``). Ids are
    given before unaligned items are dropped, so they stay with their item."""
    return f"{ITEMS[kind]}{position + 1}"


def item_path(kind: str, item: str, position: int) -> str:
    """The path of an item, by its place in the model's answer (which its id records); an item
    whose id is not of that form is placed by ``position``."""
    m = re.fullmatch(rf"{ITEMS[kind]}([1-9]\d*)", item)
    return f"{kind}[{int(m[1]) - 1 if m else position}]"


def _number(items: list[Any], kind: str) -> None:
    """Give items stored without an id (records from before ids) the id of their position."""
    for position, item in enumerate(items):
        item.id = item.id or item_id(kind, position)


class ArticleMeta(BaseModel):
    id: str
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: dt.date | None = None
    language: str | None = None
    text_sha256: str


class Issue(BaseModel):
    severity: Severity
    path: str
    code: str
    message: str
    item: str | None = Field(
        default=None,
        description="Id of the event, quote or bullet the issue is about (e1, q2, b3), read from "
        "the path, whose index is the item's place in the model's answer; null for the record.",
    )

    @model_validator(mode="after")
    def _item_from_path(self) -> Issue:
        m = _ITEM_PATH.match(self.path)
        if self.item is None and m:
            self.item = item_id(m[1], int(m[2]))
        return self

    @property
    def is_error(self) -> bool:
        """An error fails the record (``validation.ok``); a warning only informs."""
        return self.severity == "error"


class Validation(BaseModel):
    ok: bool
    issues: list[Issue] = Field(default_factory=list)
    alignment: dict[str, int] = Field(
        default_factory=dict, description="How many spans aligned exactly, normalised or fuzzily."
    )


class Usage(BaseModel):
    model: str | None = None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    latency_s: float = 0.0
    estimated: bool = Field(
        default=False,
        description="A reply came without token counts; summarizer counted them (tiktoken).",
    )


class Provenance(BaseModel):
    summarizer_version: str
    prompt_version: str
    model: str
    created_at: dt.datetime
    endpoint: str | None = Field(
        default=None,
        description="Where the model was called: scheme://host[:port], no credentials or path "
        "(None in records made before it was kept).",
    )


class ArticleAnalysis(BaseModel):
    """The stable, JSON-serialisable result for one article."""

    model_config = ConfigDict(title="ArticleAnalysis")

    article: ArticleMeta
    events: list[Event]
    quotes: list[Quote]
    summary: Summary
    validation: Validation
    usage: Usage
    provenance: Provenance

    @model_validator(mode="after")
    def _quote_ids(self) -> ArticleAnalysis:
        _number(self.quotes, "quotes")
        return self
