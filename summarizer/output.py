"""Output stage: an :class:`ArticleAnalysis` as JSON or as a markdown view for people.

Every field the model or the input supplies is text in the markdown view, never markup
(:func:`_md`), and no human-readable output writes a control character (:func:`printable`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from summarizer.errors import printable
from summarizer.schema import Actor, ArticleAnalysis, Event, Span

_MARKDOWN = re.compile(r"[\\`*_\[\]]")


def _md(text: object) -> str:
    """One field as inert Markdown text on one line: HTML special characters as entities,
    link, image, emphasis and code syntax backslash-escaped, control characters shown."""
    flat = " ".join(str(text).splitlines())
    return printable(_MARKDOWN.sub(r"\\\g<0>", html.escape(flat, quote=False)))


def to_json(analysis: ArticleAnalysis, *, indent: int | None = 2) -> str:
    return analysis.model_dump_json(indent=indent)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _actors(actors: Iterable[Actor]) -> str:
    return "; ".join(f"{a.name} ({a.country or '?'}/{a.sector or '?'})" for a in actors) or "—"


def _spans(spans: Iterable[Span]) -> str:
    return ", ".join(f"[{s.start}:{s.end}]" for s in spans) or "no evidence"


def _date(event: Event) -> str:
    d = event.date
    if d.resolved is None:
        return f"{d.text or '—'} (unresolved)"
    return (
        f"{d.resolved} ({d.precision}; “{d.text}”)" if d.text else f"{d.resolved} ({d.precision})"
    )


def _codes(event: Event) -> str:
    plover = event.plover + (f":{event.plover_mode}" if event.plover_mode else "")
    acled = event.acled_sub_event_type or "—"
    return f"{plover} · {acled} · CAMEO {event.cameo_root}"


def _deaths(event: Event) -> str:
    f = event.fatalities
    n = str(f.min) if f.min == f.max else f"{f.min}–{f.max}"
    return n + (" (est.)" if f.estimated else "")


def to_markdown(analysis: ArticleAnalysis) -> str:
    a, s = analysis.article, analysis.summary
    lines = [f"# {_md(s.headline)}", ""]
    meta = [a.id, str(a.published) if a.published else "date unknown", a.source or ""]
    lines += [f"*{' · '.join(_md(m) for m in meta if m)}*", "", _md(s.one_sentence), ""]
    lines += [f"- {_md(b.text)} — {_spans(b.evidence)}" for b in s.bullets]
    lines += ["", f"## Events ({len(analysis.events)})", ""]
    lines += [
        "| id | date | codes | actors → targets | where | deaths | factuality |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in analysis.events:
        where = e.location.text if e.location else "—"
        who = f"{_actors(e.actors)} → {_actors(e.targets)}"
        row = [e.id, _date(e), _codes(e), who, where, _deaths(e), e.factuality]
        lines.append("| " + " | ".join(_cell(_md(c)) for c in row) + " |")
    for e in analysis.events:
        weapons = f" — weapons: {', '.join(w.text for w in e.weapons)}" if e.weapons else ""
        lines.append(
            f"\n**{_md(e.id)}** {_md(e.summary + weapons)} — evidence {_spans(e.evidence)}"
        )
    if analysis.quotes:
        lines += ["", f"## Quotes ({len(analysis.quotes)})", ""]
        lines += [
            f"- {_md(f'“{q.text}” — {q.speaker.name}')} [{q.span.start}:{q.span.end}]"
            for q in analysis.quotes
        ]
    v, u = analysis.validation, analysis.usage
    lines += ["", "## Validation", ""]
    counts = ", ".join(f"{k} {n}" for k, n in v.alignment.items() if n)
    lines.append(f"{'OK' if v.ok else 'FAILED'} · spans: {_md(counts or 'none')}")
    lines += [f"- {i.severity} {_md(f'{i.code} {i.path}: {i.message}')}" for i in v.issues]
    footer = (
        f"{u.model} · {u.calls} call(s) · {u.prompt_tokens} prompt + {u.completion_tokens} "
        f"completion tokens ({u.cached_tokens} cached) · {u.latency_s:.2f}s · prompt "
        f"{analysis.provenance.prompt_version}"
    )
    lines += ["", f"*{_md(footer)}*"]
    return "\n".join(lines) + "\n"
