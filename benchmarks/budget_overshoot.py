"""How far a ``--max-cost`` job overshoots its cap, with re-asks, at concurrency 8 and 32.

A job admits an article only while spent + reserved (the estimates of the articles in flight) +
the next article's estimate stays within the cap (``summarizer.batch.cost.Budget``). The estimate
is what decides the overshoot. Two rules are compared on the same scripted server and articles:

- ``fixed``: the rule before issue 9, one call and a 1,500-token answer per article (emulated by
  pinning ``Learned.estimate`` to its starting guess);
- ``learned``: the running average of what finished articles really cost (calls, re-asks with
  their growing history, cached share, answer length), scaled by each article's first request.

Every article needs re-asks: the model name carries the scripted server's ``reask-once`` scenario
(the first answer fails a check) and a share of the requests get a schema-invalid answer on top
(seeded), so articles take 2 to 4 calls. The cap is ``--cap-articles`` times the mean cost of an
article, measured first by an uncapped run. The bound the job must keep is the cap plus the
articles in flight: cap + concurrency × the largest cost of one article.

    python benchmarks/budget_overshoot.py [--articles 300] [--cap-articles 40]
    # prints a table, writes benchmarks/results/budget_overshoot.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from batch_jobs import Server, articles, settings, table  # noqa: E402

from summarizer.batch import inputs  # noqa: E402
from summarizer.batch.cost import Learned, dollars, load_prices  # noqa: E402
from summarizer.batch.engine import Job, Options  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "budget_overshoot.json"
MODEL = "openai/gpt-4.1-mini-reask-once"  # priced as gpt-4.1-mini; every article re-asked


@contextlib.contextmanager
def fixed_rule() -> Iterator[None]:
    """The old admission rule: one call and the 1,500-token guess, never learned."""
    learned = Learned.estimate
    Learned.estimate = lambda self, first: learned(Learned(), first)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Learned.estimate = learned  # type: ignore[method-assign]


def run(url: str, records: list[dict[str, Any]], work: Path, **options: Any) -> dict[str, Any]:
    out = work / "out.jsonl"
    job = Job(settings(url, model=MODEL), Options(output=out, cache=False, restart=True, **options))
    costs: list[float] = []
    price = load_prices(None)["gpt-4.1-mini"]

    async def drain() -> None:
        async for record in job.run(inputs.from_records(records)):
            if record.usage is not None:
                costs.append(dollars(record.usage, price) or 0.0)

    asyncio.run(drain())
    s = job.stats
    return {
        "articles": len(costs),
        "calls_per_article": round(s.usage.calls / max(1, len(costs)), 2),
        "spent": s.cost or 0.0,
        "mean_article": sum(costs) / max(1, len(costs)),
        "max_article": max(costs, default=0.0),
        "stopped": s.stopped,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--cap-articles", type=float, default=120.0)
    parser.add_argument("--fault-rate", type=float, default=0.25)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    args = parser.parse_args()
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    records = articles(args.articles)
    runs: list[dict[str, Any]] = []
    uncapped: dict[int, dict[str, Any]] = {}
    for seed in args.seeds:
        traffic = {"fault_rate": args.fault_rate, "faults": ("schema_invalid",), "seed": seed}
        with tempfile.TemporaryDirectory() as tmp, Server(args.latency, **traffic) as server:
            work = Path(tmp)
            uncapped[seed] = base = run(server.url, records[:60], work, concurrency=8)
            cap = round(args.cap_articles * base["mean_article"], 6)
            for concurrency in (8, 32):
                for rule in ("fixed", "learned"):
                    with fixed_rule() if rule == "fixed" else contextlib.nullcontext():
                        got = run(server.url, records, work, concurrency=concurrency, max_cost=cap)
                    over = got["spent"] - cap
                    runs.append(
                        {
                            "seed": seed,
                            "rule": rule,
                            "concurrency": concurrency,
                            "cap_usd": cap,
                            "spent_usd": round(got["spent"], 6),
                            "overshoot_usd": round(over, 6),
                            "overshoot_articles": round(over / base["mean_article"], 2),
                            "bound_usd": round(cap + concurrency * got["max_article"], 6),
                            "within_bound": got["spent"] <= cap + concurrency * got["max_article"],
                            "articles": got["articles"],
                            "calls_per_article": got["calls_per_article"],
                        }
                    )
                    print(runs[-1], file=sys.stderr)
    rows = []
    for concurrency in (8, 32):
        for rule in ("fixed", "learned"):
            mine = [r for r in runs if r["rule"] == rule and r["concurrency"] == concurrency]
            over = [r["overshoot_articles"] for r in mine]
            rows.append(
                {
                    "rule": rule,
                    "concurrency": concurrency,
                    "runs": len(mine),
                    "cap (articles)": args.cap_articles,
                    "overshoot, mean (articles)": round(sum(over) / len(over), 2),
                    "overshoot, max (articles)": max(over),
                    "overshoot, max (% of cap)": round(100 * max(over) / args.cap_articles, 1),
                    "within cap + in flight": all(r["within_bound"] for r in mine),
                    "calls/article": round(
                        sum(r["calls_per_article"] for r in mine) / len(mine), 2
                    ),
                }
            )
    print(table("--max-cost overshoot, in mean article costs", rows, list(rows[0])))
    config = vars(args) | {"cpus": os.cpu_count(), "model": MODEL, "uncapped": uncapped}
    RESULTS.write_text(
        json.dumps({"config": config, "summary": rows, "runs": runs}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
