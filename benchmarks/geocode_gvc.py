"""Geocoding against the Gun Violence Archive's coordinates, on any GVC-format folder.

For each incident in ``DIR/incidents.jsonl`` the place is geocoded as derived records carry it:
the GVA ``city_or_county`` as the place text, its ``state`` as admin1, country USA, and the text
of the incident's first article (``DIR/articles.jsonl``) as context. Scored on the incidents that
have GVA coordinates: median km error over resolved places; shares within 5 and 25 km over all
scored incidents (an unresolved place counts as a miss); share unresolved; the gazetteer's cold
build (time, CPU, peak RSS) and its load from the cache file it writes; time per place.

    python benchmarks/geocode_gvc.py --data ../shared/data/gvc/dev --json OUT.json
    # default --json: benchmarks/results/geocode_gvc.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from summarizer import geocode as geo
from summarizer.schema import Place

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "geocode_gvc.json"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def run(data: Path) -> dict[str, Any]:
    incidents = _jsonl(data / "incidents.jsonl")
    articles = sorted(_jsonl(data / "articles.jsonl"), key=lambda a: a.get("published") or "")
    context: dict[str, str] = {}
    for a in articles:
        context.setdefault(str(a["incident_id"]), a["text"])

    with tempfile.TemporaryDirectory() as tmp:  # a cold build, then a load from its cache file
        os.environ[geo.CACHE_ENV] = tmp
        cpu, start = time.process_time(), time.perf_counter()
        geo.gazetteer()
        build_s, build_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        build_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        cpu, start = time.process_time(), time.perf_counter()
        path = geo.cache_path()
        assert path is not None and geo.read_cache(path) is not None
        load_s, load_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    rows, spent = [], 0.0
    for inc in incidents:
        place = Place(text=inc["city_or_county"], country="USA", admin1=inc["state"])
        t = time.perf_counter()
        got = geo.geocode(place, context=context.get(str(inc["incident_id"])))
        spent += time.perf_counter() - t
        gold = (inc.get("latitude"), inc.get("longitude"))
        km = None
        if got.latitude is not None and None not in gold:
            km = round(geo.haversine_km(got.latitude, got.longitude, *gold), 2)  # type: ignore[arg-type]
        rows.append(
            {
                "incident_id": inc["incident_id"],
                "place": place.text,
                "admin1": place.admin1,
                "gold": None if None in gold else list(gold),
                "point": None if got.latitude is None else [got.latitude, got.longitude],
                "km": km,
                "geo_precision": got.geo_precision,
                "geo_note": got.geo_note,
            }
        )
    scored = [r for r in rows if r["gold"]]
    errors = sorted(r["km"] for r in scored if r["km"] is not None)
    n = len(scored) or 1
    return {
        "data": str(data),
        "incidents": len(rows),
        "scored": len(scored),
        "median_km": round(statistics.median(errors), 2) if errors else None,
        "within_5km": round(sum(e <= 5 for e in errors) / n, 4),
        "within_25km": round(sum(e <= 25 for e in errors) / n, 4),
        "unresolved": round(sum(r["point"] is None for r in rows) / (len(rows) or 1), 4),
        "by_precision": {
            str(p): sum(r["geo_precision"] == p for r in rows) for p in (1, 2, 3, None)
        },
        "build_s": round(build_s, 2),
        "build_cpu_s": round(build_cpu_s, 2),
        "build_peak_rss_mb": build_rss,
        "load_s": round(load_s, 2),
        "load_cpu_s": round(load_cpu_s, 2),
        "ms_per_place": round(1000 * spent / (len(rows) or 1), 3),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the two JSONL files")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    args = parser.parse_args(argv)
    for name in ("incidents.jsonl", "articles.jsonl"):
        if not (args.data / name).is_file():
            print(f"error: {args.data / name} not found", file=sys.stderr)
            return 2
    try:
        result = run(args.data)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        print(f"error: {args.data}: not GVC-format data ({exc})", file=sys.stderr)
        return 2
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{'metric':<22}{'value':>12}")
    for key in ("incidents", "scored", "median_km", "within_5km", "within_25km", "unresolved"):
        print(f"{key:<22}{result[key]!s:>12}")
    print(f"{'geo_precision 1/2/3/-':<22}{'/'.join(map(str, result['by_precision'].values())):>12}")
    for key in ("build_s", "build_cpu_s", "build_peak_rss_mb", "load_s", "load_cpu_s"):
        print(f"{key:<22}{result[key]!s:>12}")
    for key in ("ms_per_place",):
        print(f"{key:<22}{result[key]!s:>12}")
    worst = sorted((r for r in result["rows"] if r["km"] is not None), key=lambda r: -r["km"])
    print("\nlargest errors (km, place, admin1, note):")
    for r in worst[:8]:
        print(f"  {r['km']:>8.1f}  {r['place']}, {r['admin1']}: {r['geo_note']}")
    for r in result["rows"]:
        if r["point"] is None:
            print(f"  unresolved  {r['place']}, {r['admin1']}: {r['geo_note']}")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
