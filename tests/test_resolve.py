"""Event resolution: merge rules, same-article rule, follow-ups, stable ids, idempotence, outputs,
bad input. Records are built in code; places carry coordinates from a small table (FAKE_GAZETTEER)
so the tests do not depend on the gazetteer."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from summarizer import matching, resolution
from summarizer import resolve as resolve_api
from summarizer.cli import app
from summarizer.schema import (
    Actor,
    ArticleAnalysis,
    ArticleMeta,
    DateRef,
    Event,
    Fatalities,
    Place,
    Provenance,
    Span,
    Summary,
    Usage,
    Validation,
)

runner = CliRunner()

FAKE_GAZETTEER = {
    "chicago": (41.8781, -87.6298),
    "cook county": (41.8401, -87.8168),  # its centroid, ~15 km from Chicago's
    "evanston": (42.0451, -87.6877),
    "springfield": (39.7817, -89.6501),
}


@pytest.fixture(autouse=True)
def fake_gazetteer(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = matching

    def geocoded(place: Place, context: str | None) -> Place:
        lat, lon = FAKE_GAZETTEER.get(place.text.lower(), (None, None))
        return place.model_copy(update={"latitude": lat, "longitude": lon})

    monkeypatch.setattr(mod, "geocoded", geocoded)


def event(
    eid: str,
    text: str,
    *,
    date: str | None,
    place: str | None = "Chicago",
    names: tuple[str, ...] = (),
    plover: str = "ASSAULT",
    acled_sub: str | None = "Attack",
    killed: int | None = 1,
    summary: str = "A man was shot.",
    precision: str = "day",
) -> tuple[str, dict[str, Any]]:
    return (eid, locals())


def record(
    article_id: str, published: str, *events: tuple[str, dict[str, Any]], text: str = ""
) -> ArticleAnalysis:
    built = []
    body = text or f"Article {article_id}."
    for eid, e in events:
        ev_text = e["text"]
        if ev_text not in body:
            body += " " + ev_text
        start = body.index(ev_text)
        built.append(
            Event(
                id=eid,
                summary=e["summary"],
                plover=e["plover"],
                plover_mode=None,
                acled_event_type="Violence against civilians"
                if e["acled_sub"] == "Attack"
                else ("Strategic developments" if e["acled_sub"] == "Arrests" else None),
                acled_sub_event_type=e["acled_sub"],
                cameo_root="18" if e["plover"] == "ASSAULT" else "17",
                actors=[],
                targets=[Actor(name=n, country="USA", sector="CVL") for n in e["names"]],
                date=DateRef(
                    text=None,
                    resolved=dt.date.fromisoformat(e["date"]) if e["date"] else None,
                    precision=e["precision"] if e["date"] else "unknown",
                ),
                location=Place(text=e["place"], country="USA", admin1="Illinois")
                if e["place"]
                else None,
                fatalities=Fatalities(
                    min=e["killed"] or 0,
                    max=e["killed"] or 0,
                    estimated=False,
                    text=f"{e['killed']} killed" if e["killed"] is not None else None,
                ),
                weapons=[],
                factuality="asserted",
                evidence=[Span(text=ev_text, start=start, end=start + len(ev_text))],
            )
        )
    return ArticleAnalysis(
        article=ArticleMeta(
            id=article_id,
            title=None,
            source=f"outlet-{article_id}",
            published=dt.date.fromisoformat(published),
            text_sha256=hashlib.sha256(body.encode()).hexdigest(),
        ),
        events=built,
        quotes=[],
        summary=Summary(headline="h", one_sentence="s", bullets=[]),
        validation=Validation(ok=True),
        usage=Usage(),
        provenance=Provenance(
            summarizer_version="0",
            prompt_version="0",
            model="test",
            created_at=dt.datetime(2020, 1, 1),
        ),
    )


def groups(events: list[dict[str, Any]]) -> set[frozenset[tuple[str, str]]]:
    return {frozenset((m["article_id"], m["event_id"]) for m in e["members"]) for e in events}


def uid_of(events: list[dict[str, Any]], article_id: str, event_id: str = "e1") -> str:
    return next(
        e["event_uid"]
        for e in events
        if {"article_id": article_id, "event_id": event_id} in e["members"]
    )


def by_uid(events: list[dict[str, Any]], uid: str) -> dict[str, Any]:
    return next(e for e in events if e["event_uid"] == uid)


JOE_A = "Joe Doe, 22, was shot on Maple Street."
JOE_B = "Police said Joe Doe died after the Maple Street shooting."


def shooting(article_id: str, published: str, text: str, **kw: Any) -> ArticleAnalysis:
    kw.setdefault("date", "2020-05-01")
    return record(article_id, published, event("e1", text, **kw))


def test_reports_of_one_event_merge_with_provenance_and_others_stay_apart() -> None:
    a = shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",), killed=1)
    b = shooting("b", "2020-05-03", JOE_B, names=("Joe Doe",), killed=2)
    c = shooting("c", "2020-05-03", "A woman was shot in Evanston.", place="Evanston")
    d = shooting("d", "2020-05-02", "A man was shot in Springfield.", place="Springfield")
    events = resolve_api([a, b, c, d])
    assert groups(events) == {
        frozenset({("a", "e1"), ("b", "e1")}),
        frozenset({("c", "e1")}),
        frozenset({("d", "e1")}),
    }
    joe = by_uid(events, uid_of(events, "a"))
    assert joe["n_sources"] == 2
    assert joe["targets"] == [{"name": "Joe Doe", "n_sources": 2}]
    assert joe["date"]["value"] == "2020-05-01" and joe["date"]["precision"] == "day"
    assert (joe["first_report"], joe["last_report"]) == ("2020-05-02", "2020-05-03")
    assert joe["fatalities"]["value"] == 1  # ACLED: the lower of the two figures
    assert sorted(r["min"] for r in joe["fatalities"]["reports"]) == [1, 2]
    assert {s["spans"][0]["text"] for s in joe["evidence"]} == {JOE_A, JOE_B}
    (link,) = joe["match"]["links"]  # b joined a (or a joined b): one link, explained
    assert {"date", "place", "names"} <= set(link["agreed"])
    assert link["weights"]["place"]["level"] == "same place"
    assert link["match_weight"] > 0 and link["match_probability"] > 0.5


def test_incident_date_not_publication_date_decides() -> None:
    """A report three weeks later of the same shooting (dated by the text) joins it; a shooting
    the same day as that later report, same city, does not."""
    first = shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",))
    later = shooting("b", "2020-05-22", JOE_B, names=("Joe Doe",))
    other = shooting("c", "2020-05-22", "Ann Roe was shot on Oak Avenue.", date="2020-05-21")
    events = resolve_api([first, later, other])
    assert uid_of(events, "a") == uid_of(events, "b") != uid_of(events, "c")


def test_two_events_of_one_article_never_merge_the_stronger_link_wins() -> None:
    """Article x reports two shootings in Chicago on one day; y reports one naming Ann Roe. Both
    of x's events score above the threshold with y's; y joins the one naming Ann Roe."""
    x = record(
        "x",
        "2020-05-02",
        event("e1", "Bob Poe was shot on Pine Street.", date="2020-05-01", names=("Bob Poe",)),
        event("e2", "Ann Roe was shot on Oak Avenue.", date="2020-05-01", names=("Ann Roe",)),
    )
    y = shooting("y", "2020-05-02", "Ann Roe, 30, died on Oak Avenue.", names=("Ann Roe",))
    events = resolve_api([x, y])
    assert groups(events) == {
        frozenset({("x", "e1")}),
        frozenset({("x", "e2"), ("y", "e1")}),
    }


def test_same_article_rule_holds_through_a_chain() -> None:
    """x's two events each match z; z may join only one, so x's events stay apart."""
    x = record(
        "x",
        "2020-05-02",
        event("e1", "A man was shot.", date="2020-05-01"),
        event("e2", "Another man was shot.", date="2020-05-01"),
    )
    z = shooting("z", "2020-05-02", "A man was shot in Chicago.")
    events = resolve_api([x, z])
    assert uid_of(events, "x", "e1") != uid_of(events, "x", "e2")
    assert len(events) == 2


def arrest(eid: str, text: str, date: str, **kw: Any) -> tuple[str, dict[str, Any]]:
    kw.setdefault("names", ("Sam Roe",))
    return event(eid, text, date=date, plover="COERCE", acled_sub="Arrests", killed=None, **kw)


def test_follow_up_links_to_its_incident_but_stays_its_own_event() -> None:
    a = shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",))
    b = record(
        "b",
        "2020-05-15",
        event("e1", JOE_B, date="2020-05-01", names=("Joe Doe",)),
        arrest("e2", "Sam Roe was arrested on Thursday.", "2020-05-14"),
    )
    c = record("c", "2020-05-15", arrest("e1", "Police arrested Sam Roe, 19.", "2020-05-14"))
    events = resolve_api([a, b, c])
    incident, follow = uid_of(events, "a"), uid_of(events, "b", "e2")
    assert uid_of(events, "b", "e1") == incident
    assert uid_of(events, "c") == follow != incident
    assert by_uid(events, follow)["follow_up_of"] == incident
    assert by_uid(events, follow)["kind"] == "follow_up"
    assert by_uid(events, incident)["follow_up_of"] is None


def test_arrest_the_same_day_and_place_is_not_merged_into_the_shooting() -> None:
    a = shooting("a", "2020-05-02", JOE_A, names=("Joe Doe", "Sam Roe"))
    c = record("c", "2020-05-02", arrest("e1", "Police arrested Sam Roe, 19.", "2020-05-01"))
    events = resolve_api([a, c])
    assert uid_of(events, "a") != uid_of(events, "c")
    assert by_uid(events, uid_of(events, "c"))["follow_up_of"] == uid_of(events, "a")


def test_majority_with_ties_shown_and_disagreeing_dates_kept() -> None:
    a = shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",))
    b = shooting("b", "2020-05-02", JOE_B, names=("Joe Doe",), date="2020-04-30")
    b.events[0].plover = "COERCE"  # same kind (incident), another category
    events = resolve_api([a, b])
    (event_,) = events
    assert event_["plover"]["tied"] == ["ASSAULT", "COERCE"]
    assert event_["plover"]["votes"] == {"ASSAULT": 1, "COERCE": 1}
    assert event_["date"]["disagree"] is True
    assert {r["date"] for r in event_["date"]["reports"]} == {"2020-05-01", "2020-04-30"}


def test_pair_scores_do_not_depend_on_the_rest_of_the_data() -> None:
    """Fixed m/u: the same pair gets the same weight whatever else is in the stream."""
    a = shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",))
    b = shooting("b", "2020-05-03", JOE_B, names=("Joe Doe",))
    noise = [shooting(f"n{i}", "2020-05-03", f"Man {i} shot.", place="Evanston") for i in range(5)]
    alone = resolve_api([a, b])[0]["match"]["links"][0]["match_weight"]
    crowd = by_uid(events := resolve_api([a, b, *noise]), uid_of(events, "a"))
    assert crowd["match"]["links"][0]["match_weight"] == alone


def write_jsonl(path: Path, records: list[ArticleAnalysis]) -> Path:
    path.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    return path


def cli(*args: object) -> Any:
    return runner.invoke(app, ["resolve", *map(str, args)])


def test_incremental_runs_keep_every_event_uid(tmp_path: Path) -> None:
    db = tmp_path / "events.duckdb"
    first = write_jsonl(
        tmp_path / "one.jsonl",
        [
            shooting("m", "2020-05-02", JOE_A, names=("Joe Doe",)),
            shooting("z", "2020-05-03", "A woman was shot in Evanston.", place="Evanston"),
        ],
    )
    assert cli(first, "--into", db).exit_code == 0
    before = {e["event_uid"]: e["members"] for e in resolve_api([], into=db)}
    # "a" sorts before "m": a from-scratch run would name the event after a; here it keeps m's uid
    second = write_jsonl(
        tmp_path / "two.jsonl",
        [
            shooting("a", "2020-05-03", JOE_B, names=("Joe Doe",)),
            shooting("q", "2020-06-09", "A man was shot in Springfield.", place="Springfield"),
        ],
    )
    assert cli(second, "--into", db).exit_code == 0
    after = {e["event_uid"]: e["members"] for e in resolve_api([], into=db)}
    assert len(after) == 3
    for uid, members in before.items():
        assert all(m in after[uid] for m in members)  # never renamed, never lost a member
    joe = uid_of(resolve_api([], into=db), "m")
    assert {"article_id": "a", "event_id": "e1"} in after[joe]


def test_new_evidence_bridging_two_events_links_them_same_as(tmp_path: Path) -> None:
    db = tmp_path / "events.duckdb"
    one = shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",))
    two = shooting("b", "2020-05-02", "Ann Roe was hurt.", place="Cook County", names=("Ann Roe",))
    resolve_api([one, two], into=db)
    uids = {uid_of(resolve_api([], into=db), k) for k in "ab"}
    assert len(uids) == 2
    bridge = shooting("c", "2020-05-02", JOE_B, names=("Joe Doe", "Ann Roe"))
    events = resolve_api([bridge], into=db)
    assert {e["event_uid"] for e in events} == uids  # c joined one; none renamed
    ua, ub = uid_of(events, "a"), uid_of(events, "b")
    assert uid_of(events, "c") == ua
    assert by_uid(events, ua)["same_as"] == [ub] and by_uid(events, ub)["same_as"] == [ua]


def test_same_input_twice_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "events.duckdb"
    src = write_jsonl(
        tmp_path / "out.jsonl",
        [
            shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",)),
            shooting("b", "2020-05-03", JOE_B, names=("Joe Doe",)),
            record("c", "2020-05-15", arrest("e1", "Police arrested Sam Roe, 19.", "2020-05-14")),
        ],
    )
    one, two = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    assert cli(src, "--into", db, "-o", one).exit_code == 0
    db_bytes = db.read_bytes()
    assert cli(src, "--into", db, "-o", two).exit_code == 0
    assert one.read_bytes() == two.read_bytes()
    assert db.read_bytes() == db_bytes  # nothing new: the data set is not rewritten
    fresh = tmp_path / "fresh.jsonl"
    assert cli(src, src, "-o", fresh).exit_code == 0  # a file given twice adds nothing
    assert fresh.read_bytes() == one.read_bytes()


def test_each_output_format(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "out.jsonl",
        [
            shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",)),
            shooting("b", "2020-05-03", JOE_B, names=("Joe Doe",)),
            shooting("c", "2020-05-03", "A woman was shot in Evanston.", place="Evanston"),
        ],
    )
    out = [tmp_path / f"events.{s}" for s in ("duckdb", "parquet", "jsonl")]
    result = cli(src, *[x for p in out for x in ("-o", p)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out[2].read_text(encoding="utf-8").splitlines()]
    assert [e["event_uid"] for e in lines] == sorted(e["event_uid"] for e in lines)
    for e in lines:
        assert {
            "event_uid",
            "members",
            "date",
            "place",
            "n_sources",
            "follow_up_of",
            "match",
        } <= set(e)
    table = pq.read_table(out[1])
    assert table.column("event_uid").to_pylist() == [e["event_uid"] for e in lines]
    assert [json.loads(d) for d in table.column("detail").to_pylist()] == lines
    con = duckdb.connect(str(out[0]), read_only=True)
    assert con.execute("select count(*) from events").fetchone() == (2,)
    assert con.execute("select count(*) from mentions").fetchone() == (3,)
    assert con.execute("select count(*) from articles").fetchone() == (3,)
    joined = con.execute(
        "select article_id, agreed from mentions where match_weight is not null"
    ).fetchall()
    assert len(joined) == 1 and "place" in joined[0][1]
    assert con.execute("select sum(n_sources) from events").fetchone() == (3,)


def other_schema(path: Path) -> list[Path]:
    rec = json.loads(shooting("a", "2020-05-02", JOE_A).model_dump_json())
    del rec["events"][0]["evidence"]  # a record of another schema version
    rec["schema_version"] = "0.9"
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    return [path]


def contradicting(path: Path) -> list[Path]:
    rec = shooting("a", "2020-05-02", JOE_A)
    other = rec.model_copy(deep=True)
    other.article.text_sha256 = "0" * 64
    return [write_jsonl(path, [other])]


def empty(path: Path) -> list[Path]:
    path.write_text("", encoding="utf-8")
    return [path]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: [p.with_name("missing.jsonl")], "cannot read"),
        (empty, "holds no record"),
        (other_schema, "not an ArticleAnalysis record"),
        (contradicting, "text_sha256"),
    ],
    ids=["missing", "empty", "other-schema", "contradicting-hash"],
)
def test_bad_input_exits_2_and_changes_nothing(tmp_path: Path, make: Any, message: str) -> None:
    db, out = tmp_path / "events.duckdb", tmp_path / "events.jsonl"
    good = write_jsonl(tmp_path / "good.jsonl", [shooting("a", "2020-05-02", JOE_A)])
    assert cli(good, "--into", db, "-o", out).exit_code == 0
    before, before_out = db.read_bytes(), out.read_bytes()
    bad = make(tmp_path / "bad.jsonl")
    result = cli(*bad, "--into", db, "-o", out)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert db.read_bytes() == before and out.read_bytes() == before_out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["events.duckdb", "events.jsonl", "good.jsonl", *[p.name for p in bad if p.exists()]]
    )  # no temporary file left behind


def test_contradicting_hash_within_one_run_exits_2(tmp_path: Path) -> None:
    one = write_jsonl(tmp_path / "one.jsonl", [shooting("a", "2020-05-02", JOE_A)])
    two = contradicting(tmp_path / "two.jsonl")[0]
    result = cli(one, two, "-o", tmp_path / "events.jsonl")
    assert result.exit_code == 2 and "one.jsonl has" in result.stderr
    assert not (tmp_path / "events.jsonl").exists()


def test_cli_needs_an_output_and_a_known_suffix(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "out.jsonl", [shooting("a", "2020-05-02", JOE_A)])
    assert cli(src).exit_code == 2
    bad = cli(src, "-o", tmp_path / "events.csv")
    assert bad.exit_code == 2 and "must end in" in bad.stderr


def test_spark_settings_use_spark_sql_and_the_same_model() -> None:
    import sqlglot

    mod = matching
    duck, spark = mod.splink_settings("duckdb"), mod.splink_settings("spark")
    assert (
        spark["blocking_rules_to_generate_predictions"]
        == duck["blocking_rules_to_generate_predictions"]
    )
    for dc, sc in zip(duck["comparisons"], spark["comparisons"], strict=True):
        for dl, sl in zip(dc["comparison_levels"], sc["comparison_levels"], strict=True):
            assert (dl.get("m_probability"), dl.get("u_probability")) == (
                sl.get("m_probability"),
                sl.get("u_probability"),
            )
            if sl["sql_condition"] != "ELSE":
                sqlglot.parse_one(sl["sql_condition"], read="spark")
                assert "list_intersect" not in sl["sql_condition"]
                assert "date_diff" not in sl["sql_condition"]


def test_event_level_acled_export(tmp_path: Path) -> None:
    import csv

    from summarizer.export import ACLED_COLUMNS

    db, out = tmp_path / "events.duckdb", tmp_path / "events.csv"
    resolve_api(
        [
            shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",), killed=2),
            shooting("b", "2020-05-03", JOE_B, names=("Joe Doe",), killed=1),
            shooting("c", "2020-05-03", "A woman was shot in Evanston.", place="Evanston"),
        ],
        into=db,
    )
    result = runner.invoke(app, ["export", str(db), "-f", "acled-csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(ACLED_COLUMNS)
    assert len(rows) == 2
    joe = next(r for r in rows if r["location"] == "Chicago")
    assert joe["event_id_cnty"].startswith("ev-") and joe["fatalities"] == "1"
    assert joe["source"] == "outlet-a; outlet-b" and "2 report(s): a, b" in joe["notes"]
    assert (joe["event_date"], joe["time_precision"]) == ("2020-05-01", "1")
    assert (joe["latitude"], joe["longitude"]) == ("41.8781", "-87.6298")
    assert joe["actor2"] == "Joe Doe" and joe["country"] == "United States"
    bad = runner.invoke(app, ["export", str(db), "-f", "plover-jsonl", "-o", str(out)])
    assert bad.exit_code == 2 and "acled-csv only" in bad.stderr


def test_into_a_file_that_is_not_a_data_set_exits_2(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "out.jsonl", [shooting("a", "2020-05-02", JOE_A)])
    fake = tmp_path / "events.duckdb"
    fake.write_text("not a database", encoding="utf-8")
    result = cli(src, "--into", fake)
    assert result.exit_code == 2 and "not a summarizer events data set" in result.stderr
    assert fake.read_text(encoding="utf-8") == "not a database"
    other = tmp_path / "other.duckdb"
    assert cli(src, "--into", other).exit_code == 0
    con = duckdb.connect(str(other))
    con.execute("update meta set value = 'resolve-0' where key = 'model'")
    con.close()
    result = cli(src, "--into", other)
    assert result.exit_code == 2 and "match model resolve-0" in result.stderr


def test_two_shootings_in_one_city_on_one_day_with_different_victims_stay_apart() -> None:
    bob = "Bob Poe, 41, was shot several times outside a barbershop on Pine Street late Friday."
    ann = "Ann Roe, 30, was wounded by gunfire near the Oak Avenue bus stop in the afternoon."
    ann2 = "Officers found Ann Roe wounded near the Oak Avenue bus stop, a spokesman said."
    a = shooting("a", "2020-05-02", bob, names=("Bob Poe",))
    b = shooting("b", "2020-05-02", ann, names=("Ann Roe",))
    c = shooting("c", "2020-05-02", ann2, names=("Ann Roe", "Chicago Police"))
    events = resolve_api([a, b, c])
    assert uid_of(events, "a") != uid_of(events, "b") == uid_of(events, "c")


def test_pipeline_records_every_event_record_lands_in_exactly_one_event(
    request: pytest.FixtureRequest, scripted_url: str, tmp_path: Path
) -> None:
    """Records the real pipeline made (seed article + MUCSUM dev): places the fake gazetteer does
    not know stay without coordinates, and nothing is lost or counted twice."""
    from scripted_records import scripted_records

    records = scripted_records(request.config, scripted_url)
    src = write_jsonl(tmp_path / "out.jsonl", records)
    out = tmp_path / "events.jsonl"
    assert cli(src, "-o", out).exit_code == 0
    events = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    members = [(m["article_id"], m["event_id"]) for e in events for m in e["members"]]
    expected = [(r.article.id, e.id) for r in records for e in r.events]
    assert sorted(members) == sorted(expected)
    for e in events:  # the same-article rule holds on real records too
        assert len({m["article_id"] for m in e["members"]}) == len(e["members"])


def test_m_and_u_are_probability_distributions_over_each_comparison() -> None:
    mod = matching
    for comp in mod.COMPARISONS:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        assert sum(lv["m_probability"] for lv in levels) == pytest.approx(1)
        assert sum(lv["u_probability"] for lv in levels) == pytest.approx(1)
        weights = [w for w, _ in mod.level_weights()[comp["output_column_name"]]]
        assert 0 not in weights and len(set(weights)) == len(weights)  # a weight names its level


def test_event_uid_is_the_hash_of_the_first_member() -> None:
    events = resolve_api(
        [
            shooting("b", "2020-05-03", JOE_B, names=("Joe Doe",)),
            shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",)),
        ]
    )
    expected = "ev-" + hashlib.sha256(b"a\x1fe1").hexdigest()[:16]
    assert [e["event_uid"] for e in events] == [expected]


def test_an_undated_report_published_days_after_a_dated_one_joins_it() -> None:
    """No incident date: the publication date stands in (reported within 3 days: +5.8 bits)."""
    a = shooting("a", "2020-05-02", "A man was shot dead outside a Chicago store on Friday.")
    b = shooting("b", "2020-05-03", "Police are looking for the gunman.", date=None)
    late = shooting("late", "2020-05-30", "Police are still looking for a gunman.", date=None)
    events = resolve_api([a, b, late])
    assert uid_of(events, "a") == uid_of(events, "b") != uid_of(events, "late")
    (link,) = by_uid(events, uid_of(events, "a"))["match"]["links"]
    assert link["weights"]["date"]["level"].startswith("one date unknown, reported within 3 days")


PHILLIPS = ("Maurice Phillips", "Tahirah Phillips")


def test_reports_naming_the_same_rare_people_are_compared_across_months(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three months apart, no incident date in the later report: only the names bring the two
    together (a blocking key); a name shared by more than RARE_NAME_MAX mentions is none."""
    a = shooting("a", "2020-04-18", "Maurice Phillips was shot.", names=PHILLIPS, date="2020-04-16")
    b = shooting("b", "2020-07-13", "Tahirah Phillips spoke in court.", names=PHILLIPS, date=None)
    events = resolve_api([a, b])
    assert uid_of(events, "a") == uid_of(events, "b")
    monkeypatch.setattr(matching, "RARE_NAME_MAX", 1)
    events = resolve_api([a, b])
    assert uid_of(events, "a") != uid_of(events, "b")


def test_an_arrest_naming_victim_and_suspect_the_same_day_stays_its_own_event() -> None:
    """Two names, the same day and place still do not outweigh incident vs follow-up."""
    a = shooting("a", "2020-05-02", JOE_A, names=("Joe Doe", "Sam Roe"))
    c = record(
        "c",
        "2020-05-02",
        arrest("e1", "Police arrested Sam Roe in the killing of Joe Doe.", "2020-05-01",
               names=("Sam Roe", "Joe Doe")),
    )  # fmt: skip
    events = resolve_api([a, c])
    assert uid_of(events, "a") != uid_of(events, "c")
    assert by_uid(events, uid_of(events, "c"))["follow_up_of"] == uid_of(events, "a")


def test_a_town_and_its_county_agree_on_the_county(monkeypatch: pytest.MonkeyPatch) -> None:
    county = {"chicago": "Cook County", "cook county": "Cook County"}

    def geocoded(place: Place, context: str | None) -> Place:
        lat, lon = FAKE_GAZETTEER.get(place.text.lower(), (None, None))
        update = {"latitude": lat, "longitude": lon, "admin2": county.get(place.text.lower())}
        return place.model_copy(update=update)

    monkeypatch.setattr(matching, "geocoded", geocoded)
    text = "A bartender was wounded outside the Wrigleyville tavern; the gunman fled on a scooter."
    a = shooting("a", "2020-05-02", text)
    b = shooting("b", "2020-05-02", text.replace("A bartender", "One man"), place="Cook County")
    events = resolve_api([a, b])
    assert uid_of(events, "a") == uid_of(events, "b")
    (link,) = by_uid(events, uid_of(events, "a"))["match"]["links"]
    assert link["weights"]["place"]["level"] == "same county"


def test_rare_words_leave_out_names_places_and_the_stream_jargon(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    words = ["apopka", "brevard", "deputies", "scooter", "shooting"]
    assert matching._rare(words, "en", ["Kenya Brevard", "Apopka"]) == ["deputies", "scooter"]
    assert matching._rare(words, "xx", []) == []  # no word list for the language: none
    # scoring drops a word more than max(RARE_NAME_MAX, 1% of the mentions) use
    monkeypatch.setattr(matching, "RARE_NAME_MAX", 2)
    texts = ["Deputies saw a scooter.", "Deputies found the scooter.", "Deputies shot."]
    recs = [shooting(str(i), "2020-05-02", t) for i, t in enumerate(texts)]
    con = duckdb.connect()
    resolution.open_dataset(con, None)
    resolution._add(con, resolution._new_records(con, [("x", r) for r in recs]))
    matching.score(con)
    kept = con.execute("select article_id, rare_words from m order by article_id").fetchall()
    assert kept == [("0", ["scooter"]), ("1", ["scooter"]), ("2", [])]


def test_an_incremental_run_merges_again_only_the_events_it_touches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unchanged events are their stored rows (same fingerprint: mentions and links), and those
    rows are exactly what a full re-merge gives."""
    db = tmp_path / "events.duckdb"
    joe = shooting("a", "2020-05-02", JOE_A, names=("Joe Doe",))
    c = shooting("c", "2020-05-03", "A woman was shot in Evanston.", place="Evanston")
    d = shooting("d", "2020-05-02", "A man was shot in Springfield.", place="Springfield")
    resolve_api([joe, c, d], into=db)
    merged: list[str] = []
    real = resolution.merge
    monkeypatch.setattr(
        resolution, "merge", lambda uid, rows, link: merged.append(uid) or real(uid, rows, link)
    )
    events = resolve_api([shooting("b", "2020-05-03", JOE_B, names=("Joe Doe",))], into=db)
    assert merged == [uid_of(events, "a")] and uid_of(events, "b") == uid_of(events, "a")
    monkeypatch.undo()
    con = duckdb.connect()
    resolution.open_dataset(con, db)
    con.execute("drop table prior")  # no stored rows to reuse: every event merged again
    _, full = resolution.write_outputs(con, [], collect=True)
    assert [resolution.to_json(e) for e in full] == [resolution.to_json(e) for e in events]
    assert len(full) == 3
