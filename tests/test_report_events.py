"""The event report (``summarizer report events.duckdb --records out.jsonl``): the index lists
each resolved event once with its articles, an event shows every member's evidence side by side,
the map has one point per geocoded event and fetches nothing, hostile ids and text stay text; and
in chromium, the layout on a screenshot (``artifacts/report-events.png``).

Data sets are built by :func:`summarizer.resolve` from small records (the builder of
``tests/test_resolve.py``) whose places carry coordinates, so no gazetteer is involved."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from scripted_records import scripted_records, texts
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from test_report import ARTIFACTS, LOOPBACK, _errors, _js, _open, browser  # noqa: F401
from test_resolve import event, record
from typer.testing import CliRunner

from summarizer import resolve, write_report
from summarizer.cli import app
from summarizer.records import sha256
from summarizer.report import event_map, order, render, render_events
from summarizer.resolution import load_events
from summarizer.schema import ArticleAnalysis

runner = CliRunner()
POINTS = {"Chicago": (41.8781, -87.6298), "Evanston": (42.0451, -87.6877)}
JOE_A = "Joe Doe, 22, was shot on Maple Street."
JOE_B = "Police said Joe Doe died after the Maple Street shooting."
JOE_C = "Joe Doe was shot dead in Chicago on Friday night."
EVANSTON = "A woman was shot in Evanston."
PREAMBLE = "Local news. " + "Weather and traffic filled the morning. " * 12


def located(r: ArticleAnalysis) -> ArticleAnalysis:
    for e in r.events:
        if e.location and e.location.text in POINTS:
            lat, lon = POINTS[e.location.text]
            e.location = e.location.model_copy(update={"latitude": lat, "longitude": lon})
    return r


def article(aid: str, published: str, *events: Any) -> tuple[ArticleAnalysis, str]:
    body = PREAMBLE + " ".join(e[1]["text"] for e in events) + " The end."
    return located(record(aid, published, *events, text=body)), body


def corpus() -> tuple[list[ArticleAnalysis], dict[str, str]]:
    """Three reports of one shooting (they disagree on the deaths), one in Evanston, and one
    event with no place (no point on the map)."""
    made = [
        article("a", "2020-05-02", event("e1", JOE_A, date="2020-05-01", names=("Joe Doe",))),
        article(
            "b",
            "2020-05-03",
            event("e1", JOE_B, date="2020-05-01", names=("Joe Doe",), killed=2),
        ),
        article("c", "2020-05-02", event("e1", JOE_C, date="2020-05-01", names=("Joe Doe",))),
        article("d", "2020-05-03", event("e1", EVANSTON, date="2020-05-02", place="Evanston")),
        article("e", "2020-06-09", event("e1", "Shots were fired.", date="2020-06-08", place=None)),
    ]
    return [r for r, _ in made], {sha256(t): t for _, t in made}


@pytest.fixture(scope="module")
def data() -> tuple[list[dict[str, Any]], list[ArticleAnalysis], dict[str, str]]:
    records, texts = corpus()
    return sorted(resolve(records), key=order), records, texts  # as the page shows them


def members(html: str, section: str) -> list[str]:
    """Article ids of the member columns of one event section."""
    body = html.split(f'<section class="article event-report" id="{section}">', 1)[1]
    body = body.split("</section>", 1)[0]
    return re.findall(r'<div class="member [^"]*" id="[^"]+">\s*<h3>([^ <]+)', body)


def test_the_index_lists_each_event_once_with_its_articles(data: Any) -> None:
    events, records, texts = data
    html = render_events(events, records, texts)
    assert len(events) == 3
    rows = re.findall(r'<tr data-event="(ev\d+)">(.*?)</tr>', html, flags=re.S)
    assert [r[0] for r in rows] == ["ev0", "ev1", "ev2"]  # one row per event
    assert [e["date"]["value"] for e in events] == ["2020-05-01", "2020-05-02", "2020-06-08"]
    for (section, row), ev in zip(rows, events, strict=True):
        listed = re.findall(r'<a class="source" href="#[^"]+">([^<]+)</a>', row)
        expected = [m["article_id"] for m in ev["members"]]
        assert listed == expected
        assert members(html, section) == expected  # one column per member
        assert f"<td>{ev['n_sources']}</td>" in row
    joe = next(n for n, e in enumerate(events) if len(e["members"]) == 3)
    assert sorted(members(html, f"ev{joe}")) == ["a", "b", "c"]
    assert "<td>1</td>" in rows[joe][1]  # ACLED's rule: the lower of the death tolls


def test_every_members_evidence_is_highlighted_side_by_side(data: Any) -> None:
    events, records, texts = data
    html = render_events(events, records, texts)
    joe = next(n for n, e in enumerate(events) if len(e["members"]) == 3)
    section = html.split(f'id="ev{joe}">', 1)[1].split("</section>", 1)[0]
    for k, (aid, span) in enumerate((m["article_id"], m) for m in events[joe]["members"]):
        column = section.split(f'id="ev{joe}-m{k}">', 1)[1].split('<div class="member', 1)[0]
        rec = next(r for r in records if r.article.id == aid)
        marked = "".join(re.findall(r"<mark [^>]*>(.*?)</mark>", column, flags=re.S))
        for s in rec.events[0].evidence:
            assert s.text in marked, (aid, span)
        assert column.count("The end.") == 1 and "…" in column  # an excerpt, cut before
    # The members disagree on the deaths only: that field is shown in every column.
    assert "The reports disagree on: deaths." in section
    assert re.findall(r'<tr data-field="(\w+)">', section) == ["deaths"] * 3


def test_the_map_has_one_point_per_geocoded_event_and_fetches_nothing(data: Any) -> None:
    events, records, texts = data
    html = render_events(events, records, texts)
    points = re.findall(r'<a class="point" href="#(ev\d+)"', html)
    geocoded = [f"ev{n}" for n, e in enumerate(events) if e["place"]["latitude"] is not None]
    assert sorted(points) == sorted(geocoded) and len(points) == 2
    radii = dict(re.findall(r'href="#(ev\d+)" data-event="ev\d+"><circle [^>]* r="([\d.]+)"', html))
    joe = next(f"ev{n}" for n, e in enumerate(events) if len(e["members"]) == 3)
    assert float(radii[joe]) > max(float(r) for k, r in radii.items() if k != joe)
    # No URL, no element that loads anything, and a policy that refuses every fetch.
    assert not re.search(r"https?:|//[\w.-]+\.\w", html)
    assert not re.search(r"<(?:link|img|iframe|object|embed|image|use|foreignObject)\b", html)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    single = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', render([], {}))
    assert policy and single and policy[1] == single[1]  # the same hash-only policy
    assert policy[1].startswith("default-src 'none';") and "unsafe" not in policy[1]
    assert len(re.findall(r"<script\b", html)) == 1 and len(re.findall(r"<style\b", html)) == 1


def test_hostile_ids_and_text_stay_escaped(tmp_path: Path) -> None:
    bad = '"><script>alert(1)</script><img src=x onerror=alert(2)>\x1b[31m'
    r, body = article("x", "2020-05-02", event("e1", JOE_A, date="2020-05-01", summary=bad))
    r.article.id = bad
    r.article.title = bad
    events = resolve([r])
    events[0]["place"]["text"] = bad
    events[0]["follow_up_of"] = bad
    events[0]["place"]["latitude"] = "91"  # not a number: no point, no error
    html = render_events(events, [r], {sha256(body): body})
    assert "<script>alert" not in html and "<img" not in html and "\x1b" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "\\x1b" in html
    assert 'class="point"' not in html
    assert members(html, "ev0") == ["&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img"]


def test_report_command_on_a_data_set(data: Any, tmp_path: Path) -> None:
    _events, records, texts = data
    out = tmp_path / "out.jsonl"
    out.write_text("".join(r.model_dump_json() + "\n" for r in records[:-1]), encoding="utf-8")
    arts = tmp_path / "articles"
    arts.mkdir()
    for n, text in enumerate(list(texts.values())[:3]):
        (arts / f"{n}.txt").write_text(text, encoding="utf-8")
    names = ("events.duckdb", "events.parquet", "events.jsonl")
    resolve(records, outputs=[tmp_path / name for name in names])
    pages = []
    for dataset in names:
        page = tmp_path / f"{dataset}.html"
        args = [str(tmp_path / dataset), "--records", str(out), "--articles", str(arts)]
        result = runner.invoke(app, ["report", *args, "-o", str(page)])
        assert result.exit_code == 0, result.output
        assert "3 event(s) from 4 record(s)" in result.stderr
        assert "warning: 1 report(s) of the data set are not in the records" in result.stderr
        assert "warning: no article text for 1 " in result.stderr
        pages.append(page.read_text(encoding="utf-8"))
    assert pages[0] == pages[1] == pages[2]  # the same data set either way
    assert pages[0].count('class="article-text excerpt"') == 3
    assert "1 member report not found in the records given" in pages[0]

    # Bad input: one line, exit 2.
    result = runner.invoke(app, ["report", str(tmp_path / "events.duckdb"), "-o", str(page)])
    assert result.exit_code == 2 and "give --records OUT.jsonl" in result.stderr
    args = ["report", str(out), "--records", str(out), "-o", str(page)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "not a resolved event" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    for name in ("no.duckdb", "no.jsonl"):
        args = ["report", str(tmp_path / name), "--records", str(out), "-o", str(page)]
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and result.stderr.startswith("error: "), result.output
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not parquet")
    args = ["report", str(tmp_path / "bad.parquet"), "--records", str(out), "-o", str(page)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "not an events data set" in result.stderr


def test_write_report_takes_a_data_set(data: Any, tmp_path: Path) -> None:
    events, records, texts = data
    resolve(records, outputs=[tmp_path / "events.duckdb"])
    assert sorted(load_events(tmp_path / "events.duckdb"), key=order) == events
    page = tmp_path / "events.html"
    assert write_report(records, page, texts, events=tmp_path / "events.duckdb") == 0
    assert page.read_text(encoding="utf-8") == render_events(events, records, texts)
    assert write_report(records, page, events=events) == len(records)  # no texts


@LOOPBACK
def test_event_report_in_chromium(browser: Any, data: Any, tmp_path: Path) -> None:  # noqa: F811
    events, records, texts = data
    _open(browser, render_events(events, records, texts), tmp_path / "events.html")
    assert _errors(browser) == []  # no CSP violation, no script error
    assert _js(browser, "return performance.getEntriesByType('resource').length") == 0

    # The map is in the first screen, its points inside it.
    svg = browser.find_element(By.ID, "map")
    box = svg.rect
    assert box["y"] < 700 and box["width"] > 600
    for p in browser.find_elements(By.CSS_SELECTOR, "#map a.point circle"):
        r = p.rect
        assert box["x"] <= r["x"] and r["x"] + r["width"] <= box["x"] + box["width"]
        assert box["y"] <= r["y"] and r["y"] + r["height"] <= box["y"] + box["height"]

    # An event's members stand side by side: same top, left to right, no overlap.
    joe = next(n for n, e in enumerate(events) if len(e["members"]) == 3)
    cols = [c.rect for c in browser.find_elements(By.CSS_SELECTOR, f"#ev{joe} .member")]
    assert len(cols) == 3
    assert len({round(c["y"]) for c in cols}) == 1
    assert all(a["x"] + a["width"] <= b["x"] for a, b in itertools.pairwise(cols))
    assert cols[-1]["x"] + cols[-1]["width"] <= 1400  # all three fit in the window

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "report-events.png"))
    assert (ARTIFACTS / "report-events.png").stat().st_size > 10_000

    # A map point leads to its event; hovering a mark lights its member's summary.
    browser.find_element(By.CSS_SELECTOR, f"#map a.point[data-event='ev{joe}']").click()
    assert browser.current_url.endswith(f"#ev{joe}")
    mark = browser.find_element(By.CSS_SELECTOR, f"#ev{joe}-m1 mark")
    assert "ev1" in mark.get_attribute("class").split()  # the colour of its column
    ActionChains(browser).move_to_element(mark).perform()
    summary = browser.find_element(By.CSS_SELECTOR, f"#ev{joe}-m1 p.summary")
    assert "hl" in summary.get_attribute("class")
    browser.save_screenshot(str(ARTIFACTS / "report-events-event.png"))
    assert _errors(browser) == []


def test_pipeline_records_each_column_marks_its_own_event_only(
    request: pytest.FixtureRequest, scripted_url: str
) -> None:
    """The 13 records of the real pipeline (several events per article): every event record's
    column marks its evidence and no other event's."""
    records = scripted_records(request.config, scripted_url)
    events = sorted(resolve(records), key=order)
    by_sha = {sha256(t): t for t in texts().values()}
    html = render_events(events, records, by_sha)
    assert html.count('<div class="member ') == sum(len(r.events) for r in records)
    assert len(re.findall(r'<tr data-event="ev\d+">', html)) == len(events)
    for n, ev in enumerate(events):
        for k, m in enumerate(ev["members"]):
            rec = next(r for r in records if r.article.id == m["article_id"])
            index = next(i for i, e in enumerate(rec.events) if e.id == m["event_id"])
            column = html.split(f'id="ev{n}-m{k}">', 1)[1].split('<div class="member', 1)[0]
            column = column.split("</section>", 1)[0]
            owners = set(re.findall(r'data-owners="([^"]+)"', column))
            assert owners == {f"ev{n}-m{k}-e{index + 1}"}
            marked = "".join(re.findall(r"<mark [^>]*>(.*?)</mark>", column, flags=re.S))
            for span in rec.events[index].evidence:
                assert str(escape(span.text)) in marked


@pytest.mark.parametrize(
    "places",
    [
        [(41.88, -87.63)],  # one point: a frame around it
        [(51.5, -0.13), (-33.87, 151.21), (64.15, -21.94), (-54.8, -68.3)],  # the world
    ],
)
def test_the_map_is_equirectangular_and_frames_every_point(
    places: list[tuple[float, float]],
) -> None:
    views = [
        {"id": f"ev{n}", "point": p, "n_sources": n + 1, "place": "x"} for n, p in enumerate(places)
    ]
    drawn = event_map(views)
    assert drawn is not None and len(drawn["points"]) == len(places)
    assert event_map([{"point": None}]) is None
    at = {p["view"]["id"]: (p["x"], p["y"]) for p in drawn["points"]}
    for p in drawn["points"]:
        assert p["r"] <= p["x"] <= drawn["width"] - p["r"]
        assert p["r"] <= p["y"] <= drawn["height"] - p["r"]
    for (a, pa), (b, pb) in itertools.combinations([(v["id"], v["point"]) for v in views], 2):
        (xa, ya), (xb, yb) = at[a], at[b]
        # one scale on both axes: degrees east are as long as degrees north
        if abs(pa[1] - pb[1]) > 1 and abs(pa[0] - pb[0]) > 1:
            per_lon = (xb - xa) / (pb[1] - pa[1])
            per_lat = (ya - yb) / (pb[0] - pa[0])
            assert per_lon == pytest.approx(per_lat, rel=0.01)
    assert len([line for line in drawn["lines"] if line[0] == "lon"]) >= 2
