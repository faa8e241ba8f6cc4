"""Is the HTML report usable for 1,000 articles? Size, render time and load time in chromium.

The records are the 13 made by the real pipeline from the scripted answers (replayed from
``cassettes/scripted_records/``), copied to 1,000 with perturbations so the index has something
to count: new ids, event dates shifted by the copy number, event countries rotated, every 7th
record given a failed check. Texts are the originals (matched by SHA-256).

For each page size (13 and 1,000 articles) it measures, ``--runs`` times (default 5):

* ``render_s``: :func:`summarizer.report.render` in Python;
* ``load_ms``: chromium's navigation timing, navigation start to the load event end, for a fresh
  load of the file (Debian's headless chromium via chromedriver, no network);
* ``filter_ms``: one filter keystroke (``country:irq``) applied to every section and index row;
* ``hover_ms``: the hover handler over a highlighted passage in the last article.

    python benchmarks/report_load.py [--runs 5]   # prints a table, writes results/report_load.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import vcr

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT / "tests"))

from scripted_records import CASSETTE, analyse, settings, texts  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

from summarizer.demo import vcr_config  # noqa: E402
from summarizer.records import sha256  # noqa: E402
from summarizer.report import render  # noqa: E402
from summarizer.schema import ArticleAnalysis, Issue  # noqa: E402

COUNTRIES = ["IRQ", "SLV", "COL", "PER", "GTM", "SYR", "NGA", "MLI", "UKR", "YEM"]


def base_records() -> list[ArticleAnalysis]:
    with vcr.VCR(**vcr_config()).use_cassette(str(CASSETTE), record_mode="none"):
        return list(analyse(settings("http://127.0.0.1:9/v1")))


def many(base: list[ArticleAnalysis], n: int) -> list[ArticleAnalysis]:
    out = []
    for i in range(n):
        r = base[i % len(base)].model_copy(deep=True)
        r.article.id = f"{r.article.id}-{i:04d}"
        for k, e in enumerate(r.events):
            if e.date.resolved:
                e.date.resolved += dt.timedelta(days=i)
            if e.location:
                e.location.country = COUNTRIES[(i + k) % len(COUNTRIES)]
        if i % 7 == 3:
            r.validation.ok = False
            r.validation.issues.append(
                Issue(severity="error", path="events[0].date", code="date_far", message="bench")
            )
        out.append(r)
    return out


def browser(profile: Path) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1400,1000",
    ):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


LOAD = """const t = performance.getEntriesByType('navigation')[0];
return [t.loadEventEnd - t.startTime, document.querySelectorAll('mark').length,
        document.querySelectorAll('section.article').length];"""
FILTER = """const box = document.getElementById('filter');
box.value = 'country:irq';
const t0 = performance.now();
box.dispatchEvent(new Event('input'));
const ms = performance.now() - t0;
const shown = document.getElementById('shown').textContent;
box.value = ''; box.dispatchEvent(new Event('input'));
return [ms, shown];"""
HOVER = """const marks = document.querySelectorAll('mark');
const m = marks[marks.length - 1];
const t0 = performance.now();
m.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
return [performance.now() - t0, document.querySelectorAll('.hl').length];"""


def measure(records: list[ArticleAnalysis], by_sha: dict[str, str], runs: int, tmp: Path) -> dict:
    render_s, load_ms, filter_ms, hover_ms = [], [], [], []
    page = tmp / f"report-{len(records)}.html"
    for _ in range(runs):
        t0 = time.perf_counter()
        html = render(records, by_sha)
        render_s.append(time.perf_counter() - t0)
    page.write_text(html, encoding="utf-8")
    facts: dict[str, Any] = {}
    for run in range(runs):
        driver = browser(tmp / f"profile-{len(records)}-{run}")  # a fresh profile: a cold load
        try:
            driver.get(page.as_uri())
            ms, marks, sections = driver.execute_script(LOAD)
            load_ms.append(ms)
            facts = {"marks": marks, "sections": sections}
            if len(records) > 1:
                ms, shown = driver.execute_script(FILTER)
                filter_ms.append(ms)
                facts["filter_result"] = shown
            ms, lit = driver.execute_script(HOVER)
            hover_ms.append(ms)
            facts["hover_lit"] = lit
        finally:
            driver.quit()

    def stats(xs: list[float]) -> dict[str, float] | None:
        if not xs:
            return None
        return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}

    return {
        "articles": len(records),
        "events": sum(len(r.events) for r in records),
        "html_bytes": len(html.encode("utf-8")),
        "render_s": stats(render_s),
        "load_ms": stats(load_ms),
        "filter_ms": stats(filter_ms),
        "hover_ms": stats(hover_ms),
        **facts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = base_records()
    by_sha = {sha256(t): t for t in texts().values()}
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(recs, by_sha, args.runs, Path(tmp)) for recs in (base, many(base, 1000))]
    print(f"medians of {args.runs} runs (min-max)")
    print(
        f"{'articles':>8} {'events':>6} {'HTML MB':>7}  {'render s':<17} {'load ms':<17} "
        f"{'filter ms':<17} {'hover ms':<17}"
    )
    for r in rows:

        def cell(key: str, fmt: str, r: dict = r) -> str:
            s = r[key]
            return "—" if s is None else f"{s['median']:{fmt}} ({s['min']:{fmt}}-{s['max']:{fmt}})"

        print(
            f"{r['articles']:>8} {r['events']:>6} {r['html_bytes'] / 1e6:>7.2f}  "
            f"{cell('render_s', '.2f'):<17} {cell('load_ms', '.0f'):<17} "
            f"{cell('filter_ms', '.1f'):<17} {cell('hover_ms', '.2f'):<17}"
        )
    result = {
        "benchmark": "report_load",
        "runs": args.runs,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "chromium": "/usr/bin/chromium (Debian), headless, fresh profile per load",
        "pages": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "report_load.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
