"""Long documents: MUCSUM dev digests read in chunks against the per-article run.

Digests are MUCSUM dev articles concatenated in the FBIS style (a numbered item header, the
article, a blank line). The gold answers are derived from the MUCSUM templates by
``tests/derive_mucsum.py`` (as for the single-article fixtures); only the documents whose gold it
can derive are used (its hand-checked tables cover the 12 documents of
``tests/data/mucsum/dev-sample.json``). The scripted server (``tests/scripted_server.py``) answers
each chunk with the digest gold's events, quotations and bullets whose evidence lies in it
(``tests/scripted_chunks.py``).

For each digest: the per-article run (each article alone, one call each) gives the reference
events; the chunked run (a context window leaving ``--chunk-tokens`` for the text, so chunk
boundaries fall through articles and events) gives the merged record. Reported: recall and
precision of the merged events against the reference (an event matches a reference event of the
same PLOVER category whose evidence it overlaps), duplicates (reference events matched by more
than one merged event; target 0), events whose evidence runs over a chunk boundary, whether every
span is exact, calls and prompt tokens against one call over the whole text, and wall time. Last,
one call over a digest to a server that reads only 2,048 prompt tokens (scenario
``truncated-context``, as Ollama's ``num_ctx``) shows the truncation check firing.

    python benchmarks/long_documents.py [--data DIR] [--chunk-tokens 300]
    # prints the table, writes benchmarks/results/long_documents.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import derive_mucsum  # noqa: E402
from scripted_server import Fixture, ScriptedServer  # noqa: E402

from summarizer import chunking  # noqa: E402
from summarizer.errors import PromptTruncated  # noqa: E402
from summarizer.pipeline import analyze  # noqa: E402
from summarizer.schema import ArticleAnalysis, Event, Span  # noqa: E402
from summarizer.settings import Settings  # noqa: E402
from summarizer.source import make_article  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "long_documents.json"
KEY = "sk-bench-not-a-real-key"
ANSWER_TOKENS = 2000


def gold(data: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{doc id: (text, answer)}`` for every document whose gold answer can be derived."""
    path = data / "dev.json" if (data / "dev.json").exists() else data / "dev-sample.json"
    documents = json.loads(path.read_text(encoding="utf-8"))
    found = {}
    for doc_id, examples in documents.items():
        text = derive_mucsum.article_text(examples)
        try:
            answer = derive_mucsum.extraction(doc_id, examples)
            derive_mucsum._check(doc_id, answer, text)
        except (AssertionError, KeyError, ValueError):
            continue
        found[doc_id] = (text, answer)
    return found


def digest(items: list[tuple[str, str, dict[str, Any]]]) -> tuple[str, dict[str, Any], list[int]]:
    """The FBIS-style digest of ``(id, text, answer)`` items, its gold answer, item offsets."""
    parts, offsets, position = [], [], 0
    for number, (doc_id, text, _) in enumerate(items, 1):
        header = f"[Item {number}] {doc_id}\n"
        offsets.append(position + len(header))
        parts.append(header + text + "\n\n")
        position += len(parts[-1])
    answers = [a for _, _, a in items]
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


def _overlap(a: list[Span], b: list[Span]) -> bool:
    return any(x.start < y.end and y.start < x.end for x in a for y in b)


def _shared(a: list[Span], b: list[Span]) -> int:
    return sum(max(0, min(x.end, y.end) - max(x.start, y.start)) for x in a for y in b)


def compare(merged: list[Event], reference: list[Event]) -> dict[str, Any]:
    """Recall and precision of ``merged`` against ``reference`` (document offsets), one to one:
    pairs of the same PLOVER category are matched greedily, most shared evidence first. A merged
    event left over that shares evidence with a matched reference event is a duplicate."""
    pairs = sorted(
        (
            (_shared(m.evidence, r.evidence), i, j)
            for i, m in enumerate(merged)
            for j, r in enumerate(reference)
            if m.plover == r.plover and _shared(m.evidence, r.evidence)
        ),
        reverse=True,
    )
    taken_m: set[int] = set()
    taken_r: set[int] = set()
    for _, i, j in pairs:
        if i not in taken_m and j not in taken_r:
            taken_m.add(i)
            taken_r.add(j)
    left = {i for _, i, _ in pairs} - taken_m
    return {
        "reference_events": len(reference),
        "merged_events": len(merged),
        "recall": round(len(taken_r) / len(reference), 3) if reference else 1.0,
        "precision": round(len(taken_m) / len(merged), 3) if merged else 1.0,
        "duplicates": len(left),
    }


def _spans(obj: Any) -> list[Span]:
    if isinstance(obj, Span):
        return [obj]
    if isinstance(obj, list):
        return [s for item in obj for s in _spans(item)]
    if hasattr(type(obj), "model_fields"):
        return [s for name in type(obj).model_fields for s in _spans(getattr(obj, name))]
    return []


def run_digest(items: list[tuple[str, str, dict[str, Any]]], chunk_tokens: int) -> dict[str, Any]:
    text, answer, offsets = digest(items)
    doc = make_article(text, id=f"digest-{len(items)}", title="FBIS daily digest")
    # the per-article reference: each article alone, one call
    singles = {doc_id: Fixture(doc_id, t, a) for doc_id, t, a in items}
    reference: list[Event] = []
    with ScriptedServer(singles) as server:
        for (doc_id, t, _), offset in zip(items, offsets, strict=True):
            record = analyze(make_article(t, id=doc_id), settings(server.url))
            chunking.rebase(record.events, offset)
            reference += record.events
    with ScriptedServer({doc.key: Fixture(doc.key, text, answer)}) as server:
        base = settings(server.url)
        overhead = chunking.overhead_tokens(doc, base)
        small = settings(server.url, context_window=overhead + ANSWER_TOKENS + chunk_tokens)
        plan = chunking.plan(doc, small)
        started = time.perf_counter()
        record: ArticleAnalysis = analyze(doc, small)
        wall = time.perf_counter() - started
        one_call = chunking.plan(doc, base)
    bounds = [c.end for c in plan.chunks[:-1]]
    across = sum(
        1
        for e in record.events
        if any(
            min(s.start for s in e.evidence) < b < max(s.end for s in e.evidence) for b in bounds
        )
    )
    spans = _spans(record)
    return {
        "articles": len(items),
        "characters": len(text),
        "chunks": len(plan.chunks),
        **compare(record.events, reference),
        "events_across_boundaries": across,
        "spans": len(spans),
        "spans_exact": all(text[s.start : s.end] == s.text for s in spans),
        "validation_ok": record.validation.ok,
        "calls": record.usage.calls,
        "planned_calls": plan.calls,
        "prompt_tokens": record.usage.prompt_tokens,
        "one_call_prompt_tokens": one_call.prompt_tokens,
        "wall_s": round(wall, 2),
    }


def truncation(items: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    text, answer, _ = digest(items)
    doc = make_article(text, id="digest-truncated")
    with ScriptedServer({doc.key: Fixture(doc.key, text, answer)}) as server:
        try:
            analyze(doc, settings(server.url, model="openai/scripted-truncated-context"))
        except PromptTruncated as exc:
            return {"fired": True, "message": str(exc)}
    return {"fired": False, "message": ""}


COLUMNS = [
    "articles",
    "characters",
    "chunks",
    "reference_events",
    "merged_events",
    "recall",
    "precision",
    "duplicates",
    "events_across_boundaries",
    "spans_exact",
    "calls",
    "prompt_tokens",
    "one_call_prompt_tokens",
    "wall_s",
]


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "mucsum")
    parser.add_argument("--chunk-tokens", type=int, default=300)
    parser.add_argument("--sizes", default="5,10,20,50")
    args = parser.parse_args()
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    docs = gold(args.data)
    items = [(doc_id, text, answer) for doc_id, (text, answer) in sorted(docs.items())]
    sizes = sorted({min(int(n), len(items)) for n in args.sizes.split(",")})
    rows = [run_digest(items[:n], args.chunk_tokens) for n in sizes]
    fired = truncation(items[:2])
    print(f"{len(items)} MUCSUM dev documents with derivable gold in {args.data}")
    print(table(rows))
    print(f"truncation check fired: {fired['fired']}: {fired['message']}")
    RESULTS.write_text(
        json.dumps(
            {"chunk_tokens": args.chunk_tokens, "digests": rows, "truncation": fired}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
