"""How fast does the CLI start? Wall time of whole commands, and what ``import summarizer.cli``
costs by ``python -X importtime``.

Each command runs ``--runs`` times (default 10) as a fresh process (``python -m summarizer ...``,
what the ``summarizer`` script runs); the table shows the median, min and max wall time next to
``python -c pass`` (the interpreter alone), and the median CPU time (user + system) of the
process, which the load of a shared machine inflates less than wall time. ``validate`` checks
the demo's first record against its article (a small file). Commands run in the temporary
folder, so the current directory does not shadow the tree measured. ``--tree DIR`` measures
another source tree instead (for example ``git archive main | tar -x -C /tmp/main``).

    python benchmarks/startup.py [--runs 10] [--tree DIR]  # table; writes results/startup.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def _records(folder: Path) -> tuple[Path, Path]:
    """The demo's first record (replayed from its cassette) and its article text."""
    from summarizer.demo import run

    record = run()[0]
    path = folder / "record.json"
    path.write_text(record.model_dump_json(), encoding="utf-8")
    return path, ROOT / "examples" / "centcom-strikes-iraq.txt"


def _time(argv: list[str], env: dict[str, str], runs: int) -> dict[str, Any]:
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, cwd=tempfile.gettempdir())
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode not in (0, 2):  # 2: config without a model, by design
            raise SystemExit(f"{argv} failed: {done.stderr.decode()[-500:]}")
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "cpu_median_s": round(statistics.median(cpu), 3),
        "runs": runs,
    }


def _importtime(env: dict[str, str], runs: int) -> dict[str, Any]:
    """Cumulative import time of ``summarizer.cli`` (µs -> s) and its five costliest imports."""
    totals, heaviest = [], {}
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import summarizer.cli"],
            env=env, capture_output=True, text=True, cwd=tempfile.gettempdir(),
        )  # fmt: skip
        rows = re.findall(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", done.stderr)
        totals.append(next(int(c) for _, c, _, name in rows if name == "summarizer.cli") / 1e6)
        top = sorted(((int(c), name) for _, c, pad, name in rows if len(pad) <= 3), reverse=True)
        heaviest = {name: round(c / 1e6, 3) for c, name in top[:5]}
    return {"median_s": round(statistics.median(totals), 3), "runs": runs, "top": heaviest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tree", type=Path, help="measure this source tree (PYTHONPATH)")
    args = parser.parse_args()

    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("SUMMARIZER_", "OPENAI_")):
            del env[name]
    if args.tree:
        env["PYTHONPATH"] = str(args.tree.resolve())
    with tempfile.TemporaryDirectory() as folder:
        record, article = _records(Path(folder))
        cli = [sys.executable, "-m", "summarizer"]
        validate = [*cli, "validate", str(record), "--source", str(article)]
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "summarizer --help": [*cli, "--help"],
            "summarizer --version": [*cli, "--version"],
            "summarizer run --help": [*cli, "run", "--help"],
            "summarizer validate (1 record)": validate,
            "summarizer config (loads openai)": [*cli, "config"],
        }  # fmt: skip
        rows = {}
        for name, argv in cases.items():
            if name.endswith("--version") and args.tree and "--version" not in _help(argv, env):
                continue  # a tree without --version
            rows[name] = _time(argv, env, args.runs)
    imports = _importtime(env, args.runs)

    print(f"{'command':36} {'median s':>9} {'min s':>7} {'max s':>7} {'CPU s':>7}")
    for name, row in rows.items():
        print(
            f"{name:36} {row['median_s']:9.3f} {row['min_s']:7.3f} {row['max_s']:7.3f} "
            f"{row['cpu_median_s']:7.3f}"
        )
    print(f"\n-X importtime, import summarizer.cli: {imports['median_s']:.3f} s (median)")
    for module, seconds in imports["top"].items():
        print(f"  {module:40} {seconds:.3f} s")

    RESULTS.mkdir(exist_ok=True)
    name = "startup.json" if not args.tree else "startup-tree.json"
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "tree": str(args.tree) if args.tree else "this checkout",
        "commands": rows,
        "importtime_summarizer_cli": imports,
    }
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def _help(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [*argv[:-1], "--help"], env=env, capture_output=True, text=True, cwd=tempfile.gettempdir()
    )
    return done.stdout


if __name__ == "__main__":
    main()
