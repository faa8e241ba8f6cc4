"""Evaluation stage: run the pipeline over a MUCSUM-format data set and score it.

A data set is ``{doc_id: [example, ...]}`` where every example of a document has the same
``document`` (lower-cased sentences; the article is them joined with one space), a gold
``template`` (``type``, ``completion``, ``date``, ``location``, ``perpind``, ``perporg``,
``target``, ``victim``, ``weapon``: lists of strings) and ``summary`` (human sentences).

Matching rules
--------------
* Records belong to documents by ``article.text_sha256``.
* Event type: our codes map to a MUC type with :func:`muc_type` (the inverse of
  ``tests/derive_mucsum.py``): ASSAULT/explosives or suicide-attack -> bombing, ASSAULT/abduct ->
  kidnapping, ASSAULT/destroy -> arson, any other ASSAULT -> attack (an ACLED explosion or
  abduction sub-type decides when the mode says nothing); COERCE/seize -> robbery,
  COERCE/restrict -> forced work stoppage; THREATEN/violence -> attack and THREATEN/restrict ->
  forced work stoppage (MUC's "threatened" completion); everything else has no MUC type.
* Strings match after folding case and accents, keeping only letters and digits and dropping a
  leading article: exactly (preferred) or when one string's words are a contiguous run of the
  other's ("president cerezo" ~ "cerezo"). Each gold string is matched at most once, each
  prediction at most once, exact pairs first. An actor or target matches by its name or by its
  evidence text.
* Slots: perpetrator = gold perpind + perporg against our actors; victim and target = gold victim
  and target against one pool, our targets (a target counts as a prediction of the slot whose gold
  it matched, and an unmatched one as a false prediction of both); weapon = gold weapon against
  ``weapons``; location and date are single-valued: one gold fill per event that has any (its
  strings are alternatives, e.g. city and country) and our ``location.text`` / ``date.text``.
* Events within a document are aligned greedily by the number of slot matches plus one for an
  equal MUC type (ties: file order); pairs with nothing in common stay unaligned. Unaligned gold
  events count all their gold fills as missed; unaligned predicted events all their fills as false.
* Type accuracy = aligned events with the gold type / gold events. Slot precision, recall and F1
  are micro-averaged over all events; ``all`` pools the six slots.
* ROUGE-1/2/L (``rouge-score``, Porter stemming): F1 of each aligned event's ``summary`` against
  the gold example's summary sentences joined, averaged over gold events (0 for an unaligned one).
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rouge_score import rouge_scorer

from summarizer.batch.engine import Job, Options
from summarizer.batch.journal import ErrorRecord, Record
from summarizer.errors import InputError
from summarizer.records import sha256
from summarizer.resources import data_dir
from summarizer.schema import ArticleAnalysis, Event
from summarizer.settings import Settings
from summarizer.source import make_article

DATASETS = {"mucsum-dev": ("tests/data/mucsum", "dev-sample.json")}
"""Named data sets shipped with the project (the MUCSUM dev sample)."""

SLOTS = ("perpetrator", "target", "victim", "weapon", "location", "date")
ROUGE = ("rouge1", "rouge2", "rougeL")
_TEMPLATE_KEYS = ("type", "date", "location", "perpind", "perporg", "target", "victim", "weapon")

Dataset = dict[str, list[dict[str, Any]]]


# --------------------------------------------------------------------------- data


def load_dataset(name: str) -> Dataset:
    """A named data set (:data:`DATASETS`) or a MUCSUM-format JSON file; bad files are an
    :class:`InputError` naming the problem."""
    if name in DATASETS:
        folder, file = DATASETS[name]
        path = data_dir(folder) / file
    else:
        path = Path(name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(DATASETS)
        raise InputError(f"no data set {name!r} (named ones: {known}; or give a path)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read data set {path}: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: expected a non-empty {{doc_id: [example, ...]}} object")
    for doc_id, examples in data.items():
        where = f"{path}: document {doc_id!r}"
        if not isinstance(examples, list) or not examples:
            raise InputError(f"{where}: expected a non-empty list of examples")
        for example in examples:
            if not isinstance(example, dict) or not isinstance(example.get("document"), list):
                raise InputError(f"{where}: an example has no 'document' sentence list")
            missing = [k for k in _TEMPLATE_KEYS if k not in example.get("template", {})]
            if missing or not isinstance(example.get("summary"), list):
                raise InputError(f"{where}: template or summary incomplete ({missing})")
        if any(e["document"] != examples[0]["document"] for e in examples):
            raise InputError(f"{where}: its examples disagree on the document text")
    return data


def document_text(examples: list[dict[str, Any]]) -> str:
    return " ".join(examples[0]["document"])


@dataclass
class Run:
    """Pipeline output for a data set: records, and one error entry per failed document."""

    records: list[ArticleAnalysis] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def job(
    settings: Settings,
    *,
    concurrency: int = 8,
    rpm: float | None = None,
    tpm: float | None = None,
) -> Job:
    """The batch job an evaluation runs in: ``concurrency`` articles in flight at the ``rpm`` /
    ``tpm`` pace given, no cache (every document is analysed) and no output file."""
    return Job(settings, Options(concurrency=concurrency, rpm=rpm, tpm=tpm, cache=False))


def run_pipeline(dataset: Dataset, settings: Settings, *, runner: Job | None = None) -> Run:
    """Analyse every document (id ``mucsum-<doc_id>``) concurrently in ``runner`` (default
    :func:`job`); records and errors come back in data set order, so scores do not depend on
    which finished first. A document the model fails on becomes an error entry, and so does one
    a stopped job left undone; configuration errors stop the run."""
    runner = runner or job(settings)
    articles = [
        make_article(document_text(examples), id=f"mucsum-{doc_id}")
        for doc_id, examples in dataset.items()
    ]

    async def collect() -> dict[str, Record]:
        return {
            r.id if isinstance(r, ErrorRecord) else r.article.id: r
            async for r in runner.run(articles)
        }

    found = asyncio.run(collect())
    run = Run()
    for article in articles:
        record = found.get(article.key)
        if isinstance(record, ArticleAnalysis):
            run.records.append(record)
        elif record is not None:
            run.errors.append({"id": article.key, "code": record.code, "message": record.message})
        else:
            why = runner.stats.stopped or "not analysed"
            run.errors.append({"id": article.key, "code": "not_run", "message": why})
    return run


# --------------------------------------------------------------------------- matching

_WORD = re.compile(r"[0-9a-z]+")
_LEADING = {"the", "a", "an"}


def words(text: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKD", text.lower())
    found = _WORD.findall("".join(c for c in folded if not unicodedata.combining(c)))
    while found and found[0] in _LEADING:
        found.pop(0)
    return tuple(found)


def _contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    n = len(inner)
    return any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))


def quality(predicted: str, gold: str) -> int:
    """2 for the same words, 1 when one is a contiguous run of the other's words, else 0."""
    p, g = words(predicted), words(gold)
    if not p or not g:
        return 0
    if p == g:
        return 2
    return 1 if _contains(p, g) or _contains(g, p) else 0


def assign(predicted: Sequence[Sequence[str]], gold: Sequence[str]) -> dict[int, int]:
    """One-to-one ``{gold index: predicted index}``; each prediction has alternative strings."""
    pairs = [
        (q, g, p)
        for g, gold_text in enumerate(gold)
        for p, options in enumerate(predicted)
        if (q := max((quality(o, gold_text) for o in options), default=0))
    ]
    matched: dict[int, int] = {}
    for _, g, p in sorted(pairs, key=lambda t: (-t[0], t[1], t[2])):
        if g not in matched and p not in matched.values():
            matched[g] = p
    return matched


def muc_type(event: Event) -> str | None:
    """The MUC template type our codes correspond to (rule in the module docstring)."""
    mode, sub = event.plover_mode, event.acled_sub_event_type
    if event.plover == "ASSAULT":
        if mode in ("explosives", "suicide-attack"):
            return "bombing"
        if mode == "abduct":
            return "kidnapping"
        if mode == "destroy":
            return "arson"
        if mode is None and sub in ("Remote explosive/landmine/IED", "Suicide bomb", "Grenade"):
            return "bombing"
        if mode is None and sub == "Abduction/forced disappearance":
            return "kidnapping"
        return "attack"
    if event.plover == "COERCE":
        return {"seize": "robbery", "restrict": "forced work stoppage"}.get(mode or "")
    if event.plover == "THREATEN":
        return {"violence": "attack", "restrict": "forced work stoppage"}.get(mode or "")
    return None


# --------------------------------------------------------------------------- scoring


@dataclass
class Counts:
    tp: int = 0
    predicted: int = 0
    gold: int = 0

    def add(self, tp: int, predicted: int, gold: int) -> None:
        self.tp, self.predicted, self.gold = (
            self.tp + tp,
            self.predicted + predicted,
            self.gold + gold,
        )

    def scores(self) -> dict[str, float | int]:
        p = self.tp / self.predicted if self.predicted else 0.0
        r = self.tp / self.gold if self.gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"tp": self.tp, "predicted": self.predicted, "gold": self.gold,
                "precision": p, "recall": r, "f1": f}  # fmt: skip


def _people(actors: Iterable[Any]) -> list[list[str]]:
    return [[a.name] + ([a.evidence.text] if a.evidence else []) for a in actors]


def slot_counts(event: Event | None, template: dict[str, Any] | None) -> dict[str, tuple[int, ...]]:
    """``{slot: (tp, predicted, gold)}`` for one aligned pair (either side may be missing)."""
    t = template or dict.fromkeys(_TEMPLATE_KEYS, ())
    actors = _people(event.actors) if event else []
    targets = _people(event.targets) if event else []
    weapons = [[w.text] for w in event.weapons] if event else []
    perps = t["perpind"] + t["perporg"]
    out: dict[str, tuple[int, ...]] = {}
    out["perpetrator"] = (len(assign(actors, perps)), len(actors), len(perps))
    out["weapon"] = (len(assign(weapons, t["weapon"])), len(weapons), len(t["weapon"]))
    pool = [("victim", v) for v in t["victim"]] + [("target", v) for v in t["target"]]
    matched = assign(targets, [v for _, v in pool])
    unmatched = len(targets) - len(matched)
    for slot in ("target", "victim"):
        hits = sum(pool[g][0] == slot for g in matched)
        out[slot] = (hits, hits + unmatched, len(t[slot]))
    place = event.location.text if event and event.location else None
    date = event.date.text if event else None
    for slot, value in (("location", place), ("date", date)):
        alternatives = t[slot]
        hit = bool(value) and any(quality(value, g) for g in alternatives)
        out[slot] = (int(hit), int(bool(value)), int(bool(alternatives)))
    return out


def align(events: list[Event], examples: list[dict[str, Any]]) -> dict[int, int]:
    """``{gold index: predicted index}`` for one document (rule in the module docstring)."""
    pairs = []
    for g, example in enumerate(examples):
        for p, event in enumerate(events):
            shared = sum(c[0] for c in slot_counts(event, example["template"]).values())
            score = shared + (muc_type(event) == example["template"]["type"])
            if score:
                pairs.append((score, g, p))
    matched: dict[int, int] = {}
    for _, g, p in sorted(pairs, key=lambda t: (-t[0], t[1], t[2])):
        if g not in matched and p not in matched.values():
            matched[g] = p
    return matched


def score(dataset: Dataset, records: Iterable[ArticleAnalysis]) -> dict[str, Any]:
    """Scores of ``records`` against the gold templates and summaries of ``dataset``."""
    by_text = {r.article.text_sha256: r for r in records}
    scorer = rouge_scorer.RougeScorer(list(ROUGE), use_stemmer=True)
    slots = {s: Counts() for s in SLOTS}
    rouge = dict.fromkeys(ROUGE, 0.0)
    gold_events = predicted_events = aligned = typed = scored_docs = 0
    for examples in dataset.values():
        record = by_text.get(sha256(document_text(examples)))
        events = record.events if record else []
        scored_docs += record is not None
        matched = align(events, examples)
        gold_events += len(examples)
        predicted_events += len(events)
        aligned += len(matched)
        pairs = [
            (events[matched[g]] if g in matched else None, ex) for g, ex in enumerate(examples)
        ]
        pairs += [(e, None) for p, e in enumerate(events) if p not in matched.values()]
        for event, example in pairs:
            template = example["template"] if example else None
            for slot, counts in slot_counts(event, template).items():
                slots[slot].add(*counts)
            if event and example:
                typed += muc_type(event) == example["template"]["type"]
                found = scorer.score(" ".join(example["summary"]), event.summary)
                for name in ROUGE:
                    rouge[name] += found[name].fmeasure
    pooled = Counts()
    for counts in slots.values():
        pooled.add(counts.tp, counts.predicted, counts.gold)
    return {
        "documents": len(dataset),
        "documents_scored": scored_docs,
        "events": {"gold": gold_events, "predicted": predicted_events, "aligned": aligned},
        "type_accuracy": typed / gold_events if gold_events else 0.0,
        "slots": {s: c.scores() for s, c in slots.items()} | {"all": pooled.scores()},
        "rouge": {k: v / gold_events if gold_events else 0.0 for k, v in rouge.items()},
    }


def table(scores: dict[str, Any]) -> str:
    """A plain-text table of ``scores`` for people."""
    ev = scores["events"]
    lines = [
        f"documents {scores['documents_scored']}/{scores['documents']} scored · events: "
        f"{ev['gold']} gold, {ev['predicted']} predicted, {ev['aligned']} aligned · "
        f"type accuracy {scores['type_accuracy']:.3f}",
        "",
        f"{'slot':<12} {'P':>6} {'R':>6} {'F1':>6} {'tp':>5} {'pred':>5} {'gold':>5}",
    ]
    for slot, s in scores["slots"].items():
        lines.append(
            f"{slot:<12} {s['precision']:>6.3f} {s['recall']:>6.3f} {s['f1']:>6.3f} "
            f"{s['tp']:>5} {s['predicted']:>5} {s['gold']:>5}"
        )
    rouge = " · ".join(f"{k} {v:.3f}" for k, v in scores["rouge"].items())
    lines += ["", f"event summaries (ROUGE F1): {rouge}"]
    return "\n".join(lines)
