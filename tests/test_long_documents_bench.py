"""The helpers of benchmarks/long_documents.py: matching, the rate-limit bound, the roundups."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from summarizer.batch.limits import PACER_BURST, TOKEN_BURST
from summarizer.chunking import Chunk
from summarizer.schema import Event

sys.path.insert(0, str(ROOT / "benchmarks"))
import long_documents as bench

SAMPLE = ROOT / "tests" / "data" / "gvc"


def event(eid: str, *spans: tuple[int, int], plover: str = "ASSAULT") -> Event:
    return Event.model_validate(
        {
            "id": eid,
            "summary": "A shooting.",
            "plover": plover,
            "plover_mode": None,
            "acled_event_type": None,
            "acled_sub_event_type": None,
            "cameo_root": "18",
            "actors": [],
            "targets": [],
            "date": {"text": None, "resolved": None, "precision": "unknown"},
            "location": None,
            "fatalities": {"min": 0, "max": 0, "estimated": False, "text": None},
            "weapons": [],
            "factuality": "asserted",
            "evidence": [{"start": a, "end": b, "text": "x" * (b - a)} for a, b in spans],
        }
    )


def item(name: str, incident: str | None = None) -> bench.Item:
    return bench.Item(name, "text", {}, name, incident=incident)


def test_compare_counts_duplicates_joins_and_lost_events() -> None:
    a, b, c, d = item("a", "1"), item("b", "1"), item("c", "2"), item("d", "3")
    reference = [event("e1", (0, 10)), event("e2", (20, 30)), event("e3", (40, 50))]
    reference += [event("e4", (60, 70))]
    merged = [
        event("e1", (0, 10), (20, 30)),  # items a and b: one incident, joined in one document
        event("e2", (45, 50)),  # c's event
        event("e3", (40, 44)),  # c's event again: a duplicate
        event("e4", (60, 70), plover="PROTEST"),  # d's event, wrong category: d's is lost
    ]
    chunks = [Chunk(0, 44, ""), Chunk(40, 80, "")]
    found = bench.compare(merged, reference, [a, b, c, d], chunks)
    assert found["matched"] == 2 and found["recall"] == 0.5 and found["precision"] == 0.5
    assert found["covered"] == 3 and found["found"] == 0.75
    assert (found["duplicates"], found["joined_same_incident"], found["joined_other"]) == (1, 1, 0)
    duplicate, lost = found["problems"]
    assert duplicate.startswith("duplicate: merged e3 ASSAULT evidence 40-44 in chunk 1 (0-44), 2")
    assert "repeats merged e2 ASSAULT evidence 45-50 in chunk 2 (40-80)" in duplicate
    assert duplicate.endswith("of item c: same_event fails: no resolved date in both")
    assert lost.startswith("lost: the reference event e4") and lost.endswith("of item d")


def test_an_event_joining_two_incidents_is_a_wrong_merge() -> None:
    reference = [event("e1", (0, 10)), event("e2", (20, 30))]
    found = bench.compare([event("e1", (0, 30))], reference, [item("a", "1"), item("b", "2")])
    assert (found["joined_same_incident"], found["joined_other"]) == (0, 1)
    assert found["problems"][0].startswith("joined across incidents: merged e1")


def test_the_bound_is_what_the_limiters_let_through() -> None:
    assert bench.bound_s(PACER_BURST, 10**9, 60.0, None) == 0  # the first requests go at once
    assert bench.bound_s(PACER_BURST + 30, 0, 60.0, None) == pytest.approx(30.0)
    assert bench.bound_s(100, TOKEN_BURST, None, 600_000.0) == 0  # within the bucket
    assert bench.bound_s(1, TOKEN_BURST + 10_000, None, 600_000.0) == pytest.approx(1.0)
    assert bench.bound_s(PACER_BURST + 30, TOKEN_BURST + 10_000, 60.0, 600_000.0) == 30.0
    assert bench.bound_s(10**6, 10**9, None, None) == 0  # no limits: nothing to wait for


def test_a_roundup_places_each_item_under_its_header_with_its_gold() -> None:
    items, left = bench.gvc_items(SAMPLE)
    assert left == 0 and len(items) == len((SAMPLE / "articles.jsonl").read_text().splitlines())
    dates = [i.published for i in items]
    assert dates == sorted(d or dt.date.max for d in dates)  # by publication date
    roundup = bench.numbered(items[:3])
    text, answer, offsets = bench.digest(roundup)
    for n, (i, offset) in enumerate(zip(roundup, offsets, strict=True), 1):
        assert text[offset : offset + len(i.text)] == i.text
        header = text[: offset - 1].rsplit("\n", 1)[-1]
        assert header == f"{n}. {i.title} ({i.published})"
    assert answer["events"] == [e for i in roundup for e in i.answer["events"]]


def test_a_folder_that_is_not_gvc_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--gvc", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "x.json").exists()


def test_a_duplicate_says_why_its_views_stayed_apart() -> None:
    twice = bench.why_apart(event("e1", (0, 10)), event("e2", (0, 10), (20, 30)))
    assert twice.startswith("both at the same span")
    dated = event("e1", (0, 10)).model_copy(
        update={
            "date": event("e1", (0, 1)).date.model_copy(
                update={"resolved": dt.date(2016, 5, 5), "precision": "day"}
            )
        }
    )
    assert bench.why_apart(dated, event("e2", (20, 30))).endswith("no resolved date in one")
    other = dated.model_copy(update={"id": "e2", "evidence": event("e2", (20, 30)).evidence})
    assert bench.why_apart(dated, other).startswith("same_event holds")  # same date, no place


@pytest.mark.parametrize(
    "args", [["--sizes", "ten"], ["--sizes", "0,5"], ["--chunk-tokens", "10"], ["--tpm", "0"]]
)
def test_bad_arguments_are_one_line_exit_2(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main([*args, "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_broken_gvc_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "articles.jsonl").write_text('{"id": "a", "text": "x"}\nnot json\n')
    (tmp_path / "incidents.jsonl").write_text("")
    assert bench.main(["--gvc", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read the data") and err.count("\n") == 1
