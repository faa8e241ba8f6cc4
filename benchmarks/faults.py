"""Fault-injection benchmark: does every mechanical hallucination get caught?

The corpus is generated from the hand-checked answers in ``tests/responses/`` (the seed article
and 12 MUCSUM documents). Each fault type is injected at every place it applies (every quote,
actor, event, span, bullet...), one fault per instance; each instance runs through grounding and
the checks exactly as the pipeline does (:func:`summarizer.checks.review` for answers,
:func:`summarizer.validate.recheck` for stored records). An instance is *detected* when an error
with one of the fault's codes is reported at the faulty path. False alarms: errors on the
untouched answers and records.

    python benchmarks/faults.py     # prints the table, writes benchmarks/results/faults.json
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer.checks import review
from summarizer.faithfulness import FUNCTION_WORDS
from summarizer.grounding import Aligner, attribution_window, normalize
from summarizer.report import _issue_places
from summarizer.schema import ArticleAnalysis, Extraction, Span, item_id
from summarizer.taxonomy import ACLED, CAMEO_TO_PLOVER, PLOVER
from summarizer.validate import recheck

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
FABRICATED = [
    "We will never negotiate with anyone, ever.",
    "The operation was a complete success and no civilian was harmed",
    "Our forces are ready to respond to any aggression at any time",
]
INVENTED_NAMES = ["Brigadier Tomas Halvorsen", "the Northern Liberation Front", "Ministry of Tides"]
BAD_COUNTRIES = ["XXX", "US", "UK", "IRQQ", "ZZZ"]
CLAIMS = [" Seventeen soldiers died.", " Officials in Reykjavik confirmed it.", " 41 were hurt."]


@dataclass
class Case:
    fault: str
    article: str
    path: str  # where the error must be reported (prefix)
    codes: frozenset[str]
    answer: dict[str, Any] | None = None  # an answer to review, or
    record: ArticleAnalysis | None = None  # a stored record to re-check, or
    judge: Callable[[Source], tuple[bool, list[str]]] | None = None  # a check of its own


@dataclass
class Source:
    id: str
    text: str
    published: dt.date | None
    answer: dict[str, Any]
    record: ArticleAnalysis


def sources() -> list[Source]:
    found = []
    for path in sorted((ROOT / "tests" / "responses").glob("*.json")):
        article = ROOT / "examples" / f"{path.stem}.txt"
        meta_path = article.with_suffix(".json")
        if not article.exists():
            article = ROOT / "tests" / "data" / "articles" / f"{path.stem}.txt"
        meta = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
        published = dt.date.fromisoformat(meta["published"]) if meta.get("published") else None
        text = article.read_text("utf-8")
        answer = json.loads(path.read_text("utf-8"))
        found.append(Source(path.stem, text, published, answer, _record(path.stem, text, answer)))
    return found


def _record(article_id: str, text: str, answer: dict[str, Any], published: Any = None) -> Any:
    """A stored record as the pipeline would write it (validation from the review)."""
    result = review(Extraction.model_validate(answer), text, published)
    g = result.grounded
    return ArticleAnalysis.model_validate(
        {
            "article": {
                "id": article_id,
                "published": published,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "language": answer["language"],
            },
            "events": [e.model_dump() for e in g.events],
            "quotes": [q.model_dump() for q in g.quotes],
            "summary": g.summary.model_dump(),
            "validation": {
                "ok": not result.errors,
                "issues": [i.model_dump() for i in result.issues],
                "alignment": {},
            },
            "usage": {},
            "provenance": {
                "summarizer_version": "bench",
                "prompt_version": "bench",
                "model": "hand-checked",
                "created_at": "2024-01-01T00:00:00Z",
            },
        }
    )


def _edit(answer: dict[str, Any], fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    new = copy.deepcopy(answer)
    fn(new)
    return new


def _mentions(text: str, words: str) -> bool:
    return normalize(words)[0] in normalize(text)[0]


# --------------------------------------------------------------------------- answer faults


def fabricated_quote(s: Source) -> Iterator[Case]:
    for i, q in enumerate(s.answer["quotes"]):
        variants = [*FABRICATED, " ".join(reversed(q["text"].split()))]
        for text in variants:
            if not _mentions(s.text, text):
                yield _case(s, "fabricated quote", f"quotes[{i}].text", {"span_unaligned"}, i, text)


def _case(s: Source, fault: str, path: str, codes: set[str], i: int, text: str) -> Case:
    def put(a: dict[str, Any]) -> None:
        a["quotes"][i]["text"] = text

    return Case(fault, s.id, path, frozenset(codes), answer=_edit(s.answer, put))


def quote_word_changed(s: Source) -> Iterator[Case]:
    for i, q in enumerate(s.answer["quotes"]):
        words = q["text"].split()
        for j in range(0, len(words), max(1, len(words) // 5)):
            changed = [*words[:j], "never" if words[j] != "never" else "always", *words[j + 1 :]]
            text = " ".join(changed)
            if not _mentions(s.text, text):
                codes = {"quote_not_verbatim", "span_unaligned"}
                yield _case(s, "quote word changed", f"quotes[{i}]", codes, i, text)


def speaker_swapped(s: Source) -> Iterator[Case]:
    aligner = Aligner(s.text)
    names = {a["evidence"] for e in s.answer["events"] for a in e["actors"] + e["targets"]}
    names |= {q["speaker"]["evidence"] for q in s.answer["quotes"]}
    for i, q in enumerate(s.answer["quotes"]):
        found = aligner.align(q["text"])
        if found is None:
            continue
        lo, hi = attribution_window(s.text, found.span)
        for name in sorted(names - {q["speaker"]["evidence"]}):
            hits = [m.start() for m in re.finditer(re.escape(name), s.text)]
            if hits and all(not lo <= h < hi for h in hits):  # named only outside the window

                def put(a: dict[str, Any], i: int = i, name: str = name) -> None:
                    a["quotes"][i]["speaker"]["evidence"] = name
                    a["quotes"][i]["speaker"]["name"] = name

                yield Case(
                    "speaker swapped",
                    s.id,
                    f"quotes[{i}].speaker",
                    frozenset({"speaker_far"}),
                    answer=_edit(s.answer, put),
                )


def actor_absent(s: Source) -> Iterator[Case]:
    for i, e in enumerate(s.answer["events"]):
        for role in ("actors", "targets"):
            for j in range(len(e[role])):
                for name in INVENTED_NAMES:

                    def put(a: dict[str, Any], i: int = i, role: str = role, j: int = j) -> None:
                        a["events"][i][role][j]["evidence"] = name  # noqa: B023
                        a["events"][i][role][j]["name"] = name  # noqa: B023

                    yield Case(
                        "actor/target absent from text",
                        s.id,
                        f"events[{i}].{role}[{j}].evidence",
                        frozenset({"span_unaligned"}),
                        answer=_edit(s.answer, put),
                    )


def _event_cases(
    s: Source, fault: str, codes: set[str], edits: Callable[[dict[str, Any]], Iterator[Any]]
) -> Iterator[Case]:
    """One case per (event, edit); ``edits(event)`` yields functions that change the event."""
    for i, e in enumerate(s.answer["events"]):
        for change in edits(e):

            def put(a: dict[str, Any], i: int = i, change: Any = change) -> None:
                change(a["events"][i])

            yield Case(fault, s.id, f"events[{i}]", frozenset(codes), answer=_edit(s.answer, put))


_WEEKDAY = re.compile(r"\b(mon|tues|wednes|thurs|fri|satur|sun)day\b", re.IGNORECASE)


def weekday_contradicted(s: Source) -> Iterator[Case]:
    def edits(e: dict[str, Any]) -> Iterator[Any]:
        d = e["date"]
        if d["text"] and d["resolved"] and _WEEKDAY.search(d["text"]):
            day = dt.date.fromisoformat(d["resolved"])
            for k in range(1, 7):
                yield lambda ev, k=k: ev["date"].update(resolved=str(day - dt.timedelta(k)))

    yield from _event_cases(s, "weekday contradicts the text", {"date_weekday"}, edits)


def future_asserted(s: Source) -> Iterator[Case]:
    def edits(e: dict[str, Any]) -> Iterator[Any]:
        if s.published is None or e["date"]["resolved"] is None:
            return
        for k in range(1, 11):
            later = str(s.published + dt.timedelta(k))
            for fact in ("asserted", "reported"):
                yield lambda ev, later=later, fact=fact: (
                    ev["date"].update(resolved=later),
                    ev.update(factuality=fact),
                )

    yield from _event_cases(s, "event after publication, asserted", {"date_future"}, edits)


def wrong_precision(s: Source) -> Iterator[Case]:
    def edits(e: dict[str, Any]) -> Iterator[Any]:
        d = e["date"]
        for p in ("day", "week", "month", "year", "unknown"):
            # The text fixes the precision, or the change breaks resolved <-> unknown.
            if p != d["precision"] and (d["text"] or "unknown" in (p, d["precision"])):
                yield lambda ev, p=p: ev["date"].update(precision=p)

    yield from _event_cases(s, "wrong precision", {"date_precision"}, edits)


def fatalities_changed(s: Source) -> Iterator[Case]:
    def edits(e: dict[str, Any]) -> Iterator[Any]:
        n = e["fatalities"]["max"]
        for v in sorted({n + 1, n + 2, n + 5, n * 10 + 7} - {n}):
            yield lambda ev, v=v: ev["fatalities"].update(min=v, max=v, estimated=False)

    yield from _event_cases(s, "fatalities changed", {"fatalities_unsupported"}, edits)


def fatalities_min_over_max(s: Source) -> Iterator[Case]:
    def edits(e: dict[str, Any]) -> Iterator[Any]:
        for k in (1, 2, 5):
            yield lambda ev, k=k: ev["fatalities"].update(min=ev["fatalities"]["max"] + k)

    yield from _event_cases(s, "fatalities min > max", {"fatalities_range"}, edits)


def unknown_country(s: Source) -> Iterator[Case]:
    places: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = []
    for i, e in enumerate(s.answer["events"]):
        for role in ("actors", "targets"):
            for j in range(len(e[role])):
                places.append(
                    (
                        f"events[{i}].{role}[{j}].country",
                        lambda a, i=i, r=role, j=j: a["events"][i][r][j],
                    )
                )
        if e["location"]:
            places.append(
                (f"events[{i}].location.country", lambda a, i=i: a["events"][i]["location"])
            )
    for i in range(len(s.answer["quotes"])):
        places.append((f"quotes[{i}].speaker.country", lambda a, i=i: a["quotes"][i]["speaker"]))
    for path, where in places:
        for code in BAD_COUNTRIES:

            def put(a: dict[str, Any], where: Any = where, code: str = code) -> None:
                where(a)["country"] = code

            yield Case(
                "unknown country code",
                s.id,
                path,
                frozenset({"country_unknown"}),
                answer=_edit(s.answer, put),
            )


_TAXONOMY = {
    "codes_disagree",
    "acled_sub_mismatch",
    "plover_mode_unknown",
    "acled_incomplete",
    "acled_unknown",
    "cameo_unknown",
    "plover_unknown",
}


def codes_disagree(s: Source) -> Iterator[Case]:
    def edits(e: dict[str, Any]) -> Iterator[Any]:
        for root, cats in CAMEO_TO_PLOVER.items():
            if e["plover"] not in cats:
                yield lambda ev, root=root: ev.update(cameo_root=root)
        for cat in PLOVER:
            if cat not in CAMEO_TO_PLOVER[e["cameo_root"]]:
                yield lambda ev, cat=cat: ev.update(plover=cat, plover_mode=None)
        for kind, subs in ACLED.items():
            if kind != e["acled_event_type"]:
                yield lambda ev, sub=subs[0]: ev.update(acled_sub_event_type=sub)

    yield from _event_cases(s, "PLOVER/ACLED/CAMEO disagree", _TAXONOMY, edits)


def bullet_claims_absent_fact(s: Source) -> Iterator[Case]:
    targets = [("summary.one_sentence", ("one_sentence",), {"summary_unsupported"})]
    targets += [
        (f"summary.bullets[{i}]", ("bullets", i, "text"), {"bullet_unsupported"})
        for i in range(len(s.answer["summary"]["bullets"]))
    ]
    for path, keys, codes in targets:
        for claim in CLAIMS:
            if any(_mentions(s.text, w) for w in re.findall(r"[A-Z][a-z]+|\d+", claim)[1:]):
                continue

            def put(a: dict[str, Any], keys: Any = keys, claim: str = claim) -> None:
                node = a["summary"]
                for k in keys[:-1]:
                    node = node[k]
                node[keys[-1]] += claim

            yield Case(
                "summary claims a number/name not in the source",
                s.id,
                path,
                frozenset(codes),
                answer=_edit(s.answer, put),
            )


_ENTITY = re.compile(r"\d+|(?<=\s)[A-Z][A-Za-z]+")


def evidence_not_supporting(s: Source) -> Iterator[Case]:
    """A bullet cites passages (another bullet's or an event's evidence) that lack one of its
    numbers or capitalised names: the fault exists only if such an entity is missing."""
    bullets = s.answer["summary"]["bullets"]
    passages = [b["evidence"] for b in bullets] + [e["evidence"] for e in s.answer["events"]]
    for i, b in enumerate(bullets):
        entities = set(_ENTITY.findall(b["text"]))
        for evidence in passages:
            cited = " ".join(evidence)
            if evidence == b["evidence"] or all(re.search(rf"\b{e}", cited) for e in entities):
                continue

            def put(a: dict[str, Any], i: int = i, evidence: list[str] = evidence) -> None:
                a["summary"]["bullets"][i]["evidence"] = list(evidence)

            yield Case(
                "evidence does not support the bullet",
                s.id,
                f"summary.bullets[{i}]",
                frozenset({"bullet_evidence_mismatch"}),
                answer=_edit(s.answer, put),
            )


def _actor_slots(answer: dict[str, Any]) -> Iterator[tuple[str, Callable[[dict[str, Any]], Any]]]:
    """Every actor, target and speaker of an answer: its path and a getter."""
    for i, e in enumerate(answer["events"]):
        for role in ("actors", "targets"):
            for j in range(len(e[role])):
                yield f"events[{i}].{role}[{j}]", lambda a, i=i, r=role, j=j: a["events"][i][r][j]
    for i in range(len(answer["quotes"])):
        yield f"quotes[{i}].speaker", lambda a, i=i: a["quotes"][i]["speaker"]


@functools.cache
def _corpus_names() -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """Every name the hand-checked answers give, by article; and the names (lower case) they
    give to each evidence text."""
    found: dict[str, list[str]] = {}
    aliases: dict[str, set[str]] = {}
    for s in sources():
        actors = [get(s.answer) for _, get in _actor_slots(s.answer)]
        found[s.id] = list(dict.fromkeys(a["name"] for a in actors))
        for a in actors:
            aliases.setdefault(normalize(a["evidence"])[0], set()).add(a["name"].lower())
    return found, aliases


def _content(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", normalize(text)[0]) if len(w) > 1} - FUNCTION_WORDS


def name_changed(s: Source) -> Iterator[Case]:
    """A name replaced by another entity's (from the same article, another article, or invented)
    while its evidence stays. Not a fault, so left out: a name the corpus gives to the same
    evidence, and a name all of whose words the evidence contains ('Iran's proxies' for 'Iran
    and its proxies')."""
    corpus, aliases = _corpus_names()
    others = [n for k, names in corpus.items() if k != s.id for n in names]
    for path, get in _actor_slots(s.answer):
        actor = get(s.answer)
        same = aliases[normalize(actor["evidence"])[0]]
        pool = corpus[s.id] + others[:: max(1, len(others) // 6)] + INVENTED_NAMES
        for name in dict.fromkeys(pool):
            if name.lower() in same or _content(name) <= _content(actor["evidence"]):
                continue

            def put(a: dict[str, Any], get: Any = get, name: str = name) -> None:
                get(a)["name"] = name

            fault = "speaker" if path.startswith("quotes") else "actor/target"
            yield Case(
                f"{fault} renamed, evidence kept",
                s.id,
                f"{path}.name",
                frozenset({"name_unsupported"}),
                answer=_edit(s.answer, put),
            )


def dropped_quote_named(s: Source) -> Iterator[Case]:
    """A fabricated quotation is dropped: its issue must name its own id (not the quote that
    takes its place), the report must show it apart, and ``validate`` must not call the record
    clean."""
    for i in range(len(s.answer["quotes"])):

        def put(a: dict[str, Any], i: int = i) -> None:
            a["quotes"][i]["text"] = FABRICATED[0]

        answer = _edit(s.answer, put)

        def judge(src: Source, answer: dict[str, Any] = answer, i: int = i) -> tuple[bool, list]:
            record = _record(src.id, src.text, answer, src.published)
            qid = item_id("quotes", i)
            named = [x for x in record.validation.issues if x.code == "span_unaligned"]
            general = _issue_places(record)[1]
            verdict = recheck(record, src.text)
            hit = (
                any(x.item == qid and x.path.startswith(f"quotes[{i}]") for x in named)
                and qid not in {q.id for q in record.quotes}
                and all(x in general for x in named)
                and bool(verdict.errors) == (not record.validation.ok)
            )
            return hit, sorted({x.code for x in verdict.errors})

        yield Case(
            "dropped quote: its issue names its own id",
            s.id,
            f"quotes[{i}]",
            frozenset({"span_unaligned"}),
            judge=judge,
        )


# --------------------------------------------------------------------------- record faults


def _spans(obj: Any, path: str) -> Iterator[tuple[str, Span]]:
    if isinstance(obj, Span):
        yield path, obj
    elif hasattr(type(obj), "model_fields"):
        for name in type(obj).model_fields:
            yield from _spans(getattr(obj, name), f"{path}.{name}" if path else name)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _spans(item, f"{path}[{i}]")


def offsets_wrong(s: Source) -> Iterator[Case]:
    parts = {"events": s.record.events, "quotes": s.record.quotes, "summary": s.record.summary}
    located = [found for name, part in parts.items() for found in _spans(part, name)]
    for n, (path, span) in enumerate(located):
        length = span.end - span.start
        invented = (n * 7919) % max(1, len(s.text) - length)
        for start, end in ((span.start + 1, span.end + 1), (span.start - 3, span.end - 3),
                           (span.start, span.end + 2), (invented, invented + length)):  # fmt: skip
            if start < 0 or s.text[start:end] == span.text:
                continue
            record = s.record.model_copy(deep=True)
            _set_span(record, path, start, end)
            yield Case(
                "shifted or invented offsets",
                s.id,
                path,
                frozenset({"span_mismatch"}),
                record=record,
            )


def _set_span(record: ArticleAnalysis, path: str, start: int, end: int) -> None:
    for name in ("events", "quotes", "summary"):
        for where, span in _spans(getattr(record, name), name):
            if where == path:
                span.start, span.end = start, end


FAULTS = [
    fabricated_quote,
    quote_word_changed,
    offsets_wrong,
    speaker_swapped,
    actor_absent,
    name_changed,
    dropped_quote_named,
    weekday_contradicted,
    future_asserted,
    wrong_precision,
    fatalities_changed,
    fatalities_min_over_max,
    unknown_country,
    codes_disagree,
    bullet_claims_absent_fact,
    evidence_not_supporting,
]


def detected(case: Case, source: Source) -> tuple[bool, list[str]]:
    if case.judge is not None:
        return case.judge(source)
    if case.record is not None:
        issues = recheck(case.record, source.text).issues
    else:
        assert case.answer is not None
        issues = review(
            Extraction.model_validate(case.answer), source.text, source.published
        ).issues
    errors = [i for i in issues if i.severity == "error"]
    hit = any(i.code in case.codes and i.path.startswith(case.path) for i in errors)
    return hit, sorted({i.code for i in errors})


def false_alarms(s: Source) -> list[str]:
    answer = review(Extraction.model_validate(s.answer), s.text, s.published)
    record = recheck(s.record, s.text)
    return [f"{i.path}: {i.code}" for i in answer.errors + record.errors]


def main() -> int:
    started = time.perf_counter()
    srcs = sources()
    rows: dict[str, dict[str, Any]] = {}
    for fault in FAULTS:
        for s in srcs:
            for case in fault(s):
                row = rows.setdefault(
                    case.fault, {"instances": 0, "detected": 0, "articles": set(), "missed": []}
                )
                hit, codes = detected(case, s)
                row["instances"] += 1
                row["detected"] += hit
                row["articles"].add(s.id)
                if not hit and len(row["missed"]) < 5:
                    row["missed"].append({"article": s.id, "path": case.path, "found": codes})
    alarms = {s.id: false_alarms(s) for s in srcs}
    total = sum(r["instances"] for r in rows.values())
    caught = sum(r["detected"] for r in rows.values())
    print("| fault | instances | articles | detected | rate |\n|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        rate = r["detected"] / r["instances"]
        print(
            f"| {name} | {r['instances']} | {len(r['articles'])} | {r['detected']} | {rate:.1%} |"
        )
    print(f"| **all** | {total} | {len(srcs)} | {caught} | {caught / total:.2%} |")
    flagged = {k: v for k, v in alarms.items() if v}
    print(
        f"\nfalse alarms on the {len(srcs)} untouched answers and their records: "
        f"{sum(map(len, alarms.values()))} error(s) {flagged or ''}"
    )
    elapsed = time.perf_counter() - started
    print(f"{total} instances in {elapsed:.1f}s")
    for r in rows.values():
        r["articles"] = len(r["articles"])
        r["rate"] = round(r["detected"] / r["instances"], 4)
    RESULTS.mkdir(exist_ok=True)
    out = {
        "corpus": [s.id for s in srcs],
        "faults": rows,
        "instances": total,
        "detected": caught,
        "rate": round(caught / total, 4),
        "false_alarms": alarms,
        "seconds": round(elapsed, 1),
    }
    (RESULTS / "faults.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
