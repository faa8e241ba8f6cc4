"""Export stage: records as the tables analysts load elsewhere, one row per event.

* ``acled-csv``: ACLED's columns in ACLED's order, one row per event that has an ACLED type
  (events ACLED does not cover are left out and counted), filled where our record determines
  them and empty where it does not (admin3, source scale, tags); coordinates, admin1/2, location
  and geo_precision come from :mod:`summarizer.geocode`.
* ``plover-jsonl``: one PLOVER event record (manual draft 2.0 fields) per line.
* ``csv`` and ``parquet``: one flat row per event with every field of the record; both come from
  :data:`FLAT`, so the CSV header and the Parquet schema (:data:`FLAT_SCHEMA`) never drift apart.
  Lists are Parquet lists and ``"; "``-joined strings in CSV (read them with
  :data:`CSV_DTYPES`).

Every text cell of a CSV passes :func:`spreadsheet_safe`, so no cell runs as a formula.

The derivation rules (ACLED dates, precision, inter codes, disorder type) are stated once, here.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pycountry

from summarizer.errors import InputError
from summarizer.resources import __version__
from summarizer.schema import Actor, ArticleAnalysis, Event, Place
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

# ACLED inter codes from PLOVER sectors: 1 state forces (government, military, police,
# intelligence), 2 rebels, 3 political militias (unidentified armed groups), 7 civilians; protest
# events: 6 protesters, riots: 5 rioters; PLOVER's supranational codes: 8 external/other. Other
# sectors (JUD, LEG, PTY, OPP, ELI, ...) are ambiguous and left empty.
_INTER_BY_SECTOR = {"GOV": 1, "MIL": 1, "COP": 1, "SPY": 1, "REB": 2, "UAF": 3} | dict.fromkeys(
    ("CVL", "AGR", "BUS", "EDU", "JRN", "LAB", "MED", "REF", "REL"), 7
)

_REGIONS = {
    "Northern Africa": "DZA EGY ESH LBY MAR SDN TUN",
    "Western Africa": "BEN BFA CIV CPV GHA GIN GMB GNB LBR MLI MRT NER NGA SEN SHN SLE TGO",
    "Middle Africa": "AGO CAF CMR COD COG GAB GNQ STP TCD",
    "Eastern Africa": "BDI COM DJI ERI ETH IOT KEN MDG MOZ MUS MWI MYT REU RWA SOM SSD SYC TZA "
    "UGA ZMB ZWE",
    "Southern Africa": "BWA LSO NAM SWZ ZAF",
    "Middle East": "ARE BHR IRN IRQ ISR JOR KWT LBN OMN PSE QAT SAU SYR TUR YEM",
    "Caucasus and Central Asia": "ARM AZE GEO KAZ KGZ TJK TKM UZB",
    "South Asia": "AFG BGD BTN IND LKA MDV NPL PAK",
    "Southeast Asia": "BRN IDN KHM LAO MMR MYS PHL SGP THA TLS VNM",
    "East Asia": "CHN HKG JPN KOR MAC MNG PRK TWN",
    "Europe": "ALA ALB AND AUT BEL BGR BIH BLR CHE CYP CZE DEU DNK ESP EST FIN FRA FRO GBR GGY "
    "GIB GRC HRV HUN IMN IRL ISL ITA JEY KOS LIE LTU LUX LVA MCO MDA MKD MLT MNE NLD NOR POL "
    "PRT ROU RUS SJM SMR SRB SVK SVN SWE UKR VAT XKX",
    "North America": "BMU CAN GRL SPM USA",
    "Central America": "BLZ CRI GTM HND MEX NIC PAN SLV",
    "Caribbean": "ABW AIA ATG BES BHS BLM BRB CUB CUW CYM DMA DOM GLP GRD HTI JAM KNA LCA MAF "
    "MSR MTQ PRI SXM TCA TTO VCT VGB VIR",
    "South America": "ARG BOL BRA CHL COL ECU FLK GUF GUY PER PRY SUR URY VEN",
    "Oceania": "ASM AUS CCK COK CXR FJI FSM GUM KIR MHL MNP NCL NFK NIU NRU NZL PCN PLW PNG PYF "
    "SLB TKL TON TUV UMI VUT WLF WSM",
    "Antarctica": "ATA ATF BVT HMD SGS",
}
ACLED_REGION: dict[str, str] = {
    code: region for region, codes in _REGIONS.items() for code in codes.split()
}
"""ACLED's region of each country (ISO 3166 alpha-3; PLOVER's KOS for Kosovo): ACLED's region
names, with UN M49 sub-region membership except that ACLED puts Sudan in Northern Africa, Western
Asia's Arab states, Iran, Israel and Turkey in the Middle East, Cyprus in Europe, and the
Caucasus with Central Asia."""


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


def _coordinate(value: float | None) -> str:
    """ACLED gives coordinates to 4 decimals."""
    return "" if value is None else f"{value:.4f}"


def acled_event_id(record: ArticleAnalysis, event: Event) -> str:
    """ACLED's ``event_id_cnty``: the location's ISO3 code (``XXX`` when the event has no
    country) and a number: the SHA-256 of ``article id + "/" + event id`` as an integer, modulo
    10^9. It is the same for the same record in every export; a clash needs ~30k events of one
    country to become likely."""
    code = (event.location.country if event.location else None) or "XXX"
    digest = hashlib.sha256(f"{record.article.id}/{event.id}".encode()).digest()
    return f"{code}{int.from_bytes(digest[:8], 'big') % 10**9}"


def civilian_targeting(event: Event, inter2: int | None) -> str:
    """ACLED's flag: every Violence against civilians event, and political violence against a
    civilian second actor."""
    if event.acled_event_type == "Violence against civilians" or (
        inter2 == 7 and "Political violence" in disorder_type(event)
    ):
        return "Civilian targeting"
    return ""


def acled_row(record: ArticleAnalysis, event: Event) -> dict[str, Any]:
    place = event.location
    day, precision = acled_date(event)
    country = _country(place.country if place else None)
    actor1 = event.actors[0] if event.actors else None
    actor2 = event.targets[0] if event.targets else None
    inter2 = inter(actor2, event, False)
    row = dict.fromkeys(ACLED_COLUMNS, "")
    row.update(
        event_id_cnty=acled_event_id(record, event),
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
        civilian_targeting=civilian_targeting(event, inter2),
        iso=int(country.numeric) if country else "",
        region=ACLED_REGION.get(place.country or "", "") if place else "",
        country=country.name if country else "",
        admin1=(place.admin1_name or place.admin1 or "") if place else "",
        admin2=(place.admin2 or "") if place else "",
        location=(place.geo_name or place.text) if place else "",
        latitude=_coordinate(place.latitude) if place else "",
        longitude=_coordinate(place.longitude) if place else "",
        geo_precision=(place.geo_precision or "") if place else "",
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


def plover_resolution(place: Place) -> int | None:
    """PLOVER's ``resolution`` (5 sub-city ... 1 country) of the point we resolved to: a town 4,
    a county 3, an admin1 2, a country 1 (our points are never finer than a town)."""
    if place.latitude is None:
        return None
    if place.geo_precision in (1, 2) and place.geonames_id:
        return 4
    if place.geo_precision == 2:
        return 3
    return 2 if place.admin1_name else 1


def _entity(actor: Actor) -> dict[str, Any]:
    entity = dict.fromkeys(PLOVER_ENTITY_FIELDS)
    entity.update(
        code=actor.country,
        sector=actor.sector,
        entity_text=actor.evidence.text if actor.evidence else actor.name,
        identifier_text=actor.name,
    )
    return entity


SPAN_SEPARATOR = " … "
"""Joins the evidence spans in PLOVER's ``event_text``; ``text_info.start`` and ``.end`` are
lists with one article offset per span, in the same order."""


def plover_date(record: ArticleAnalysis, event: Event) -> tuple[str | None, str]:
    """PLOVER's required ``date`` and our ``date_precision`` beside it: the resolved date with its
    precision, else the publication date flagged ``"publication"``, else null flagged
    ``"unknown"``."""
    if event.date.resolved is not None:
        return event.date.resolved.isoformat(), event.date.precision
    if record.article.published is not None:
        return record.article.published.isoformat(), "publication"
    return None, "unknown"


def plover_record(record: ArticleAnalysis, event: Event) -> dict[str, Any]:
    a, p, place = record.article, record.provenance, event.location
    loc = None
    if place:
        country = _country(place.country)
        loc = dict.fromkeys(PLOVER_LOCATION_FIELDS)
        loc.update(
            extracted_place=place.text,
            resolved_place=place.geo_name,
            geonameid=place.geonames_id,
            lat=place.latitude,
            lon=place.longitude,
            city=place.geo_name if place.geo_precision in (1, 2) and place.geonames_id else None,
            district=place.admin2,
            province=place.admin1_name or place.admin1,
            country=country.name if country else None,
            country_code=place.country,
            resolution=plover_resolution(place),
        )
    spans = event.evidence
    date, precision = plover_date(record, event)
    return {
        "id": f"{a.id}-{event.id}",
        "date": date,
        "date_precision": precision,
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
        "event_text": SPAN_SEPARATOR.join(s.text for s in spans),
        "link": None,
        "text": None,
        "text_info": {
            "sequence": None,
            "start": [s.start for s in spans],
            "end": [s.end for s in spans],
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
_S, _L, _I = pa.string(), pa.list_(pa.string()), pa.list_(pa.int32())


def _names(attr: str, field: str) -> Getter:
    return lambda r, e: [getattr(x, field) or "" for x in getattr(e, attr)]


def _place(field: str) -> Getter:
    return lambda r, e: getattr(e.location, field) if e.location else None


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
    ("location_latitude", pa.float64(), _place("latitude")),
    ("location_longitude", pa.float64(), _place("longitude")),
    ("location_geonames_id", pa.int64(), _place("geonames_id")),
    ("location_geo_name", _S, _place("geo_name")),
    ("location_admin1_name", _S, _place("admin1_name")),
    ("location_admin2", _S, _place("admin2")),
    ("location_geo_precision", pa.int32(), _place("geo_precision")),
    ("location_geo_note", _S, _place("geo_note")),
    ("fatalities_min", pa.int32(), lambda r, e: e.fatalities.min),
    ("fatalities_max", pa.int32(), lambda r, e: e.fatalities.max),
    ("fatalities_estimated", pa.bool_(), lambda r, e: e.fatalities.estimated),
    ("weapons", _L, lambda r, e: [w.text for w in e.weapons]),
    ("factuality", _S, lambda r, e: e.factuality),
    ("evidence", _L, lambda r, e: [s.text for s in e.evidence]),
    ("evidence_start", _I, lambda r, e: [s.start for s in e.evidence]),
    ("evidence_end", _I, lambda r, e: [s.end for s in e.evidence]),
    ("validation_ok", pa.bool_(), lambda r, e: r.validation.ok),
    ("model", _S, lambda r, e: r.provenance.model),
    ("prompt_version", _S, lambda r, e: r.provenance.prompt_version),
    ("created_at", pa.timestamp("us", tz="UTC"), lambda r, e: r.provenance.created_at),
)
FLAT_SCHEMA = pa.schema([pa.field(name, kind) for name, kind, _ in FLAT])
LIST_SEPARATOR = "; "
CSV_DTYPES: dict[str, type] = {name: str for name, kind, _ in FLAT if kind in (_S, _L, _I)}
"""``pandas.read_csv(path, dtype=CSV_DTYPES)`` reads the flat CSV with its types: every text and
list column as text (so cameo_root ``"02"`` and an article id ``"007"`` stay as written; list
cells are ``"; "``-joined); numbers, booleans and floats are inferred."""


def flat_row(record: ArticleAnalysis, event: Event) -> dict[str, Any]:
    return {name: get(record, event) for name, _, get in FLAT}


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        value = LIST_SEPARATOR.join(map(str, value))
    elif isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return "" if value is None else spreadsheet_safe(value)


_FORMULA = re.compile(r"[\t\r]|[\s\"']*[=+\-@]")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run (OWASP CSV injection): text starting with ``=``,
    ``+``, ``-`` or ``@`` (also after leading whitespace or quotes), a tab or a CR gets a leading
    single quote. Numbers, and text that is only a number, are left as they are."""
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


# --------------------------------------------------------------------------- writing


def _write_csv(path: Path, columns: Iterable[str], table: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in table)


def export(records: list[ArticleAnalysis], fmt: ExportFormat, path: Path) -> int:
    """Write every event of ``records`` to ``path`` in ``fmt``; return the number of rows. The
    ACLED CSV leaves out the events without an ACLED type (ACLED does not cover them)."""
    table = list(rows(records))
    if fmt is ExportFormat.acled_csv:
        table = [(r, e) for r, e in table if e.acled_event_type]
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
            {"summarizer_version": __version__, "flat_schema": "3"}
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
    """Write one row per resolved event of a data set (``events.duckdb``, ``.parquet`` or
    ``.jsonl``; ``acled-csv`` only)."""
    if fmt is not ExportFormat.acled_csv:
        raise InputError(f"{dataset}: an events data set exports as acled-csv only")
    from summarizer.resolution import load_events  # data sets only: it loads duckdb

    events = sorted(load_events(dataset), key=lambda e: e["event_uid"])
    _write_csv(path, ACLED_COLUMNS, (acled_event_row(e) for e in events))
    return len(events)
