"""Event resolution at scale: time and peak RSS of ``resolve`` on 10k, 100k and 1M event records.

The stream is synthetic: the event records of DIR replicated with shifted dates and places. DIR
holds either records (``*.jsonl`` written by ``summarizer batch``) or a GVC split
(``articles.jsonl`` + ``incidents.jsonl``: one record per article is derived from its gold
incident as the issue's derive step does: date, city, state, coordinates, killed, and the
participants the article names). Copy ``r`` of a record gets its own ids, its date moved by
``2 * r`` days, its place moved to one of 100 variants (the place name plus a number,
coordinates shifted by whole degrees) and its people renamed (``<name> <r>``), so every copy is a
distinct real-world event. 1M records span ~39 years at ~70 reports a day, most in a few states
(GVC's are mostly in a dozen), so the same-day/same-state block stays realistic.
Each size runs in a fresh process (DuckDB with 2 threads and a 2.5 GB memory limit, spilling to
disk), timed by stage; peak RSS is the process's maximum resident set. On GVC data the grouping
is scored against the gold (incident, copy) with B-cubed F1.

    python benchmarks/resolve_scale.py --data ../shared/data/gvc/dev [--sizes 10000 100000 1000000]
    # prints a table, writes benchmarks/results/resolve_scale.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from summarizer import matching
from summarizer import resolution as resolve_stage

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gvc" / "dev"
RESULTS = ROOT / "benchmarks" / "results" / "resolve_scale.json"
VARIANTS = 100
CHUNK = 100_000


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def gvc_rows(folder: Path) -> list[dict[str, Any]]:
    """One mention row per article, from its gold incident (``gold`` = incident id)."""
    incidents = {i["incident_id"]: i for i in _jsonl(folder / "incidents.jsonl")}
    rows = []
    for art in _jsonl(folder / "articles.jsonl"):
        inc = incidents[art["incident_id"]]
        text = art["text"]
        named = [p["name"] for p in inc["participants"] if p.get("name") and p["name"] in text]
        lead = " ".join(p for p in text.split("\n") if p.strip())[:600]
        city, state = inc["city_or_county"], inc["state"]
        rows.append(
            {
                "article_id": art["id"],
                "event_id": "e1",
                "published": dt.date.fromisoformat(art["published"]),
                "source": art.get("url", "").split("/")[2] if art.get("url") else None,
                "date": dt.date.fromisoformat(inc["date"]),
                "precision": "day",
                "date_text": None,
                "place_text": city,
                "country": "USA",
                "admin1": state,
                "lat": inc.get("latitude"),
                "lon": inc.get("longitude"),
                "names": named,
                "words": (words := matching._words([art["title"] or "", lead])),
                "rare_words": matching._rare(words, "en", named),
                "actors": [],
                "targets": named,
                "kind": "incident",
                "plover": "ASSAULT",
                "acled_event_type": "Violence against civilians",
                "acled_sub_event_type": "Attack",
                "cameo_root": "18",
                "fatalities": inc["num_killed"],
                "fatalities_max": inc["num_killed"],
                "fatalities_text": f"{inc['num_killed']} killed",
                "factuality": "asserted",
                "summary": art["title"] or "",
                "evidence": json.dumps([{"text": lead, "start": 0, "end": len(lead)}]),
                "gold": inc["incident_id"],
            }
        )
    return rows


def record_rows(folder: Path) -> list[dict[str, Any]]:
    """Mention rows of every records file in ``folder`` (no gold)."""
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        records = resolve_stage.load_records(path)
        rows += [r | {"gold": None} for r in matching.mention_rows(records)]
    return rows


def copy_row(row: dict[str, Any], r: int) -> dict[str, Any]:
    v, shift = r % VARIANTS, dt.timedelta(days=2 * r)
    norm = matching.norm
    out = dict(row)
    out["article_id"] = f"{row['article_id']}~{r}"
    out["date"] = row["date"] + shift if row["date"] else None
    out["published"] = row["published"] + shift if row["published"] else None
    anchor = out["date"] or out["published"]
    out["month_idx"] = anchor.year * 12 + anchor.month - 1 if anchor else None
    out["place_text"] = f"{row['place_text']} {v}" if v and row["place_text"] else row["place_text"]
    if row["lat"] is not None:
        out["lat"] = max(-89.0, min(89.0, row["lat"] + (v % 10)))
        out["lon"] = row["lon"] + (v // 10)
        out["cell"] = f"{round(out['lat'] * 4)}:{round(out['lon'] * 4)}"
    else:
        out["cell"] = None
    out["admin1_key"] = norm(row["admin1"])
    key = norm(out["place_text"])
    out["place_key"] = f"{row['country']}|{out['admin1_key']}|{key}" if key else None
    out["admin2_key"] = f"{key} county" if key else None  # a county per place variant
    out["names"] = sorted({f"{norm(n)} {r}" for n in row["names"] if norm(n)})
    out["targets"] = [f"{n} {r}" for n in row["targets"]]
    # shared (rare) words are what different events of a stream have: kept, the worst case
    out["words"], out["rare_words"] = row["words"], row["rare_words"]
    out["gold"] = f"{row['gold']}~{r}" if row["gold"] is not None else None
    return out


def _rss_mb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1]) // 1024


def _add_copies(
    con: duckdb.DuckDBPyConnection, base: list[dict[str, Any]], r: int, size: int
) -> int:
    """Add ``size`` copies of the base rows from copy ``r`` on; returns the next copy number."""
    n, chunk, golds = 0, [], []
    while n < size:
        for row in base:
            if n >= size:
                break
            c = copy_row(row, r)
            golds.append((c["article_id"], c.pop("gold")))
            chunk.append(c)
            n += 1
        r += 1
        if len(chunk) >= CHUNK or n >= size:
            resolve_stage.add_mentions(
                con, pa.Table.from_pylist(chunk, schema=matching.MENTION_SCHEMA)
            )
            con.register("_gold", pa.table(list(zip(*golds, strict=True)), ["article_id", "gold"]))
            con.execute("insert into gold select * from _gold")
            con.unregister("_gold")
            chunk, golds = [], []
    return r


def _connect(scratch: str, name: str, threads: int, memory: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(f"{scratch}/{name}.duckdb")  # as resolve does: an on-disk working db
    con.execute(f"set threads = {threads}")
    con.execute(f"set memory_limit = '{memory}'")
    con.execute(f"set temp_directory = '{scratch}/spill'")
    con.execute("set preserve_insertion_order = false")
    return con


def child(data: Path, size: int, threads: int, memory: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    base = gvc_rows(data) if (data / "incidents.jsonl").exists() else record_rows(data)
    scratch = tempfile.mkdtemp(prefix="resolve-scale-")
    con = _connect(scratch, "work", threads, memory)
    resolve_stage.open_dataset(con, None)
    con.execute("create table gold (article_id varchar, gold varchar)")
    stages: dict[str, float] = {}
    rss: dict[str, int] = {}
    t = time.perf_counter()
    r = _add_copies(con, base, 0, size)
    stages["build"] = time.perf_counter() - t
    rss["build"] = _rss_mb()
    t = time.perf_counter()
    resolve_stage.resolve_new(con)
    stages["resolve"] = time.perf_counter() - t
    rss["resolve"] = _rss_mb()
    pairs = con.execute("select count(*) from pairs").fetchone()[0]
    t = time.perf_counter()
    out = Path(scratch)
    count, _ = resolve_stage.write_outputs(
        con, [out / "events.jsonl", out / "events.parquet", out / "events.duckdb"]
    )
    stages["write"] = time.perf_counter() - t
    rss["write"] = _rss_mb()
    # an incremental run: 1% more records into the data set just written, as resolve --into
    # does it (a fresh working database opened from events.duckdb)
    gold = con.sql("select * from gold").to_arrow_table()
    con.close()
    t = time.perf_counter()
    con = _connect(scratch, "work2", threads, memory)
    resolve_stage.open_dataset(con, out / "events.duckdb")
    con.register("_gold", gold)
    con.execute("create table gold as select * from _gold")
    con.unregister("_gold")
    del gold
    _add_copies(con, base, r, max(1_000, size // 100))
    resolve_stage.resolve_new(con)
    resolve_stage.write_outputs(con, [out / "events.duckdb"])
    stages["incremental_1pct"] = time.perf_counter() - t
    rss["incremental_1pct"] = _rss_mb()
    b3 = con.execute(
        """
        with j as (select x.event_uid c, g.gold k from mentions x join gold g using (article_id)
                   where g.gold is not null),
        ck as (select c, k, count(*)::double n from j group by all),
        cs as (select c, count(*)::double n from j group by c),
        ks as (select k, count(*)::double n from j group by k),
        p as (select sum(ck.n * ck.n / cs.n) / (select count(*) from j) v
              from ck join cs using (c)),
        r as (select sum(ck.n * ck.n / ks.n) / (select count(*) from j) v
              from ck join ks using (k))
        select p.v, r.v from p, r
        """
    ).fetchone()
    golds_n = con.execute("select count(distinct gold) from gold").fetchone()[0]
    sizes = {p.name: p.stat().st_size for p in out.glob("events.*")}
    con.close()
    shutil.rmtree(scratch, ignore_errors=True)
    b3_f1 = 2 * b3[0] * b3[1] / (b3[0] + b3[1]) if b3[0] is not None else None
    return {
        "records": size,
        "events": count,
        "gold_events": golds_n,
        "scored_pairs": pairs,
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu_s": round(time.process_time(), 1),
        "stages_s": {k: round(v, 1) for k, v in stages.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_after_stage_mb": rss,
        "b3_f1": round(b3_f1, 4) if b3_f1 is not None else None,
        "output_mb": {k: round(v / 2**20, 1) for k, v in sizes.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="2.5GB")
    ap.add_argument("--json", type=Path, default=RESULTS)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.data, args.child, args.threads, args.memory_limit)))
        return
    results = []
    for size in args.sizes:
        cmd = [sys.executable, __file__, "--data", str(args.data), "--child", str(size)]
        cmd += ["--threads", str(args.threads), "--memory-limit", args.memory_limit]
        done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, check=False)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            sys.exit(f"size {size} failed")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        res = results[-1]
        print(
            f"{res['records']:>9,} records  {res['events']:>9,} events  "
            f"{res['scored_pairs']:>11,} pairs  {res['seconds']:>7.1f} s "
            f"({res['cpu_s']:>7.1f} cpu s)  "
            f"{res['peak_rss_mb']:>6,} MB  B3 F1 {res['b3_f1']}  {res['stages_s']}",
            flush=True,
        )
    report = {
        "data": str(args.data),
        "machine": {"cpus": os.cpu_count(), "duckdb_threads": args.threads},
        "duckdb_memory_limit": args.memory_limit,
        "target": "1,000,000 records in <= 600 s under 4,096 MB RSS on 2 cores",
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"-> {args.json}")


if __name__ == "__main__":
    main()
