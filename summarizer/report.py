"""Report stage: records as one self-contained HTML page (no network fetch) for people to check.

Every grounded span is a *ref* with a page-wide id (``a<article>-<what>``) made of positions,
never of record data: event evidence (``e1``, the first event), actors (``e1-actor0``), targets,
the date, the place, the deaths, weapons, quotes (``q1``) and their speakers, and bullet evidence
(``b1``). The article text is cut at every span boundary; each piece covered by refs is a
``<mark>`` listing them in ``data-refs`` (coloured by the narrowest event covering it, with one
underline per other event), and
every table cell, quote and bullet links to its refs with ``href="#ref"`` and ``data-ref``.
Hovering either side highlights both; clicking a mark shows what it supports. Validation issues
sit next to the event, quote or bullet their path names.

A batch gets an index first: counts by PLOVER and ACLED type, by event country and by month
(recounted over the articles the filter shows), a filter box over ``data-search`` keywords, and
one row per article. Each article's events sit beside its text. Sections use
``content-visibility: auto`` so 1,000 articles stay responsive (see ``benchmarks/report_load.py``).

Record data is text, never markup or script: Jinja escapes every value, :func:`printable` shows
control characters (the article text alone is shown as it is), and the page's Content-Security-
Policy runs only its own stylesheet and script, named by their SHA-256 hashes, and fetches nothing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from summarizer.errors import printable
from summarizer.output import _date, _deaths
from summarizer.resources import __version__
from summarizer.schema import ArticleAnalysis, Event, Issue, Span

TEMPLATES = Path(__file__).parent / "templates"
PALETTE = ("#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33")
"""Event colours, in order: Paul Tol's colour-blind-safe "light" scheme (made for backgrounds under
black text; its grey is left for quotations, its olive is too close to pear). Event n is
``ev{n % 7}``; from the eighth event on, the colours repeat with a pattern (``cyc1`` stripes,
``cyc2`` dots), so no two events look alike."""
PALETTE_SIZE = len(PALETTE)
CYCLES = 3
"""Patterns: plain, stripes, dots; 21 events are told apart, the 22nd looks like the first."""
UNDERLINES = 3
"""A passage shared by several events has the colour of the narrowest and one underline per other
event (``also1-ev3``: first underline in event colour 3), at most this many."""


def event_classes(n: int) -> str:
    return f"ev{n % PALETTE_SIZE} cyc{n // PALETTE_SIZE % CYCLES}"


@dataclass
class Ref:
    id: str
    label: str
    span: Span
    owner: str  # id of the event, quote or bullet it belongs to
    event: int | None = None  # index of the event it belongs to
    fine: bool = False  # a name, date, place, number or weapon of an event


@dataclass
class Segment:
    text: str
    refs: list[Ref] = field(default_factory=list)
    anchors: list[str] = field(default_factory=list)  # refs whose first piece this is

    @property
    def css(self) -> str:
        events = [r for r in self.refs if r.event is not None]
        if not events:
            return "nq"  # a quotation or a bullet's evidence only
        by_width = sorted(events, key=lambda r: r.span.end - r.span.start)
        ordered = list(dict.fromkeys(r.event for r in by_width if r.event is not None))
        css = [event_classes(ordered[0])]
        if any(r.fine for r in self.refs):
            css.append("fine")
        others = ordered[1 : UNDERLINES + 1]
        if others:
            css.append("also")
            css += [f"also{k}-ev{n % PALETTE_SIZE}" for k, n in enumerate(others, start=1)]
        return " ".join(css)

    @property
    def data_refs(self) -> str:
        return " ".join(dict.fromkeys(r.id for r in self.refs))

    @property
    def owners(self) -> str:
        return " ".join(dict.fromkeys(r.owner for r in self.refs))

    @property
    def title(self) -> str:
        return " · ".join(dict.fromkeys(r.label for r in self.refs))


def refs(record: ArticleAnalysis, prefix: str) -> list[Ref]:
    """Every grounded span of ``record`` as a :class:`Ref` (ids unique on the page)."""
    found: list[Ref] = []
    for n, e in enumerate(record.events):
        eid = f"{prefix}-e{n + 1}"
        found += [Ref(eid, f"{e.id} {e.plover} evidence", s, eid, n) for s in e.evidence]
        for role, people in (("actor", e.actors), ("target", e.targets)):
            for k, person in enumerate(people):
                if person.evidence:
                    label = f"{e.id} {role}: {person.name}"
                    found.append(Ref(f"{eid}-{role}{k}", label, person.evidence, eid, n, True))
        if e.date.evidence:
            label = f"{e.id} date: {_date(e)}"
            found.append(Ref(f"{eid}-date", label, e.date.evidence, eid, n, True))
        if e.location and e.location.evidence:
            label = f"{e.id} place: {e.location.text}"
            found.append(Ref(f"{eid}-place", label, e.location.evidence, eid, n, True))
        if e.fatalities.evidence:
            label = f"{e.id} deaths: {_deaths(e)}"
            found.append(Ref(f"{eid}-deaths", label, e.fatalities.evidence, eid, n, True))
        for k, w in enumerate(e.weapons):
            found.append(Ref(f"{eid}-weapon{k}", f"{e.id} weapon: {w.text}", w, eid, n, True))
    for k, q in enumerate(record.quotes, start=1):
        qid = f"{prefix}-q{k}"
        found.append(Ref(qid, f"quote q{k} ({q.speaker.name})", q.span, qid))
        if q.speaker.evidence:
            label = f"q{k} speaker: {q.speaker.name}"
            found.append(Ref(f"{qid}-speaker", label, q.speaker.evidence, qid))
    for k, b in enumerate(record.summary.bullets, start=1):
        bid = f"{prefix}-b{k}"
        found += [Ref(bid, f"bullet b{k}", s, bid) for s in b.evidence]
    return found


def segments(text: str, found: list[Ref]) -> list[Segment]:
    """``text`` cut at every span boundary; each piece lists the refs covering it, and the first
    piece of each ref carries its anchor."""
    usable = [r for r in found if 0 <= r.span.start < r.span.end <= len(text)]
    cuts = sorted({0, len(text)} | {r.span.start for r in usable} | {r.span.end for r in usable})
    starts: dict[int, list[Ref]] = {}
    for r in usable:
        starts.setdefault(r.span.start, []).append(r)
    out: list[Segment] = []
    open_refs: list[Ref] = []
    anchored: set[str] = set()
    for a, b in itertools.pairwise(cuts):
        open_refs = [r for r in open_refs if r.span.end > a] + starts.get(a, [])
        fresh = list(dict.fromkeys(r.id for r in open_refs if r.id not in anchored))
        anchored.update(fresh)
        out.append(Segment(text[a:b], list(open_refs), fresh))
    return out


def _issue_places(
    record: ArticleAnalysis,
) -> tuple[dict[tuple[str, int], list[Issue]], list[Issue]]:
    """Issues by the (list, position) of the item their ``item`` id names; the rest (the record's,
    or an item left out of the record, such as a dropped quotation) are general."""
    where = {e.id: ("events", n) for n, e in enumerate(record.events)}
    where |= {q.id: ("quotes", n) for n, q in enumerate(record.quotes)}
    where |= {b.id: ("summary.bullets", n) for n, b in enumerate(record.summary.bullets)}
    placed: dict[tuple[str, int], list[Issue]] = {}
    general = []
    for issue in record.validation.issues:
        if issue.item in where:
            placed.setdefault(where[issue.item], []).append(issue)
        else:
            general.append(issue)
    return placed, general


def _keywords(record: ArticleAnalysis) -> str:
    words = [record.article.id, record.article.title or "", record.summary.headline]
    for e in record.events:
        words += [f"type:{e.plover}", f"type:{e.acled_event_type or ''}"]
        if e.location and e.location.country:
            words.append(f"country:{e.location.country}")
        if e.date.resolved:
            words.append(f"date:{e.date.resolved:%Y-%m}")
        words += [a.name for a in e.actors + e.targets]
    words.append("status:ok" if record.validation.ok else "status:failed")
    return " ".join(w.lower() for w in words if w)


def _article_view(n: int, record: ArticleAnalysis, text: str | None) -> dict[str, Any]:
    prefix = f"a{n}"
    found = refs(record, prefix)
    placed, general = _issue_places(record)
    return {
        "prefix": prefix,
        "r": record,
        "segments": segments(text, found) if text is not None else None,
        "refs": {r.id for r in found},
        "issues": placed,
        "general_issues": general,
        "search": _keywords(record),
    }


Facets = dict[str, list[tuple[str, str, int]]]


def _facet_items(e: Any) -> list[tuple[str, str, str]]:
    """``(facet, label, filter term)`` of one event, one per facet."""
    acled = e.acled_event_type
    country = e.location.country if e.location and e.location.country else None
    month = f"{e.date.resolved:%Y-%m}" if e.date.resolved else None
    return [
        ("PLOVER type", e.plover, f"type:{e.plover}"),
        ("ACLED type", acled or "none", f"type:{acled}" if acled else ""),
        ("country", country or "unknown", f"country:{country}" if country else ""),
        ("month", month or "unresolved", f"date:{month}" if month else ""),
    ]


def _counts(records: list[ArticleAnalysis]) -> tuple[Facets, list[str]]:
    """``{facet: [(label, filter term, count)]}`` over all events, most frequent first; and for
    each record the keys (``facet-item`` positions, one per event and facet) the page's script
    counts again over the articles the filter shows."""
    facets: dict[str, Counter[tuple[str, str]]] = {
        k: Counter() for k in ("PLOVER type", "ACLED type", "country", "month")
    }
    for r in records:
        for e in r.events:
            for facet, label, term in _facet_items(e):
                facets[facet][(label, term)] += 1
    shown = {k: c.most_common() for k, c in facets.items()}
    position = {
        (facet, item): f"{f}-{i}"
        for f, (facet, items) in enumerate(shown.items())
        for i, (item, _) in enumerate(items)
    }
    keys = [
        " ".join(position[(f, (lab, t))] for e in r.events for f, lab, t in _facet_items(e))
        for r in records
    ]
    counts = {k: [(lab, term.lower(), n) for (lab, term), n in c] for k, c in shown.items()}
    return counts, keys


def _shown(value: Any) -> Any:
    """Every value the page shows (Jinja's ``finalize``): text with control characters escaped;
    markup (macros, and the article text marked ``|verbatim``) is already escaped."""
    return printable(value, lines=True) if type(value) is str else value  # Markup is a str subclass


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        finalize=_shown,
    )
    env.filters["excerpt"] = lambda s, n=90: s if len(s) <= n else s[: n - 1] + "…"
    env.filters["verbatim"] = escape
    env.globals.update(date=_date, deaths=_deaths)
    return env


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


@functools.cache
def _assets() -> tuple[Markup, Markup, Markup]:
    """The page's stylesheet and script, and the Content-Security-Policy that allows exactly those
    two (by hash) and nothing else: no other script, inline handler, style or fetch."""
    env = _environment()
    style = env.get_template("report.css.j2").render(
        palette=PALETTE, cycles=CYCLES, underlines=UNDERLINES
    )
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    policy = (
        f"default-src 'none'; style-src {_hash(style)}; script-src {_hash(script)}; "
        "base-uri 'none'; form-action 'none'"
    )
    return Markup(style), Markup(script), Markup(policy)


def render(records: list[ArticleAnalysis], texts: dict[str, str]) -> str:
    """The HTML page for ``records``; ``texts`` maps SHA-256 to article text (missing texts are
    stated on the page, and the records are shown without the highlighted article)."""
    views = [_article_view(n, r, texts.get(r.article.text_sha256)) for n, r in enumerate(records)]
    counts, keys = _counts(records)
    for view, key in zip(views, keys, strict=True):
        view["keys"] = key
    style, script, policy = _assets()
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            articles=views,
            batch=len(records) > 1,
            counts=counts,
            event_classes=event_classes,
            palette_size=PALETTE_SIZE,
            style=style,
            script=script,
            policy=policy,
            version=__version__,
            events=sum(len(r.events) for r in records),
            missing=sum(v["segments"] is None for v in views),
        )
    )


def write(records: list[ArticleAnalysis], texts: dict[str, str], path: Path) -> int:
    """Write the page; return how many records had no article text."""
    path.write_text(render(records, texts), encoding="utf-8")
    return sum(r.article.text_sha256 not in texts for r in records)


# --------------------------------------------------------------------------- event report
# One page per resolved event data set (``summarizer resolve``): an index and a map of the events,
# then one section per event with its sources side by side. Ids are positions here too: ``ev3``
# is the fourth event, ``ev3-m1`` its second member, and ``ev3-m1-e2`` that member's event
# (``e2``: the second event of its record), so the page script links marks and fields as above.

EXCERPT_CONTEXT = 240
"""Characters of article text shown before the first and after the last span of a member."""
MAP_WIDTH, MAP_MIN_HEIGHT, MAP_MAX_HEIGHT = 960, 240, 440
MAP_LABELS = 40
"""Up to this many points, each is labelled with its place."""
GRATICULE_STEPS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30)
COMPARED = ("date", "place", "PLOVER", "ACLED", "deaths", "actors", "targets", "factuality")
"""A member's fields shown in its column when the members do not all agree on them."""


def _get(d: Any, *keys: str) -> Any:
    """``d[k1][k2]...``, or None where the data set lacks it (files may be hand-edited)."""
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any, low: float, high: float) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) and low <= value <= high else None


def _point(event: dict[str, Any]) -> tuple[float, float] | None:
    lat = _number(_get(event, "place", "latitude"), -90, 90)
    lon = _number(_get(event, "place", "longitude"), -180, 180)
    return (lat, lon) if lat is not None and lon is not None else None


def _fields(e: Event) -> dict[str, str]:
    """The compared fields of one member event, as shown."""
    place = e.location.text if e.location else "—"
    return {
        "date": _date(e),
        "place": place + (f" ({e.location.country})" if e.location and e.location.country else ""),
        "PLOVER": e.plover + (f":{e.plover_mode}" if e.plover_mode else ""),
        "ACLED": e.acled_sub_event_type or "none",
        "deaths": _deaths(e),
        "actors": ", ".join(a.name for a in e.actors) or "—",
        "targets": ", ".join(a.name for a in e.targets) or "—",
        "factuality": e.factuality,
    }


def _excerpt(text: str, found: list[Ref]) -> tuple[list[Segment], bool, bool]:
    """The text around ``found`` (:data:`EXCERPT_CONTEXT` either side, cut at a space), as
    segments; and whether text was left out before and after."""
    pieces = segments(text, found)
    usable = [r.span for r in found if 0 <= r.span.start < r.span.end <= len(text)]
    if not usable:
        return pieces, False, False
    first, last = min(s.start for s in usable), max(s.end for s in usable)
    lo, hi = max(0, first - EXCERPT_CONTEXT), min(len(text), last + EXCERPT_CONTEXT)
    space = text.find(" ", lo, first)  # start and end on a word boundary where there is one
    lo = space + 1 if lo and space != -1 else lo
    space = text.rfind(" ", last, hi)
    hi = space if hi < len(text) and space != -1 else hi
    out, at = [], 0
    for p in pieces:
        a, b = at, at + len(p.text)
        at = b
        if b <= lo or a >= hi:
            continue
        out.append(Segment(p.text[max(lo, a) - a : min(hi, b) - a], p.refs, p.anchors))
    return out, lo > 0, hi < len(text)


def _member_view(
    prefix: str,
    member: dict[str, str],
    event: dict[str, Any],
    records: dict[str, ArticleAnalysis],
    texts: dict[str, str],
) -> dict[str, Any]:
    aid, eid = member["article_id"], member["event_id"]
    stored = next(
        (x for x in event.get("evidence") or [] if _get(x, "article_id") == aid
         and _get(x, "event_id") == eid),
        {},
    )  # fmt: skip
    link = next(
        (x for x in _get(event, "match", "links") or [] if _get(x, "article_id") == aid
         and _get(x, "event_id") == eid),
        None,
    )  # fmt: skip
    joined = _get(link, "joined_to")
    view: dict[str, Any] = {
        "id": prefix,
        "article_id": aid,
        "event_id": eid,
        "record": None,
        "summary": _get(stored, "summary") or "",
        "spans": [s for s in _get(stored, "spans") or [] if isinstance(_get(s, "text"), str)],
        "joined_to": "/".join(str(x) for x in joined.values())
        if isinstance(joined, dict)
        else (str(joined) if joined else None),
        "weight": _number(_get(link, "match_weight"), -1e9, 1e9),
        "probability": _number(_get(link, "match_probability"), 0, 1),
        "agreed": [str(a) for a in _get(link, "agreed") or []],
        "fields": {},
        "segments": None,
    }
    record = records.get(aid)
    index = next((n for n, e in enumerate(record.events) if e.id == eid), None) if record else None
    if record is None or index is None:
        return view
    e = record.events[index]
    column = int(prefix.rsplit("-m", 1)[1])  # its marks take the colour of its column
    found = [replace(r, event=column) for r in refs(record, prefix) if r.event == index]
    view |= {
        "record": record,
        "eid": f"{prefix}-e{index + 1}",
        "event": e,
        "summary": e.summary,
        "spans": [s.model_dump() for s in e.evidence],
        "fields": _fields(e),
        "refs": {r.id for r in found},
    }
    text = texts.get(record.article.text_sha256)
    if text is not None:
        view["segments"], view["cut_before"], view["cut_after"] = _excerpt(text, found)
    return view


def _event_view(
    n: int, event: dict[str, Any], records: dict[str, ArticleAnalysis], texts: dict[str, str]
) -> dict[str, Any]:
    prefix = f"ev{n}"
    members = [
        _member_view(f"{prefix}-m{k}", m, event, records, texts)
        for k, m in enumerate(event["members"])
    ]
    known = [m for m in members if m["fields"]]
    differ = [f for f in COMPARED if len({m["fields"][f] for m in known}) > 1]
    plover = _get(event, "plover", "value")
    sub = _get(event, "acled_sub_event_type", "value")
    return {
        "id": prefix,
        "e": event,
        "uid": event["event_uid"],
        "date": _get(event, "date", "value") or "date unknown",
        "place": _get(event, "place", "text") or "place unknown",
        "country": _get(event, "place", "country") or "",
        "type": " · ".join(str(x) for x in (plover, sub) if x) or "—",
        "fatalities": _get(event, "fatalities", "value"),
        "n_sources": len({m["article_id"] for m in event["members"]}),
        "point": _point(event),
        "members": members,
        "differ": differ,
        "kind": _text(_get(event, "kind")),
        "follow_up_of": _text(_get(event, "follow_up_of")),
        "same_as": [str(u) for u in _get(event, "same_as") or []],
        "first_report": _text(_get(event, "first_report")),
        "last_report": _text(_get(event, "last_report")),
        "missing": sum(m["record"] is None for m in members),
        "no_text": sum(m["record"] is not None and m["segments"] is None for m in members),
    }


def _step(span: float) -> float:
    """A graticule step giving about four to eight lines across ``span`` degrees."""
    return next((s for s in GRATICULE_STEPS if span / s <= 8), GRATICULE_STEPS[-1])


def event_map(views: list[dict[str, Any]]) -> dict[str, Any] | None:
    """An equirectangular map of the geocoded events, framed on them: the SVG size, graticule
    lines and one point per event (radius growing with its sources, largest drawn first)."""
    located = [v for v in views if v["point"]]
    if not located:
        return None
    lats = [v["point"][0] for v in located]
    lons = [v["point"][1] for v in located]
    pad_lat = max((max(lats) - min(lats)) * 0.15, 0.5)
    pad_lon = max((max(lons) - min(lons)) * 0.15, 0.5)
    s, n = max(-90.0, min(lats) - pad_lat), min(90.0, max(lats) + pad_lat)
    w, e = max(-180.0, min(lons) - pad_lon), min(180.0, max(lons) + pad_lon)
    scale = min(MAP_WIDTH / (e - w), MAP_MAX_HEIGHT / (n - s))  # pixels per degree, both axes
    grow_lon = (MAP_WIDTH / scale - (e - w)) / 2
    w, e = w - grow_lon, e + grow_lon
    height = max(MAP_MIN_HEIGHT, (n - s) * scale)
    grow_lat = (height / scale - (n - s)) / 2
    s, n = s - grow_lat, n + grow_lat

    def x(lon: float) -> float:
        return round((lon - w) * scale, 1)

    def y(lat: float) -> float:
        return round((n - lat) * scale, 1)

    step = _step(max(e - w, n - s))
    meridians = range(math.ceil(w / step), math.floor(e / step) + 1)
    parallels = range(math.ceil(s / step), math.floor(n / step) + 1)
    lines = [("lon", x(k * step), f"{k * step:g}°") for k in meridians]
    lines += [("lat", y(k * step), f"{k * step:g}°") for k in parallels]
    points = [
        {
            "view": v,
            "x": x(v["point"][1]),
            "y": y(v["point"][0]),
            "r": round(min(2 + 2.5 * math.sqrt(v["n_sources"]), 18), 1),
        }
        for v in sorted(located, key=lambda v: -v["n_sources"])
    ]
    return {
        "width": MAP_WIDTH,
        "height": round(height, 1),
        "lines": lines,
        "points": points,
        "labels": len(points) <= MAP_LABELS,
    }


def order(event: dict[str, Any]) -> tuple[str, str, str]:
    """Events are shown by date (undated last), then place, then ``event_uid``."""
    date = _get(event, "date", "value")
    place = _get(event, "place", "text")
    return (str(date) if date else "~", str(place) if place else "~", event["event_uid"])


def _event_page(
    events: list[dict[str, Any]], records: list[ArticleAnalysis], texts: dict[str, str]
) -> tuple[str, int, int]:
    by_id = {r.article.id: r for r in records}
    views = [_event_view(n, e, by_id, texts) for n, e in enumerate(sorted(events, key=order))]
    missing, no_text = sum(v["missing"] for v in views), sum(v["no_text"] for v in views)
    style, script, policy = _assets()
    html = (
        _environment()
        .get_template("events.html.j2")
        .render(
            events=views,
            uids={v["uid"]: v["id"] for v in views},
            map=event_map(views),
            articles=len({m["article_id"] for v in views for m in v["members"]}),
            event_classes=event_classes,
            style=style,
            script=script,
            policy=policy,
            version=__version__,
            missing=missing,
            no_text=no_text,
        )
    )
    return html, missing, no_text


def render_events(
    events: list[dict[str, Any]], records: list[ArticleAnalysis], texts: dict[str, str]
) -> str:
    """The HTML page of a resolved event data set (:func:`load_events`): the events' index and
    map, then each event with its member reports side by side. ``records`` are the records the
    data set was built from (matched by article id), ``texts`` the article texts by SHA-256."""
    return _event_page(events, records, texts)[0]


def write_events(
    events: list[dict[str, Any]], records: list[ArticleAnalysis], texts: dict[str, str], path: Path
) -> tuple[int, int]:
    """Write the event page; return how many member reports had no record, and how many had a
    record but no article text."""
    html, missing, no_text = _event_page(events, records, texts)
    path.write_text(html, encoding="utf-8")
    return missing, no_text
