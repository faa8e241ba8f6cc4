"""Export stage: records as the tables analysts load elsewhere, one row per event.

* ``acled-csv``: ACLED's columns in ACLED's order, filled where our record determines them and
  empty where it does not (no coordinates, admin2/3, region, source scale or tags).
* ``plover-jsonl``: one PLOVER event record (manual draft 2.0 fields) per line.
* ``csv`` and ``parquet``: one flat row per event with every field of the record; both come from
  :data:`FLAT`, so the CSV header and the Parquet schema (:data:`FLAT_SCHEMA`) never drift apart.
  Lists are Parquet lists and ``"; "``-joined strings in CSV.

The derivation rules (ACLED dates, precision, inter codes, disorder type) are stated once, here.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pycountry

from summarizer.errors import InputError
from summarizer.pipeline import __version__
from summarizer.schema import Actor, ArticleAnalysis, Event
from summarizer.taxonomy import IGO_CODES


class ExportFormat(StrEnum):
    acled_csv = "acled-csv"
    plover_jsonl = "plover-jsonl"
    csv = "csv"
    parquet = "parquet"


Row = tuple[ArticleAnalysis, Event]


def rows(records: Iterable[ArticleAnalysis]) -> Iterator[Row]:
    return ((r, e) for r in records for e in r.events)


def _country(code: str | None) -> Any:
    return pycountry.countries.get(alpha_3=code) if code and code not in IGO_CODES else None


# --------------------------------------------------------------------------- ACLED

ACLED_COLUMNS: tuple[str, ...] = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
    "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
    "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2", "admin3",
    "location", "latitude", "longitude", "geo_precision", "source", "source_scale", "notes",
    "fatalities", "tags", "timestamp",
)  # fmt: skip
"""ACLED's export columns since the 2023-03 change, in ACLED's order."""

_PRECISION = {"day": 1, "week": 2, "month": 3}


def acled_date(event: Event) -> tuple[dt.date | None, int | str]:
    """ACLED's date and time_precision: 1 day; 2 week, dated at the week's midpoint; 3 month,
    dated mid-month. Years and unresolved dates have no ACLED form (empty)."""
    return acled_day(event.date.resolved, event.date.precision)


def acled_day(resolved: dt.date | None, precision: str | None) -> tuple[dt.date | None, int | str]:
    """:func:`acled_date` of a date and its precision."""
    if resolved is None or precision not in _PRECISION:
        return None, ""
    if precision == "week":
        return resolved + dt.timedelta(days=3), 2
    if precision == "month":
        return resolved.replace(day=15), 3
    return resolved, 1


_DEMONSTRATION = {"Peaceful protest", "Protest with intervention", "Violent demonstration"}
_VIOLENCE = {"Battles", "Explosions/Remote violence", "Violence against civilians", "Riots"}

# ACLED inter codes from PLOVER sectors: 1 state forces, 2 rebels, 3 political militias
# (unidentified armed groups), 7 civilians; protest events: 6 protesters, riots: 5 rioters;
# PLOVER's supranational codes: 8 external/other. Other sectors (GOV, PTY, ...) are ambiguous.
_INTER_BY_SECTOR = {"MIL": 1, "COP": 1, "SPY": 1, "REB": 2, "UAF": 3} | dict.fromkeys(
    ("CVL", "AGR", "BUS", "EDU", "JRN", "LAB", "MED", "REF", "REL"), 7
)


def disorder_type(event: Event) -> str:
    return disorder(event.acled_event_type, event.acled_sub_event_type)


def disorder(kind: str | None, sub: str | None) -> str:
    """ACLED's disorder_type of an event type and sub-event type."""
    if sub == "Excessive force against protesters":
        return "Political violence; Demonstrations"
    if sub in _DEMONSTRATION:
        return "Demonstrations"
    if kind in _VIOLENCE:
        return "Political violence"
    return kind or ""


def inter(actor: Actor | None, event: Event, first: bool) -> int | None:
    if actor is None:
        return None
    if first and event.acled_event_type == "Protests":
        return 6
    if first and event.acled_event_type == "Riots":
        return 5
    if actor.country in IGO_CODES:
        return 8
    return _INTER_BY_SECTOR.get(actor.sector or "")


def interaction(event: Event) -> str:
    """Two digits, lower code first; ``X0`` when there is no second actor."""
    i1 = inter(event.actors[0] if event.actors else None, event, True)
    if i1 is None:
        return ""
    if not event.targets:
        return f"{i1}0"
    i2 = inter(event.targets[0], event, False)
    return "" if i2 is None else "".join(sorted(f"{i1}{i2}"))


def acled_row(record: ArticleAnalysis, event: Event) -> dict[str, Any]:
    place = event.location
    day, precision = acled_date(event)
    country = _country(place.country if place else None)
    actor1 = event.actors[0] if event.actors else None
    actor2 = event.targets[0] if event.targets else None
    inter2 = inter(actor2, event, False)
    row = dict.fromkeys(ACLED_COLUMNS, "")
    row.update(
        event_id_cnty=f"{record.article.id}-{event.id}",
        event_date=day.isoformat() if day else "",
        year=day.year if day else "",
        time_precision=precision,
        disorder_type=disorder_type(event),
        event_type=event.acled_event_type or "",
        sub_event_type=event.acled_sub_event_type or "",
        actor1=actor1.name if actor1 else "",
        assoc_actor_1="; ".join(a.name for a in event.actors[1:]),
        inter1=inter(actor1, event, True) or "",
        actor2=actor2.name if actor2 else "",
        assoc_actor_2="; ".join(a.name for a in event.targets[1:]),
        inter2=inter2 or "",
        interaction=interaction(event),
        civilian_targeting="Civilian targeting"
        if inter2 == 7 and "Political violence" in disorder_type(event)
        else "",
        iso=int(country.numeric) if country else "",
        country=country.name if country else "",
        admin1=(place.admin1 or "") if place else "",
        location=place.text if place else "",
        source=record.article.source or "",
        notes=event.summary,
        fatalities=event.fatalities.min,
        timestamp=int(record.provenance.created_at.timestamp()),
    )
    return row


# --------------------------------------------------------------------------- PLOVER

PLOVER_QUAD: dict[str, int] = {
    **dict.fromkeys(("AGREE", "CONSULT", "SUPPORT", "CONCEDE"), 1),
    **dict.fromkeys(("COOPERATE", "AID", "RETREAT"), 2),
    **dict.fromkeys(("REQUEST", "REJECT", "ACCUSE", "THREATEN"), 3),
    **dict.fromkeys(("PROTEST", "SANCTION", "MOBILIZE", "COERCE", "ASSAULT"), 4),
}
"""PLOVER quad of each category: 1 verbal / 2 material cooperation, 3 verbal / 4 material
conflict (manual draft 2.0; SANCTION placed in material conflict as in its own section)."""

PLOVER_ENTITY_FIELDS = (
    "code", "sector", "entity_text", "identifier_id", "identifier_text", "religion", "ethnicity",
    "office", "gender", "age",
)  # fmt: skip
PLOVER_LOCATION_FIELDS = (
    "extracted_place", "resolved_place", "geonameid", "lat", "lon", "city", "district", "province",
    "country", "country_code", "feature_class", "feature_code", "resolution",
)  # fmt: skip


def _entity(actor: Actor) -> dict[str, Any]:
    entity = dict.fromkeys(PLOVER_ENTITY_FIELDS)
    entity.update(
        code=actor.country,
        sector=actor.sector,
        entity_text=actor.evidence.text if actor.evidence else actor.name,
        identifier_text=actor.name,
    )
    return entity


def plover_record(record: ArticleAnalysis, event: Event) -> dict[str, Any]:
    a, p, place = record.article, record.provenance, event.location
    loc = None
    if place:
        country = _country(place.country)
        loc = dict.fromkeys(PLOVER_LOCATION_FIELDS)
        loc.update(
            extracted_place=place.text,
            province=place.admin1,
            country=country.name if country else None,
            country_code=place.country,
        )
    spans = event.evidence
    return {
        "id": f"{a.id}-{event.id}",
        "date": event.date.resolved.isoformat() if event.date.resolved else None,
        "time": None,
        "enddate": None,
        "endtime": None,
        "actor": [_entity(x) for x in event.actors],
        "recipient": [_entity(x) for x in event.targets],
        "event": [event.plover],
        "mode": event.plover_mode,
        "context": [],
        "quad_code": PLOVER_QUAD[event.plover],
        "event_scale": None,
        "has_event": True,
        "event_loc": loc,
        "event_text": " ".join(s.text for s in spans),
        "link": None,
        "text": None,
        "text_info": {
            "sequence": None,
            "start": min(s.start for s in spans) if spans else None,
            "end": max(s.end for s in spans) if spans else None,
            "text_story": a.title,
        },
        "cite_info": {
            "url": a.url,
            "title": a.title,
            "language": a.language,
            "publication": a.source,
            "license": None,
            "coder": f"summarizer {p.summarizer_version}",
            "codebook": "PLOVER manual draft 2.0",
            "version": p.prompt_version,
        },
        "coder": p.model,
        "coded_date": p.created_at.date().isoformat(),
        "coded_time": p.created_at.time().isoformat(timespec="seconds"),
        "comment": event.summary,
        "size": {"dead": event.fatalities.min, "injured": None, "arrested": None},
    }


# --------------------------------------------------------------------------- flat CSV / Parquet

Getter = Callable[[ArticleAnalysis, Event], Any]
_S, _L = pa.string(), pa.list_(pa.string())


def _names(attr: str, field: str) -> Getter:
    return lambda r, e: [getattr(x, field) or "" for x in getattr(e, attr)]


FLAT: tuple[tuple[str, pa.DataType, Getter], ...] = (
    ("article_id", _S, lambda r, e: r.article.id),
    ("title", _S, lambda r, e: r.article.title),
    ("source", _S, lambda r, e: r.article.source),
    ("url", _S, lambda r, e: r.article.url),
    ("published", pa.date32(), lambda r, e: r.article.published),
    ("event_id", _S, lambda r, e: e.id),
    ("summary", _S, lambda r, e: e.summary),
    ("plover", _S, lambda r, e: e.plover),
    ("plover_mode", _S, lambda r, e: e.plover_mode),
    ("acled_event_type", _S, lambda r, e: e.acled_event_type),
    ("acled_sub_event_type", _S, lambda r, e: e.acled_sub_event_type),
    ("cameo_root", _S, lambda r, e: e.cameo_root),
    ("actors", _L, _names("actors", "name")),
    ("actor_countries", _L, _names("actors", "country")),
    ("actor_sectors", _L, _names("actors", "sector")),
    ("targets", _L, _names("targets", "name")),
    ("target_countries", _L, _names("targets", "country")),
    ("target_sectors", _L, _names("targets", "sector")),
    ("date_text", _S, lambda r, e: e.date.text),
    ("date_resolved", pa.date32(), lambda r, e: e.date.resolved),
    ("date_precision", _S, lambda r, e: e.date.precision),
    ("location", _S, lambda r, e: e.location.text if e.location else None),
    ("location_country", _S, lambda r, e: e.location.country if e.location else None),
    ("location_admin1", _S, lambda r, e: e.location.admin1 if e.location else None),
    ("fatalities_min", pa.int32(), lambda r, e: e.fatalities.min),
    ("fatalities_max", pa.int32(), lambda r, e: e.fatalities.max),
    ("fatalities_estimated", pa.bool_(), lambda r, e: e.fatalities.estimated),
    ("weapons", _L, lambda r, e: [w.text for w in e.weapons]),
    ("factuality", _S, lambda r, e: e.factuality),
    ("evidence", _L, lambda r, e: [s.text for s in e.evidence]),
    ("evidence_offsets", _L, lambda r, e: [f"{s.start}:{s.end}" for s in e.evidence]),
    ("validation_ok", pa.bool_(), lambda r, e: r.validation.ok),
    ("model", _S, lambda r, e: r.provenance.model),
    ("prompt_version", _S, lambda r, e: r.provenance.prompt_version),
    ("created_at", pa.timestamp("us", tz="UTC"), lambda r, e: r.provenance.created_at),
)
FLAT_SCHEMA = pa.schema([pa.field(name, kind) for name, kind, _ in FLAT])
LIST_SEPARATOR = "; "


def flat_row(record: ArticleAnalysis, event: Event) -> dict[str, Any]:
    return {name: get(record, event) for name, _, get in FLAT}


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return "" if value is None else value


# --------------------------------------------------------------------------- writing


def _write_csv(path: Path, columns: Iterable[str], table: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in table)


def export(records: list[ArticleAnalysis], fmt: ExportFormat, path: Path) -> int:
    """Write every event of ``records`` to ``path`` in ``fmt``; return the number of rows."""
    table = list(rows(records))
    if fmt is ExportFormat.acled_csv:
        _write_csv(path, ACLED_COLUMNS, (acled_row(r, e) for r, e in table))
    elif fmt is ExportFormat.plover_jsonl:
        with path.open("w", encoding="utf-8") as out:
            for r, e in table:
                out.write(json.dumps(plover_record(r, e), ensure_ascii=False) + "\n")
    elif fmt is ExportFormat.csv:
        _write_csv(path, FLAT_SCHEMA.names, (flat_row(r, e) for r, e in table))
    else:
        data = [flat_row(r, e) for r, e in table]
        arrow = pa.Table.from_pylist(data, schema=FLAT_SCHEMA).replace_schema_metadata(
            {"summarizer_version": __version__, "flat_schema": "1"}
        )
        pq.write_table(arrow, path)
    return len(table)


# --------------------------------------------------------------------------- resolved events


def acled_event_row(event: dict[str, Any]) -> dict[str, Any]:
    """One ACLED row for a resolved event (an ``events.jsonl`` object): the majority types, the
    most named actor and target (the others as associates), every source in ``source`` and in
    ``notes``. ``inter``/``interaction`` (sectors are not merged), ``geo_precision``,
    ``source_scale`` (no outlet scope in the records), ``tags`` and ``timestamp`` stay empty."""
    date = event["date"]
    day, precision = acled_day(
        dt.date.fromisoformat(date["value"]) if date["value"] else None, date["precision"]
    )
    place = event["place"]
    country = _country(place["country"])
    kind, sub = event["acled_event_type"]["value"], event["acled_sub_event_type"]["value"]
    actors, targets = [a["name"] for a in event["actors"]], [a["name"] for a in event["targets"]]
    sources = sorted({m["article_id"] for m in event["members"]})
    summaries = [e["summary"] for e in event["evidence"]]
    notes = f"{summaries[0]} [{event['n_sources']} report(s): {', '.join(sources)}]"
    if event["follow_up_of"]:
        notes += f" [follow-up of {event['follow_up_of']}]"
    row = dict.fromkeys(ACLED_COLUMNS, "")
    row.update(
        event_id_cnty=event["event_uid"],
        event_date=day.isoformat() if day else "",
        year=day.year if day else "",
        time_precision=precision,
        disorder_type=disorder(kind, sub),
        event_type=kind or "",
        sub_event_type=sub or "",
        actor1=actors[0] if actors else "",
        assoc_actor_1="; ".join(actors[1:]),
        actor2=targets[0] if targets else "",
        assoc_actor_2="; ".join(targets[1:]),
        iso=int(country.numeric) if country else "",
        country=country.name if country else "",
        admin1=place["admin1"] or "",
        location=place["text"] or "",
        latitude=f"{place['latitude']:.4f}" if place["latitude"] is not None else "",
        longitude=f"{place['longitude']:.4f}" if place["longitude"] is not None else "",
        source="; ".join(event["outlets"]) if event.get("outlets") else "",
        notes=notes,
        fatalities=event["fatalities"]["value"],
    )
    return row


def export_events(dataset: Path, fmt: ExportFormat, path: Path) -> int:
    """Write one row per resolved event of an ``events.duckdb`` data set (``acled-csv`` only)."""
    if fmt is not ExportFormat.acled_csv:
        raise InputError(f"{dataset}: an events data set exports as acled-csv only")
    try:
        con = duckdb.connect(str(dataset), read_only=True)
        details = con.execute("select detail from events order by event_uid").fetchall()
        con.close()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{dataset}: not an events data set ({first})") from None
    events = [json.loads(d) for (d,) in details]
    _write_csv(path, ACLED_COLUMNS, (acled_event_row(e) for e in events))
    return len(events)
