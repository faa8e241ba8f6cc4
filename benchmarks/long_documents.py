"""Long documents: MUCSUM digests and GVC crime roundups read in chunks against the per-article run.

Documents (real text, known gold):

- *MUCSUM digests*: MUCSUM dev articles concatenated in the FBIS style (``[Item n] <doc id>``, the
  article, a blank line). Gold answers come from ``tests/derive_mucsum.py``; only the documents
  whose gold it can derive are used (its hand-checked tables cover the 12 documents of
  ``tests/data/mucsum/dev-sample.json``), so no digest has more than 12 articles.
- *GVC crime roundups*: GVC articles (``--gvc DIR``, any folder in GVC's format; default the dev
  split at ``../shared/data/gvc/dev``, else ``tests/data/gvc``) with a header per
  item (``n. <title> (<publication date>)``). Gold answers come from ``tests/derive_gvc.py``
  (every article whose answer passes its checks). A *daily roundup* holds one publication day's
  articles and carries that date, so relative dates ("Saturday") resolve as in the articles; the
  roundups of ``--sizes`` consecutive articles (by publication date) span several days, so they
  carry no publication date (each item's is in its header, and the checks, which read dates
  against one anchor per document, do not check relative dates there).

The scripted server (``tests/scripted_server.py``) answers each chunk with the document gold's
events, quotations and bullets whose evidence lies in it (``tests/scripted_chunks.py``).

For each document: the per-article run (each article alone, one call each, spans re-based into the
document) gives the reference events; the chunked run (a context window leaving ``--chunk-tokens``
for the text, so chunk boundaries fall through articles and events; raised by half for a
document holding a longer quotation, which is never cut) gives the merged record.
Reported: recall and precision of the merged events against the reference (an event matches a
reference event of the same PLOVER category whose evidence it overlaps, one to one), *found* (the
share of reference events some merged event covers), duplicates (merged events left over that
share evidence with a matched reference event; target 0), merged events covering reference events
of several articles (GVC: of the same incident, or not), each duplicate, wrong join and lost event
as a problem line (document, chunks and character ranges) in the JSON, events
whose evidence runs over a chunk boundary, whether every span is exact, calls and prompt tokens
against one call over the whole text, and wall time: the run alone (the scripted server answers
at once, so this is the tool's overhead), and the run as a batch job paced at ``--rpm`` /
``--tpm`` against the least time those limits allow for its calls and tokens (the bound). Last,
one call over a digest, and over the longest GVC article, to a server that reads only 2,048 prompt
tokens (scenario ``truncated-context``, as Ollama's ``num_ctx``) shows the truncation check firing.

    python benchmarks/long_documents.py [--data DIR] [--gvc DIR] [--chunk-tokens 300]
        [--sizes 5,10,20,50] [--rpm 5000] [--tpm 2000000]
    # prints the table, writes benchmarks/results/long_documents.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import logging
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import derive_gvc  # noqa: E402
import derive_mucsum  # noqa: E402
from scripted_server import Fixture, ScriptedServer  # noqa: E402

from summarizer import chunking  # noqa: E402
from summarizer.batch.cost import COMPLETION_GUESS  # noqa: E402
from summarizer.batch.engine import Job, Options  # noqa: E402
from summarizer.batch.limits import PACER_BURST, TOKEN_BURST, _limiter  # noqa: E402
from summarizer.errors import ConfigError, PromptTruncated  # noqa: E402
from summarizer.pipeline import analyze  # noqa: E402
from summarizer.schema import ArticleAnalysis, Event, Span  # noqa: E402
from summarizer.settings import Settings  # noqa: E402
from summarizer.source import Article, make_article  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "long_documents.json"
GVC = ROOT.parent / "shared" / "data" / "gvc" / "dev"  # the dev split next to the checkout
GVC_SAMPLE = ROOT / "tests" / "data" / "gvc"  # else the sample in the repository
KEY = "sk-bench-not-a-real-key"
ANSWER_TOKENS = 2000


@dataclass(frozen=True)
class Item:
    """One article of a long document, with its gold answer and the header line before it."""

    id: str
    text: str
    answer: dict[str, Any]
    header: str
    title: str | None = None
    published: dt.date | None = None
    incident: str | None = None  # GVC: the incident the article reports (the gold cluster)


def mucsum_items(data: Path) -> list[Item]:
    """The MUCSUM dev documents whose gold answer can be derived, by id."""
    path = data / "dev.json" if (data / "dev.json").exists() else data / "dev-sample.json"
    documents = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for doc_id, examples in sorted(documents.items()):
        text = derive_mucsum.article_text(examples)
        try:
            answer = derive_mucsum.extraction(doc_id, examples)
            derive_mucsum._check(doc_id, answer, text)
        except (AssertionError, KeyError, ValueError):
            continue
        found.append(Item(doc_id, text, answer, f"[Item {len(found) + 1}] {doc_id}"))
    return found


def _date(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def gvc_items(data: Path) -> tuple[list[Item], int]:
    """The articles of a GVC folder whose derived answer passes its checks, by publication date
    (undated last, file order within a day); and how many were left out."""
    items, left = [], 0
    for article, answer, problems in derive_gvc.derive_all(data):
        if problems or not str(article.get("text") or "").strip():
            left += 1
            continue
        published = _date(article.get("published"))
        title = " ".join(str(article.get("title") or article["id"]).split())
        header = f"{title} ({published.isoformat() if published else 'undated'})"
        items.append(
            Item(
                str(article["id"]),
                article["text"],
                answer,
                header,
                title,
                published,
                str(article.get("incident_id")),
            )
        )
    items.sort(key=lambda i: i.published or dt.date.max)  # stable: file order within a day
    return items, left


def numbered(items: list[Item]) -> list[Item]:
    """GVC items with their place in the roundup before the header."""
    return [
        Item(i.id, i.text, i.answer, f"{n}. {i.header}", i.title, i.published, i.incident)
        for n, i in enumerate(items, 1)
    ]


def digest(items: list[Item]) -> tuple[str, dict[str, Any], list[int]]:
    """The document of ``items`` (each its header line, its text, a blank line), its gold answer
    (the items' answers together), and where each item's text starts."""
    parts, offsets, position = [], [], 0
    for item in items:
        header = item.header + "\n"
        offsets.append(position + len(header))
        parts.append(header + item.text + "\n\n")
        position += len(parts[-1])
    answers = [i.answer for i in items]
    bullets = [b for a in answers for b in a["summary"]["bullets"]][:6]
    answer = {
        "language": "en",
        "events": [e for a in answers for e in a["events"]],
        "quotes": [q for a in answers for q in a["quotes"]],
        "summary": answers[0]["summary"] | {"bullets": bullets},
    }
    return "".join(parts), answer, offsets


def settings(url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "model": "openai/gpt-4.1-mini",
        "base_url": url,
        "api_key": KEY,
        "transport_retries": 0,
        "max_tokens": ANSWER_TOKENS,
    }
    return Settings(_env_file=None, **(values | extra))  # type: ignore[call-arg]


def _shared(a: list[Span], b: list[Span]) -> int:
    return sum(max(0, min(x.end, y.end) - max(x.start, y.start)) for x in a for y in b)


def _where(event: Event, chunks: list[chunking.Chunk]) -> str:
    """An event as a problem line names it: category, evidence ranges, the chunks holding them."""
    ranges = ", ".join(f"{e.start}-{e.end}" for e in event.evidence)
    held = [
        f"{n + 1} ({c.start}-{c.end})"
        for n, c in enumerate(chunks)
        if any(c.start <= e.start and e.end <= c.end for e in event.evidence)
    ]
    first = min(event.evidence, key=lambda x: x.start).text[:50]
    return f"{event.id} {event.plover} evidence {ranges} in chunk {', '.join(held)}: {first!r}"


def why_apart(a: Event, b: Event) -> str:
    """Why two merged events that are one event were not joined (for a duplicate's line)."""
    spans = {(s.start, s.end) for s in a.evidence}
    if spans & {(s.start, s.end) for s in b.evidence}:
        return "both at the same span (the same words twice in one chunk, grounded to the first)"
    if chunking.same_event(a, b):
        return "same_event holds: their views share a chunk, whose events stay apart"
    if not (a.date.resolved and b.date.resolved):
        return "same_event fails: no resolved date in " + (
            "both" if a.date.resolved == b.date.resolved else "one"
        )
    places = [e.location.text if e.location else None for e in (a, b)]
    if None in places:
        return "same_event fails: same date, the place in one view only"
    return "same_event fails: other"


def compare(
    merged: list[Event],
    reference: list[Event],
    labels: list[Item],
    chunks: list[chunking.Chunk] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """Recall and precision of ``merged`` against ``reference`` (document offsets; ``labels[j]``
    the item reference event ``j`` comes from), one to one: pairs of the same PLOVER category
    are matched greedily, most shared evidence first. A merged event left over that shares
    evidence with a matched reference event is a duplicate. A merged event sharing evidence with
    reference events of several items is *joined*: of one incident (the same shooting reported
    twice in a roundup: one event is right within one document), or of several (a wrong merge)."""
    covers: dict[int, set[int]] = defaultdict(set)
    pairs = []
    for i, m in enumerate(merged):
        for j, r in enumerate(reference):
            if m.plover == r.plover and (shared := _shared(m.evidence, r.evidence)):
                covers[i].add(j)
                pairs.append((shared, i, j))
    taken_m: set[int] = set()
    taken_r: set[int] = set()
    for _, i, j in sorted(pairs, reverse=True):
        if i not in taken_m and j not in taken_r:
            taken_m.add(i)
            taken_r.add(j)
    duplicates = sorted(set(covers) - taken_m)
    joined_same, joined_other = [], []
    for i, refs in covers.items():
        items = {labels[j].id for j in refs}
        if len(items) > 1:
            incidents = {labels[j].incident for j in refs}
            same = len(incidents) == 1 and None not in incidents
            (joined_same if same else joined_other).append(i)
    covered = {j for refs in covers.values() for j in refs}
    chunks = list(chunks)
    kept = {j: i for _, i, j in pairs if i in taken_m and j in taken_r}  # reference -> merged
    problems = []
    for i in duplicates:
        j = next(j for j in sorted(covers[i]) if j in kept and kept[j] in taken_m)
        problems.append(
            f"duplicate: merged {_where(merged[i], chunks)} repeats merged "
            f"{_where(merged[kept[j]], chunks)}, one event of item {labels[j].id}: "
            f"{why_apart(merged[i], merged[kept[j]])}"
        )
    problems += [
        f"joined across incidents: merged {_where(merged[i], chunks)} covers items "
        f"{sorted({labels[j].id for j in covers[i]})}"
        for i in joined_other
    ]
    problems += [
        f"lost: the reference event {_where(r, chunks)} of item {labels[j].id}"
        for j, r in enumerate(reference)
        if j not in covered
    ]
    return {
        "reference_events": len(reference),
        "merged_events": len(merged),
        "matched": len(taken_r),
        "recall": round(len(taken_r) / len(reference), 3) if reference else 1.0,
        "precision": round(len(taken_m) / len(merged), 3) if merged else 1.0,
        "covered": len(covered),
        "found": round(len(covered) / len(reference), 3) if reference else 1.0,
        "duplicates": len(duplicates),
        "joined_same_incident": len(joined_same),
        "joined_other": len(joined_other),
        "problems": problems,
    }


def _spans(obj: Any) -> list[Span]:
    if isinstance(obj, Span):
        return [obj]
    if isinstance(obj, list):
        return [s for item in obj for s in _spans(item)]
    if hasattr(type(obj), "model_fields"):
        return [s for name in type(obj).model_fields for s in _spans(getattr(obj, name))]
    return []


def bound_s(calls: int, tokens: int, rpm: float | None, tpm: float | None) -> float:
    """The least time ``--rpm`` / ``--tpm`` allow for ``calls`` calls and ``tokens`` tokens, as
    ``summarizer.batch.limits`` paces them: its leaky buckets start full (``PACER_BURST``
    requests, the TPM bucket's capacity in tokens go at once), then drain at the limit."""
    by_calls = max(0, calls - PACER_BURST) * 60 / rpm if rpm else 0.0
    bucket = _limiter(tpm, TOKEN_BURST)
    by_tokens = max(0.0, tokens - bucket.max_rate) * 60 / tpm if bucket and tpm else 0.0
    return max(by_calls, by_tokens)


def paced(doc: Article, run: Settings, rpm: float | None, tpm: float | None) -> tuple[float, Any]:
    """``doc`` as a batch job of one paced at ``rpm`` / ``tpm`` (no cache): wall time, record."""
    job = Job(run, Options(concurrency=1, rpm=rpm, tpm=tpm, cache=False))

    async def go() -> list[Any]:
        return [r async for r in job.run([doc])]

    started = time.perf_counter()
    records = asyncio.run(go())
    return time.perf_counter() - started, records[0]


def _key(item: Item) -> tuple[str, str]:
    return item.text, json.dumps(item.answer, sort_keys=True)


def per_article(items: list[Item]) -> dict[tuple[str, str], ArticleAnalysis]:
    """Each distinct (text, answer) of ``items`` analysed alone, one call each. Syndicated copies
    (the same text twice) are analysed once; the same text with another answer goes to a server
    of its own (a server finds the fixture by its text)."""
    records: dict[tuple[str, str], ArticleAnalysis] = {}
    todo = list({_key(i): i for i in items}.values())
    while todo:
        texts: dict[str, Item] = {}
        for item in todo:
            texts.setdefault(item.text, item)
        batch = list(texts.values())
        todo = [i for i in todo if texts[i.text] is not i]
        with ScriptedServer({i.id: Fixture(i.id, i.text, i.answer) for i in batch}) as server:
            for item in batch:
                article = make_article(
                    item.text, id=item.id, title=item.title, published=item.published
                )
                records[_key(item)] = analyze(article, settings(server.url))
    return records


@dataclass(frozen=True)
class Bench:
    chunk_tokens: int
    rpm: float | None
    tpm: float | None


def run_document(
    kind: str,
    name: str,
    items: list[Item],
    bench: Bench,
    *,
    title: str,
    published: dt.date | None = None,
) -> dict[str, Any]:
    """One long document of ``items``: the per-article reference, the chunked run, the paced run."""
    text, answer, offsets = digest(items)
    doc = make_article(text, id=name, title=title, published=published)
    reference: list[Event] = []
    labels: list[Item] = []
    alone = per_article(items)
    for item, offset in zip(items, offsets, strict=True):
        events = [e.model_copy(deep=True) for e in alone[_key(item)].events]
        chunking.rebase(events, offset)
        reference += events
        labels += [item] * len(events)
    with ScriptedServer({doc.key: Fixture(doc.key, text, answer)}) as server:
        base = settings(server.url)
        overhead = chunking.overhead_tokens(doc, base)
        chunk_tokens = bench.chunk_tokens
        while True:  # a quotation longer than the chunk cannot be cut: a larger chunk, as asked
            small = settings(server.url, context_window=overhead + ANSWER_TOKENS + chunk_tokens)
            try:
                plan = chunking.plan(doc, small)
                break
            except ConfigError:
                if chunk_tokens >= chunking.MAX_CHUNK_TOKENS:
                    raise
                chunk_tokens += max(50, bench.chunk_tokens // 2)
        started = time.perf_counter()
        record: ArticleAnalysis = analyze(doc, small)
        wall = time.perf_counter() - started
        gc.collect()  # the run's async client, before the next event loop (else a warning)
        one_call = chunking.plan(doc, base)
        paced_wall, paced_record = paced(doc, small, bench.rpm, bench.tpm)
    bounds = [c.end for c in plan.chunks[:-1]]
    across = sum(
        1
        for e in record.events
        if any(
            min(s.start for s in e.evidence) < b < max(s.end for s in e.evidence) for b in bounds
        )
    )
    spans = _spans(record)
    usage = getattr(paced_record, "usage", None)
    paced_calls = usage.calls if usage else 0
    paced_tokens = usage.prompt_tokens + usage.completion_tokens if usage else 0
    bound = bound_s(paced_calls, paced_tokens, bench.rpm, bench.tpm)
    charged = usage.prompt_tokens + COMPLETION_GUESS * paced_calls if usage else 0
    return {
        "kind": kind,
        "document": name,
        "articles": len(items),
        "days": len({i.published for i in items}),
        "characters": len(text),
        "chunk_tokens": chunk_tokens,
        "chunks": len(plan.chunks),
        **compare(record.events, reference, labels, plan.chunks),
        "events_across_boundaries": across,
        "spans": len(spans),
        "spans_exact": all(text[s.start : s.end] == s.text for s in spans),
        "validation_ok": record.validation.ok,
        "validation_errors": [
            f"{i.path}: {i.code}: {i.message}" for i in record.validation.issues if i.is_error
        ],
        "calls": record.usage.calls,
        "planned_calls": plan.calls,
        "prompt_tokens": record.usage.prompt_tokens,
        "completion_tokens": record.usage.completion_tokens,
        "one_call_prompt_tokens": one_call.prompt_tokens,
        "wall_s": round(wall, 2),
        "paced_ok": isinstance(paced_record, ArticleAnalysis),
        "paced_calls": paced_calls,
        "paced_tokens": paced_tokens,
        "paced_wall_s": round(paced_wall, 2),
        "bound_s": round(bound, 2),
        "paced_vs_bound": round(paced_wall / bound, 2) if bound else None,
        "charged_tokens": charged,
        "bound_charged_s": round(bound_s(paced_calls, charged, bench.rpm, bench.tpm), 2),
    }


SUMMED = [
    "articles",
    "characters",
    "chunks",
    "reference_events",
    "merged_events",
    "matched",
    "covered",
    "duplicates",
    "joined_same_incident",
    "joined_other",
    "events_across_boundaries",
    "spans",
    "calls",
    "planned_calls",
    "prompt_tokens",
    "completion_tokens",
    "one_call_prompt_tokens",
    "paced_calls",
    "paced_tokens",
    "charged_tokens",
]


def total(kind: str, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for several documents: counts and times summed, rates from the sums."""
    row: dict[str, Any] = {"kind": kind, "document": name, "documents": len(rows)}
    row |= {k: sum(r[k] for r in rows) for k in SUMMED}
    row["days"] = len(rows)
    row["recall"] = round(row["matched"] / row["reference_events"], 3)
    row["precision"] = round(row["matched"] / row["merged_events"], 3)  # one to one
    row["found"] = round(row["covered"] / row["reference_events"], 3)
    for key in ("spans_exact", "validation_ok", "paced_ok"):
        row[key] = all(r[key] for r in rows)
    for key in ("wall_s", "paced_wall_s", "bound_s", "bound_charged_s"):
        row[key] = round(sum(r[key] for r in rows), 2)
    row["paced_vs_bound"] = (
        round(row["paced_wall_s"] / row["bound_s"], 2) if row["bound_s"] else None
    )
    row["problems"] = [f"{r['document']}: {p}" for r in rows for p in r["problems"]]
    row["validation_errors"] = [
        f"{r['document']}: {e}" for r in rows for e in r["validation_errors"]
    ]
    return row


def truncation(doc: Article, answer: dict[str, Any]) -> dict[str, Any]:
    """One call over ``doc`` to a server that reads only 2,048 prompt tokens."""
    with ScriptedServer({doc.key: Fixture(doc.key, doc.text, answer)}) as server:
        try:
            analyze(doc, settings(server.url, model="openai/scripted-truncated-context"))
        except PromptTruncated as exc:
            return {"document": doc.id, "fired": True, "message": str(exc)}
    return {"document": doc.id, "fired": False, "message": ""}


COLUMNS = [
    ("document", "document"),
    ("articles", "articles"),
    ("characters", "characters"),
    ("chunks", "chunks"),
    ("reference_events", "reference events"),
    ("merged_events", "merged events"),
    ("recall", "recall"),
    ("found", "found"),
    ("precision", "precision"),
    ("duplicates", "duplicates"),
    ("joined_same_incident", "joined (same incident)"),
    ("joined_other", "joined (other)"),
    ("events_across_boundaries", "events across boundaries"),
    ("spans_exact", "spans exact"),
    ("calls", "calls"),
    ("prompt_tokens", "prompt tokens"),
    ("one_call_prompt_tokens", "one call over the whole text"),
    ("wall_s", "wall s"),
    ("paced_wall_s", "paced wall s"),
    ("bound_s", "rate-limit bound s"),
    ("paced_vs_bound", "paced / bound"),
]


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(r[c]) for c, _ in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    """``--sizes`` as sorted positive numbers; empty when it is not that."""
    try:
        sizes = sorted({int(n) for n in text.split(",") if n.strip()})
    except ValueError:
        return []
    return sizes if sizes and sizes[0] >= 1 else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "mucsum")
    parser.add_argument("--gvc", type=Path, default=GVC if GVC.is_dir() else GVC_SAMPLE)
    parser.add_argument("--chunk-tokens", type=int, default=300)
    parser.add_argument("--sizes", default="5,10,20,50")
    parser.add_argument("--rpm", type=float, default=5000.0)
    parser.add_argument("--tpm", type=float, default=2_000_000.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = _sizes(args.sizes)
    if not sizes or args.chunk_tokens < 100 or not all(r > 0 for r in (args.rpm, args.tpm)):
        print(
            "error: --sizes wants positive whole numbers (5,10,20,50), --chunk-tokens 100 or "
            "more, --rpm and --tpm numbers above 0",
            file=sys.stderr,
        )
        return 2
    for folder, files in ((args.data, ()), (args.gvc, ("articles.jsonl", "incidents.jsonl"))):
        if not folder.is_dir() or any(not (folder / f).is_file() for f in files):
            print(
                f"error: {folder} is not a data folder (wants {', '.join(files) or 'dev.json'})",
                file=sys.stderr,
            )
            return 2
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    bench = Bench(args.chunk_tokens, args.rpm, args.tpm)
    try:
        mucsum = mucsum_items(args.data)
        gvc, left = gvc_items(args.gvc)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"error: cannot read the data: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
        return 2
    rows = []
    for n in sorted({min(n, len(mucsum)) for n in sizes} - {0}):
        items = mucsum[:n]
        rows.append(run_document("mucsum", f"mucsum-digest-{n}", items, bench, title="FBIS digest"))
    days: dict[dt.date | None, list[Item]] = defaultdict(list)
    for item in gvc:
        days[item.published].append(item)
    daily = [
        run_document(
            "gvc-daily",
            f"gvc-day-{day.isoformat() if day else 'undated'}",
            numbered(items),
            bench,
            title=f"Daily crime roundup, {day.isoformat() if day else 'undated'}",
            published=day,
        )
        for day, items in days.items()
    ]
    if daily:
        rows.append(total("gvc-daily", f"gvc daily roundups ({len(daily)} days)", daily))
    for n in sorted({min(n, len(gvc)) for n in sizes} - {0}):
        items = numbered(gvc[:n])
        span = f"{items[0].published} to {items[-1].published}"
        rows.append(
            run_document("gvc", f"gvc-roundup-{n}", items, bench, title=f"Crime roundup, {span}")
        )
    fired = []
    if mucsum:
        text, answer, _ = digest(mucsum[:2])
        fired.append(truncation(make_article(text, id="mucsum-digest-2"), answer))
    if gvc:
        longest = max(gvc, key=lambda i: len(i.text))
        doc = make_article(longest.text, id=f"gvc-{longest.id}", published=longest.published)
        fired.append(truncation(doc, longest.answer))
    print(f"{len(mucsum)} MUCSUM dev documents with derivable gold in {args.data}")
    print(f"{len(gvc)} GVC articles with checked gold in {args.gvc} ({left} left out)")
    print(table(rows))
    for f in fired:
        print(f"truncation check fired on {f['document']}: {f['fired']}: {f['message']}")
    for row in rows:
        for problem in row["problems"] + row["validation_errors"]:
            print(f"{row['document']}: {problem}")
    args.out.write_text(
        json.dumps(
            {
                "chunk_tokens": args.chunk_tokens,
                "rpm": args.rpm,
                "tpm": args.tpm,
                "gvc_left_out": left,
                "documents": rows,
                "gvc_days": daily,
                "truncation": fired,
            },
            indent=2,
            default=str,
        )
        + "\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
