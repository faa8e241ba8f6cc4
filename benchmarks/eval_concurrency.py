"""``summarizer eval`` on the batch engine: wall time of the MUCSUM dev sample (12 documents) at
``--concurrency`` 1 and 8 against the scripted server with a fixed latency per request, and
whether the scores are identical.

    python benchmarks/eval_concurrency.py [--latency 0.5] [--runs 3]
    # prints a table, writes benchmarks/results/eval_concurrency.json
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from batch_jobs import Server, settings, table  # noqa: E402

from summarizer import evaluate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "eval_concurrency.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    data = evaluate.load_dataset("mucsum-dev")
    rows: list[dict[str, Any]] = []
    scores: dict[int, dict[str, Any]] = {}
    with Server(latency=args.latency) as server:
        s = settings(server.url)
        for concurrency in (1, 8):
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                run = evaluate.run_pipeline(
                    data, s, runner=evaluate.job(s, concurrency=concurrency)
                )
                times.append(time.perf_counter() - started)
                scores[concurrency] = evaluate.score(data, run.records)
                assert not run.errors, run.errors
            rows.append(
                {
                    "concurrency": concurrency,
                    "documents": len(data),
                    "runs": args.runs,
                    "median_s": round(statistics.median(times), 2),
                    "min_s": round(min(times), 2),
                    "max_s": round(max(times), 2),
                }
            )
    same = scores[1] == scores[8]
    print(table(f"eval mucsum-dev, scripted server latency {args.latency}s", rows, list(rows[0])))
    print(f"\nscores identical at concurrency 1 and 8: {same}")
    RESULTS.write_text(
        json.dumps({"latency_s": args.latency, "rows": rows, "scores_identical": same}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
