"""The HTML evidence report: built from real pipeline records, then loaded in Debian's headless
chromium (installed by ``make test``'s ``browser`` step) to check highlights, links, hover, the
filter box and that the page fetches nothing; that hostile ids break nothing, and that the
Content-Security-Policy runs no script but the page's own. The screenshots are saved under
``artifacts/``."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from scripted_records import scripted_records, texts
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.errors import printable
from summarizer.records import sha256
from summarizer.report import PALETTE, PALETTE_SIZE, event_classes, refs, render, segments
from summarizer.schema import ArticleAnalysis, Issue

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "artifacts"
LOOPBACK = pytest.mark.block_network(allowed_hosts=[r"127\.0\.0\.1$", r"localhost$", r"::1$"])
runner = CliRunner()


@pytest.fixture(scope="module")
def records(request: pytest.FixtureRequest, scripted_url: str) -> list[ArticleAnalysis]:
    return scripted_records(request.config, scripted_url)


@pytest.fixture(scope="module")
def by_sha() -> dict[str, str]:
    return {sha256(t): t for t in texts().values()}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless chromium driven by Debian's chromedriver; nothing is downloaded."""
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "Debian's chromium and chromium-driver are needed: run `make browser` (part of make test)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}", "--window-size=1400,1800",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console, for CSP reports
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _js(driver: Any, script: str, *args: Any) -> Any:
    return driver.execute_script(script, *args)


def _open(driver: Any, html: str, path: Path) -> None:
    path.write_text(html, encoding="utf-8")
    _errors(driver)  # drop what earlier pages logged
    driver.get(path.as_uri())


def _errors(driver: Any) -> list[str]:
    """The console errors (script errors, CSP violations) logged since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _lit(driver: Any) -> str:
    return _js(
        driver,
        "return Array.from(document.querySelectorAll('mark.hl')).map(m => m.textContent).join('')",
    )


# --------------------------------------------------------------------------- without a browser


def test_segments_cover_the_text_and_every_span(
    records: list[ArticleAnalysis], by_sha: dict[str, str]
) -> None:
    for record in records:
        text = by_sha[record.article.text_sha256]
        found = refs(record, "a0")
        pieces = segments(text, found)
        assert "".join(p.text for p in pieces) == text
        anchors = [a for p in pieces for a in p.anchors]
        assert sorted(anchors) == sorted({r.id for r in found})  # every ref anchored, once
        offset = 0
        for piece in pieces:
            for ref in piece.refs:  # a piece lies inside every span it lists
                assert ref.span.start <= offset and offset + len(piece.text) <= ref.span.end
            offset += len(piece.text)


def test_the_page_is_self_contained(records: list[ArticleAnalysis], by_sha: dict[str, str]) -> None:
    html = render(records, by_sha)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert not re.search(r"<(?:link|img|iframe|object|embed)\b", html)
    assert "default-src 'none'" in html  # the browser itself refuses any fetch


def test_the_policy_allows_only_the_pages_own_script_and_style(
    records: list[ArticleAnalysis], by_sha: dict[str, str]
) -> None:
    html = render(records[:2], by_sha)
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert found
    policy = dict(d.strip().split(" ", 1) for d in found[1].split(";"))
    assert policy["default-src"] == "'none'"
    assert "unsafe" not in found[1]
    for tag in ("script", "style"):
        blocks = re.findall(rf"<{tag}\b[^>]*>(.*?)</{tag}>", html, flags=re.S)
        assert len(blocks) == 1, tag
        digest = base64.b64encode(hashlib.sha256(blocks[0].encode()).digest()).decode()
        assert policy[f"{tag}-src"] == f"'sha256-{digest}'", tag


def test_report_command(records: list[ArticleAnalysis], tmp_path: Path) -> None:
    source = tmp_path / "out.jsonl"
    source.write_text("".join(r.model_dump_json() + "\n" for r in records[:3]), encoding="utf-8")
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in list(texts().items())[:2]:
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(source), "--articles", str(folder), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: no article text for 1 record(s)" in result.stderr
    html = out.read_text(encoding="utf-8")
    assert html.count('<section class="article"') == 3
    assert html.count('class="article-text"') == 2  # the third is shown without its text

    bad = tmp_path / "bad.jsonl"
    bad.write_text(records[0].model_dump_json() + "\nnot json\n", encoding="utf-8")
    result = runner.invoke(app, ["report", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {bad} line 2: not JSON (Expecting value)"


# --------------------------------------------------------------------------- in chromium


@LOOPBACK
def test_single_record_in_chromium(
    browser: Any, records: list[ArticleAnalysis], by_sha: dict[str, str], tmp_path: Path
) -> None:
    seed = records[0]
    assert seed.article.id == "centcom-strikes-iraq"
    issue = Issue(severity="error", path="events[1].date", code="date_far", message="planted")
    seed.validation.issues.append(issue)
    _open(browser, render([seed], by_sha), tmp_path / "seed.html")

    assert _js(browser, "return performance.getEntriesByType('resource').length") == 0
    text = by_sha[seed.article.text_sha256]
    shown = _js(browser, "return document.querySelector('.article-text').textContent")
    assert shown == text  # the article, unaltered, with its highlights

    # Every event's evidence is highlighted in its colour and linked from its row.
    for n, event in enumerate(seed.events):
        eid = f"a0-{event.id}"
        marked = _js(
            browser,
            "return Array.from(document.querySelectorAll(`mark[data-owners~='${arguments[0]}']`))"
            ".map(m => m.textContent).join('')",
            eid,
        )
        for span in event.evidence:
            assert span.text in marked
        row = browser.find_element(By.ID, f"{eid}-row")
        assert f"ev{n}" in row.get_attribute("class")

    # Every link points at an anchor that exists, at the start of the span it names.
    links = _js(
        browser,
        "return Array.from(document.querySelectorAll('a.ref')).map(a => a.getAttribute('href'))",
    )
    assert len(links) > 40
    missing = _js(
        browser,
        "return arguments[0].filter(h => !document.getElementById(h.slice(1)))",
        links,
    )
    assert missing == []

    # Hover an actor link: its span lights up, and that span is the actor's evidence.
    actor = seed.events[0].actors[0]
    link = browser.find_element(By.CSS_SELECTOR, "a.ref[data-ref='a0-e1-actor0']")
    assert link.text == actor.name
    ActionChains(browser).move_to_element(link).perform()
    assert _lit(browser) == actor.evidence.text

    # Hover a highlighted passage: the event row it supports lights up; a click explains it.
    mark = browser.find_element(By.CSS_SELECTOR, "mark[data-refs~='a0-e1-target0']")
    ActionChains(browser).move_to_element(mark).perform()
    assert "hl" in browser.find_element(By.ID, "a0-e1-row").get_attribute("class")
    mark.click()
    info = browser.find_element(By.ID, "info")
    assert info.is_displayed()
    assert f"e1 target: {seed.events[0].targets[0].name}" in info.text

    # Bullets link to their evidence; the planted issue sits in the row of the event it names.
    bullet = browser.find_element(By.CSS_SELECTOR, "li[data-owner='a0-b1'] a.ref")
    ActionChains(browser).move_to_element(bullet).perform()
    lit = _js(browser, "return document.querySelectorAll('mark.hl').length")
    assert lit >= len(seed.summary.bullets[0].evidence)
    placed = browser.find_elements(By.CSS_SELECTOR, "#a0-e2-row .issue[data-code='date_far']")
    assert len(placed) == 1 and "planted" in placed[0].text

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "report-single.png"))
    assert (ARTIFACTS / "report-single.png").stat().st_size > 10_000


@LOOPBACK
def test_batch_index_and_filter_in_chromium(
    browser: Any, records: list[ArticleAnalysis], by_sha: dict[str, str], tmp_path: Path
) -> None:
    _open(browser, render(records, by_sha), tmp_path / "batch.html")
    assert _js(browser, "return performance.getEntriesByType('resource').length") == 0
    assert len(browser.find_elements(By.CSS_SELECTOR, "section.article")) == len(records)
    assert browser.find_element(By.ID, "shown").text == f"{len(records)} of {len(records)} articles"

    # Counts by type, country and month agree with the records.
    def count(facet: str, label: str) -> int:
        items = browser.find_elements(By.CSS_SELECTOR, f"[data-facet='{facet}'] li")
        found = [i.text.rsplit(" ", 1) for i in items]
        return next(int(n) for lab, n in found if lab == label)

    events = [e for r in records for e in r.events]
    assert count("PLOVER type", "ASSAULT") == sum(e.plover == "ASSAULT" for e in events)
    in_iraq = [e for e in events if e.location and e.location.country == "IRQ"]
    assert count("country", "IRQ") == len(in_iraq)
    assert count("month", "2020-03") == sum(
        bool(e.date.resolved and e.date.resolved.strftime("%Y-%m") == "2020-03") for e in events
    )

    # The filter box hides the other articles and their index rows.
    box = browser.find_element(By.ID, "filter")
    box.send_keys("country:slv")
    salvador = [
        r for r in records if any(e.location and e.location.country == "SLV" for e in r.events)
    ]
    visible = _js(
        browser,
        "return Array.from(document.querySelectorAll('section.article')).filter(s => !s.hidden)"
        ".map(s => s.querySelector('.meta b').textContent)",
    )
    assert visible == [r.article.id for r in salvador] and len(salvador) >= 3
    rows = _js(
        browser,
        "return document.querySelectorAll('#articles tr[data-article]:not([hidden])').length",
    )
    assert rows == len(salvador)
    box.clear()
    browser.find_element(By.CSS_SELECTOR, "button.term[data-term='type:threaten']").click()
    threatening = [r.article.id for r in records if any(e.plover == "THREATEN" for e in r.events)]
    assert (
        browser.find_element(By.ID, "shown").text
        == f"{len(threatening)} of {len(records)} articles"
    )

    box.clear()
    box.send_keys(" ")
    _js(browser, "document.getElementById('filter').dispatchEvent(new Event('input'))")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "report-batch.png"))
    assert (ARTIFACTS / "report-batch.png").stat().st_size > 10_000


@LOOPBACK
def test_an_injected_script_does_not_run_in_chromium(
    browser: Any, records: list[ArticleAnalysis], by_sha: dict[str, str], tmp_path: Path
) -> None:
    """Should an escaping bug let markup through, the policy still runs none of it."""
    seed = records[0]
    bug = (
        '<script>window.injected = "script"</script>'
        '<img src="x" onerror="window.injected = \'handler\'">'
        '<p id="styled" style="color: rgb(255, 0, 0)">styled</p>'
    )
    html = render([seed], by_sha)
    _open(browser, html.replace("<body>", "<body>" + bug, 1), tmp_path / "injected.html")

    assert _js(browser, "return typeof window.injected") == "undefined"
    color = _js(browser, "return getComputedStyle(document.getElementById('styled')).color")
    assert color != "rgb(255, 0, 0)"
    errors = _errors(browser)
    assert any("Content Security Policy" in e and "script" in e for e in errors), errors
    # The page's own stylesheet applies, and its script still runs.
    assert _js(browser, "return getComputedStyle(document.getElementById('info')).position") == (
        "fixed"
    )
    link = browser.find_element(By.CSS_SELECTOR, "a.ref[data-ref='a0-e1-actor0']")
    ActionChains(browser).move_to_element(link).perform()
    assert _lit(browser) == seed.events[0].actors[0].evidence.text


HOSTILE_ID = 'x" y</script><!--\u2028<script>window.pwned = 1</script>\x1b[31m'


@LOOPBACK
def test_hostile_ids_do_not_break_the_report_in_chromium(
    browser: Any, records: list[ArticleAnalysis], by_sha: dict[str, str], tmp_path: Path
) -> None:
    seed = records[0].model_copy(deep=True)  # the fixture is shared by the module
    seed.article.id = HOSTILE_ID
    first, second = seed.events[:2]
    first.id, second.id = 'e"1 </script><!--\u2028', "e2' onmouseover='window.pwned = 2"
    first.actors[0].name = '<img src=x onerror="window.pwned = 3">'
    seed.summary.headline = "</h2><script>window.pwned = 4</script>"
    seed.quotes[0].speaker.name = 'Mc"Kenzie</script>\u2028'
    html = render([seed, records[1]], by_sha)
    assert "\x1b" not in html and "\u2028" not in html  # control characters are shown escaped
    _open(browser, html, tmp_path / "hostile.html")

    assert _js(browser, "return typeof window.pwned") == "undefined"
    assert _errors(browser) == []  # no script error, nothing refused
    shown = _js(browser, "return document.querySelector('#a0 .meta b').textContent")
    assert shown == printable(HOSTILE_ID)
    assert browser.find_element(By.CSS_SELECTOR, "#a0 h2").text == seed.summary.headline

    # Hover and click still work on the hostile event, its actor and the quote's speaker.
    row = browser.find_element(By.CSS_SELECTOR, "#a0 tr.event")
    link = row.find_element(By.CSS_SELECTOR, "td:nth-child(4) a.ref")
    assert link.text == first.actors[0].name
    ActionChains(browser).move_to_element(link).perform()
    assert _lit(browser) == first.actors[0].evidence.text
    speaker = browser.find_elements(By.CSS_SELECTOR, "#a0 ul.quotes li a.ref")[1]
    assert speaker.text == printable(seed.quotes[0].speaker.name)
    ActionChains(browser).move_to_element(speaker).perform()
    assert _lit(browser) == seed.quotes[0].speaker.evidence.text
    target = row.find_element(By.CSS_SELECTOR, "td:nth-child(5) a.ref").get_attribute("data-ref")
    mark = next(
        m
        for m in browser.find_elements(By.CSS_SELECTOR, "#a0 mark")
        if target in m.get_attribute("data-refs").split(" ")
    )
    ActionChains(browser).move_to_element(mark).perform()
    assert "hl" in row.get_attribute("class")
    mark.click()
    info = browser.find_element(By.ID, "info").text
    assert f"{printable(first.id)} target: {first.targets[0].name}" in info
    assert f"→ {printable(first.id)}" in info  # the link to the event's row

    # The filter finds the hostile article by its id.
    browser.find_element(By.ID, "filter").send_keys("</script>")
    assert browser.find_element(By.ID, "shown").text == "1 of 2 articles"
    assert _js(browser, "return document.getElementById('a1').hidden") is True
    assert _errors(browser) == []


def _hex(colour: str) -> tuple[float, float, float]:
    """CIELAB of an ``#rrggbb`` colour (D65)."""
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    m = ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505))
    x, y, z = (sum(a * b for a, b in zip(row, lin, strict=True)) for row in m)
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x / 0.9505, y, z / 1.089)]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def test_event_colours_are_far_apart() -> None:
    """Before: hsl(i * 137) at 84% lightness put e1 and e6, e2 and e7 a few units apart."""
    lab = [_hex(c) for c in PALETTE]
    closest = min(
        sum((p - q) ** 2 for p, q in zip(a, b, strict=True)) ** 0.5
        for i, a in enumerate(lab)
        for b in lab[i + 1 :]
    )
    assert closest > 20  # CIE76 ΔE (the old hues: 9; e2 and e7 12)
    # past the palette, a pattern tells events apart: e1, e8 and e15 differ
    assert len({event_classes(n) for n in range(PALETTE_SIZE * 3)}) == PALETTE_SIZE * 3


def shared_evidence(record: ArticleAnalysis) -> ArticleAnalysis:
    """A copy where events 2 and 3 also cite event 1's first evidence span."""
    copy = record.model_copy(deep=True)
    for event in copy.events[1:3]:
        event.evidence.append(copy.events[0].evidence[0])
    return copy


def test_overlaps_show_every_event(records: list[ArticleAnalysis], by_sha: dict[str, str]) -> None:
    seed = shared_evidence(records[0])
    pieces = segments(by_sha[seed.article.text_sha256], refs(seed, "a0"))
    shared = [p for p in pieces if len({r.event for r in p.refs if r.event is not None}) > 1]
    assert shared
    for piece in shared:
        events = {r.event for r in piece.refs if r.event is not None}
        shown = re.findall(r"\bev(\d+)\b|also\d-ev(\d+)", piece.css)
        assert {int(a or b) for a, b in shown} == {n % PALETTE_SIZE for n in events}
        assert "also" in piece.css.split()


@LOOPBACK
def test_layout_legend_and_counts_in_chromium(
    browser: Any, records: list[ArticleAnalysis], by_sha: dict[str, str], tmp_path: Path
) -> None:
    seed = shared_evidence(records[0])
    seed.events[0].actors[0].sector = None
    seed.events[0].actors[0].country = None
    _open(browser, render([seed], by_sha), tmp_path / "layout.html")
    browser.execute_script("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "report-layout.png"))
    box = _js(
        browser,
        "const r = e => e.getBoundingClientRect();"
        "const t = r(document.querySelector('#a0 .article-text'));"
        "const ev = r(document.querySelector('#a0 table.events'));"
        "return {text_right: t.right, text_top: t.top, events_left: ev.left, events_top: ev.top,"
        " height: window.innerHeight}",
    )
    # the events sit beside the text, and start within the first screen (they were ~1,500 px down)
    assert box["events_left"] >= box["text_right"]
    assert box["events_top"] < box["height"] / 2
    assert abs(box["events_top"] - box["text_top"]) < 80
    # every event row has its own colour (no two of the first eight alike)
    colours = _js(
        browser,
        "return Array.from(document.querySelectorAll('#a0 tr.event td:first-child'))"
        ".map(td => getComputedStyle(td).borderLeftColor)",
    )
    assert len(colours) == len(seed.events) and len(set(colours)) == len(colours)
    # a legend for the marks; unknown codes say "unknown"
    legend = browser.find_element(By.CSS_SELECTOR, ".legend").text
    assert "bold underline" in legend and "dashed" in legend and "underlines" in legend
    first = browser.find_element(By.ID, "a0-e1-row").text
    assert "country unknown · sector unknown" in first and "?/?" not in first
    # a mark several events share has one underline per other event
    shadow = _js(
        browser,
        "return getComputedStyle(document.querySelector('#a0 mark.also')).boxShadow",
    )
    assert shadow.count("inset") >= 1 and "rgba(0, 0, 0, 0)" in shadow  # unused bands clear


@LOOPBACK
def test_index_counts_follow_the_filter_in_chromium(
    browser: Any, records: list[ArticleAnalysis], by_sha: dict[str, str], tmp_path: Path
) -> None:
    _open(browser, render(records, by_sha), tmp_path / "counts.html")

    def count(facet: str, label: str) -> int:
        items = browser.find_elements(By.CSS_SELECTOR, f"[data-facet='{facet}'] li")
        found = [i.text.rsplit(" ", 1) for i in items]
        return next(int(n) for lab, n in found if lab == label)

    browser.find_element(By.ID, "filter").send_keys("country:slv")
    shown = [
        r for r in records if any(e.location and e.location.country == "SLV" for e in r.events)
    ]
    events = [e for r in shown for e in r.events]
    assert count("country", "SLV") == sum(
        bool(e.location and e.location.country == "SLV") for e in events
    )
    assert count("country", "IRQ") == sum(
        bool(e.location and e.location.country == "IRQ") for e in events
    )
    assert count("PLOVER type", "ASSAULT") == sum(e.plover == "ASSAULT" for e in events)
    assert count("PLOVER type", "ASSAULT") < sum(
        e.plover == "ASSAULT" for r in records for e in r.events
    )
    browser.save_screenshot(str(ARTIFACTS / "report-filtered.png"))
