"""Optional model adjudication of borderline pairs (``resolve --adjudicate``).

The match weights decide most pairs; a pair whose weight lies within :data:`BAND_BITS` of the
resolver's threshold goes to the model, one structured call per pair, and its verdict overrides
the weights' decision (:mod:`summarizer.resolution` applies it under the same-article and
stable-id rules). A verdict counts only when it is consistent (``same_event`` is
``relation == "same"``) and every span it cites is copied verbatim (exact, or up to case, spaces,
quote marks and dashes: :mod:`summarizer.grounding`) from the two events' evidence; otherwise the
pair keeps the weights' decision and the refusal is recorded. Answers are cached in SQLite by a
hash of the pair's content, the prompt version, the model and the request options, so a rerun
makes no call. Templates: ``prompts/adjudicate_system.j2``, ``prompts/adjudicate_user.j2`` (the
events reach the user template as the variable ``{{ events }}``, between tags no event text
contains).
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from summarizer import llm, prompts
from summarizer.batch.cache import default_path as analyses_cache_path
from summarizer.batch.cost import PRICES, dollars, price_for
from summarizer.batch.journal import make_folder
from summarizer.errors import InputError, ModelError, ProviderError
from summarizer.grounding import aligner
from summarizer.resources import data_dir
from summarizer.schema import Usage
from summarizer.settings import Settings

BAND_BITS = 4.0
"""A pair goes to the model when ``|match weight - threshold| < 4`` bits: match probability
between 1/17 and 16/17, where one moderately informative field (a date a day off, +3.5; a city
written as its county, +2.3; evidence that reads alike or not, +2.8/-2.3; a name in common
where none was expected) could flip the decision. Set from the m/u table, not from any split;
pairs outside the band are decided by the weights alone (no call)."""

SYSTEM_TEMPLATE = "adjudicate_system.j2"
USER_TEMPLATE = "adjudicate_user.j2"
Relation = Literal["same", "follow_up", "different"]


class PairVerdict(BaseModel):
    """Whether two event reports describe the same real-world event."""

    same_event: bool = Field(description="True when both reports describe one event.")
    relation: Relation = Field(
        description="same: one event; follow_up: one is a later step (arrest, charge, court "
        "hearing, funeral) of the other; different: unrelated events."
    )
    reasons: str = Field(description="Which facts agree or differ, briefly.")
    spans: list[str] = Field(
        description="The evidence texts the verdict relies on, each copied verbatim from the "
        "events' evidence."
    )


@functools.cache
def _templates() -> tuple[str, str]:
    folder = data_dir("prompts")
    return tuple(  # type: ignore[return-value]
        (folder / name).read_text(encoding="utf-8") for name in (SYSTEM_TEMPLATE, USER_TEMPLATE)
    )


def prompt_version() -> str:
    system, user = _templates()
    return hashlib.sha256(f"{system}\0{user}".encode()).hexdigest()[:12]


def messages() -> list[dict[str, str]]:
    system, user = _templates()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


_SHOWN = (
    "summary", "date", "precision", "date_text", "place_text", "country", "admin1", "actors",
    "targets", "kind", "plover", "acled_sub_event_type", "fatalities", "fatalities_text",
    "factuality",
)  # fmt: skip
"""The mention fields the model sees, besides its article and evidence."""


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """What the model is shown of one event: its fields, evidence texts and article."""
    event = {k: row[k] for k in _SHOWN}
    event["date"] = str(row["date"]) if row["date"] else None
    event["evidence"] = [s["text"] for s in json.loads(row["evidence"])]
    published = row.get("published")
    event["article"] = {
        "id": row["article_id"],
        "title": row.get("title"),
        "source": row.get("source"),
        "published": str(published) if published else None,
    }
    return event


def context(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Template variables: the two events as JSON, and a tag name neither of them contains."""
    text = json.dumps({"A": shown(a), "B": shown(b)}, indent=1, ensure_ascii=False)
    return {"events": text, "boundary": prompts.boundary(text)}


def check(verdict: PairVerdict, a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why ``verdict`` cannot be used, or None: it must be consistent and cite at least one
    span, each found verbatim (not fuzzily) in the evidence of ``a`` or ``b``."""
    if verdict.same_event != (verdict.relation == "same"):
        return f"same_event={verdict.same_event} contradicts relation={verdict.relation}"
    if not verdict.spans:
        return "no evidence span cited"
    evidence = [s["text"] for row in (a, b) for s in json.loads(row["evidence"])]
    for span in verdict.spans:
        found = (aligner(t).align(span) for t in evidence)
        if not any(f is not None and f.method != "fuzzy" for f in found):
            return f"span not in the evidence: {span[:200]!r}"
    return None


class VerdictCache:
    """Verdicts by key in one SQLite file (``adjudications.sqlite`` next to the analyses
    cache by default); an unusable path is an :class:`InputError`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            make_folder(path)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict TEXT NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise InputError(f"cannot use {path} as the adjudication cache: {reason}") from None

    def get(self, key: str) -> PairVerdict | None:
        row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        try:
            return PairVerdict.model_validate_json(row[0]) if row else None
        except ValueError:  # damaged: ask again and overwrite it
            return None

    def put(self, key: str, verdict: PairVerdict) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO verdicts VALUES (?, ?)", (key, verdict.model_dump_json())
        )

    def close(self) -> None:
        self._db.close()


def default_cache_path() -> Path:
    return analyses_cache_path().with_name("adjudications.sqlite")


@dataclass
class Adjudicator:
    """Asks the model about pairs, caches the answers and counts what they cost."""

    settings: Settings
    cache_path: Path | None = None
    client: Any = None
    usage: Usage = field(default_factory=Usage)
    pairs: int = 0  # pairs judged in this run
    cached: int = 0  # of them, answered from the cache
    _cache: VerdictCache | None = field(default=None, init=False, repr=False)

    def key(self, ctx: dict[str, Any]) -> str:
        parts = {
            "events": ctx["events"],
            "prompt": prompt_version(),
            "model": str(llm.resolve(self.settings)),
            "base_url": self.settings.base_url,
            "options": self.settings.model_dump(
                include={"mode", "temperature", "max_tokens", "max_retries"}
            ),
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def judge(self, a: dict[str, Any], b: dict[str, Any], weight: float) -> dict[str, Any]:
        """The verdict on mentions ``a`` and ``b`` (rows with their article's title, source
        and published) as recorded under ``match.adjudicated``; ``relation`` is None when
        there is no usable verdict. A provider failure raises :class:`ProviderError`."""
        if self._cache is None:
            self._cache = VerdictCache(self.cache_path or default_cache_path())
        ctx = context(a, b)
        key = self.key(ctx)
        self.pairs += 1
        verdict = self._cache.get(key)
        problem = None
        if verdict is not None:
            self.cached += 1
        else:
            verdict, problem = self._ask(ctx, a)
            if verdict is not None:
                self._cache.put(key, verdict)
        if verdict is not None:
            problem = check(verdict, a, b)
        return {
            "pair": [{"article_id": r["article_id"], "event_id": r["event_id"]} for r in (a, b)],
            "match_weight": round(weight, 4),
            "relation": None if problem else verdict.relation,  # type: ignore[union-attr]
            "answer": verdict.model_dump() if verdict else None,
            "refused": problem,
            "model": str(llm.resolve(self.settings)),
            "prompt_version": prompt_version(),
        }

    def _ask(self, ctx: dict[str, Any], a: dict[str, Any]) -> tuple[PairVerdict | None, str | None]:
        if self.client is None:
            self.client = llm.client(self.settings)
        outcome = llm.call(
            self.client, self.settings, messages(), ctx, PairVerdict, record_id=a["article_id"]
        )
        add(self.usage, outcome.usage)
        if isinstance(outcome.value, PairVerdict):
            return outcome.value, None
        if isinstance(outcome.error, ModelError) and not isinstance(outcome.error, ProviderError):
            return None, str(outcome.error)  # no valid answer: the weights decide
        raise outcome.error or RuntimeError("no verdict")

    def summary(self) -> dict[str, Any]:
        """What adjudication spent in this run (the meta table's ``adjudication``)."""
        cost = dollars(self.usage, price_for(self.settings.model, PRICES))
        return {
            "pairs": self.pairs,
            "from_cache": self.cached,
            **self.usage.model_dump(
                include={"calls", "prompt_tokens", "completion_tokens", "cached_tokens"}
            ),
            "cost_usd": None if cost is None else round(cost, 6),
        }

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def add(total: Usage, usage: Usage) -> None:
    """Add ``usage`` into ``total``."""
    total.model = total.model or usage.model
    total.calls += usage.calls
    total.prompt_tokens += usage.prompt_tokens
    total.completion_tokens += usage.completion_tokens
    total.cached_tokens += usage.cached_tokens
    total.latency_s = round(total.latency_s + usage.latency_s, 3)
    total.estimated = total.estimated or usage.estimated


def totals(before: dict[str, Any] | None, run: dict[str, Any]) -> dict[str, Any]:
    """The data set's running adjudication totals: ``before`` (stored) plus this ``run``."""
    if not before:
        return run
    out = {k: (before.get(k) or 0) + (v or 0) for k, v in run.items() if k != "cost_usd"}
    costs = [before.get("cost_usd"), run.get("cost_usd")]
    out["cost_usd"] = None if None in costs else round(sum(costs), 6)  # type: ignore[arg-type]
    return out
