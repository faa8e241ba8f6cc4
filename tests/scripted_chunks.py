"""Scripted answers for chunked documents (used by ``tests/scripted_server.py``).

A chunk request carries part of a fixture's article between ``<article-…>`` tags. Its answer is
derived from the whole-article fixture by span filtering: the events with evidence in the chunk
(only that evidence; actors, weapons, place, date and death-count words only where they are in
the chunk, the resolved date kept), the quotations whose words and speaker are in it, and the
bullets whose evidence is, padded to three with the chunk's event evidence, then its sentences,
as bullets. The reduce step (``DocumentSummary``) is answered from its input: the first part's
headline and sentence, and the parts' bullets taken in turn, each once, three to six.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

REDUCE_SCHEMA = "DocumentSummary"
_PIECES = re.compile(r"(?<=[.!?])\s+|\n+|, ")
_BLOCK = re.compile(r"<(article-[0-9a-f]{16})>\n(.*)\n</\1>", re.DOTALL)


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    parts = [m.get("content") for m in messages if m.get("role") == "user"]
    return "\n".join(p for p in parts if isinstance(p, str))


def chunk_of(messages: Sequence[Mapping[str, Any]], fixtures: Mapping[str, Any]) -> Any:
    """``(fixture id, chunk text)`` when the request's article block is a strict part of a
    fixture's article (the longest such), else None."""
    found = _BLOCK.search(_user_text(messages))
    if found is None:
        return None
    chunk = _norm(found.group(2))
    texts = {fid: _norm(f.article) for fid, f in fixtures.items()}
    hits = [fid for fid, text in texts.items() if chunk in text and chunk != text]
    if not hits:
        return None
    return max(hits, key=lambda fid: len(texts[fid])), found.group(2)


def chunk_answer(answer: Mapping[str, Any], chunk: str) -> dict[str, Any]:
    """The part of a whole-article ``answer`` whose evidence lies in ``chunk``."""
    inside = _norm(chunk)

    def ok(text: str | None) -> bool:
        return bool(text) and _norm(text) in inside  # type: ignore[arg-type]

    events = []
    for whole in answer.get("events", []):
        evidence = [e for e in whole["evidence"] if ok(e)]
        if not evidence:
            continue
        ev = copy.deepcopy(whole)
        ev["evidence"] = evidence
        ev["actors"] = [a for a in ev["actors"] if ok(a["evidence"])]
        ev["targets"] = [a for a in ev["targets"] if ok(a["evidence"])]
        ev["weapons"] = [w for w in ev["weapons"] if ok(w)]
        if ev["location"] and not ok(ev["location"]["text"]):
            ev["location"] = None
        if ev["date"]["text"] and not ok(ev["date"]["text"]):
            ev["date"]["text"] = None  # read from the title or publication date
        if ev["fatalities"]["text"] and not ok(ev["fatalities"]["text"]):
            ev["fatalities"] = {"min": 0, "max": 0, "estimated": False, "text": None}
        events.append(ev)
    quotes = [q for q in answer.get("quotes", []) if ok(q["text"]) and ok(q["speaker"]["evidence"])]
    bullets = [b for b in answer["summary"]["bullets"] if all(ok(e) for e in b["evidence"])]
    for ev in events:
        for sentence in ev["evidence"]:
            if len(bullets) < 3 and all(sentence not in b["evidence"] for b in bullets):
                bullets.append({"text": sentence, "evidence": [sentence]})
    pieces = [p.strip() for p in _PIECES.split(chunk) if len(p.strip()) > 3]
    for piece in pieces * 3:  # sentences, then clauses; repeated if the chunk has fewer than 3
        if len(bullets) < 3 and (
            len(pieces) < 3 or all(piece not in b["evidence"] for b in bullets)
        ):
            bullets.append({"text": piece, "evidence": [piece]})
    first = bullets[0]["text"]
    summary = {
        "headline": " ".join(first.split()[:12]),
        "one_sentence": first,
        "bullets": bullets[:6],
    }
    return {"language": answer["language"], "events": events, "quotes": quotes, "summary": summary}


def reduce_answer(
    body: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
    tool_name: Callable[[Mapping[str, Any]], str],
) -> dict[str, Any] | None:
    """The reduce step's answer from its input (one JSON object per part, between tags), for a
    ``DocumentSummary`` request (tool or JSON-schema name); else None."""
    schema = body.get("response_format") or {}
    names = {tool_name(body) if body.get("tools") else None}
    names.add((schema.get("json_schema") or {}).get("name") if isinstance(schema, dict) else None)
    if REDUCE_SCHEMA not in names:
        return None
    found = _BLOCK.search(_user_text(messages))
    lines = found.group(2).splitlines() if found else []
    parts = [json.loads(line) for line in lines if line.strip()]
    bullets: list[dict[str, Any]] = []
    queues = [list(p["bullets"]) for p in parts]
    while len(bullets) < 6 and any(queues):
        for queue in queues:
            if queue and len(bullets) < 6:
                bullet = queue.pop(0)
                if all(b["text"] != bullet["text"] for b in bullets):
                    bullets.append(bullet)
    return {
        "headline": parts[0]["headline"],
        "one_sentence": parts[0]["one_sentence"],
        "bullets": bullets,
    }
