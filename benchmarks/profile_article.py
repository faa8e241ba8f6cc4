"""Client CPU of one article end to end: ``pipeline.aanalyze`` with the real instructor client.

The scripted server (``tests/scripted_server.py``, no latency, no faults) runs in a child process,
so the process CPU time measured here is the client's alone. Articles are the fixture articles,
each made unique by an appended reference sentence (as in ``batch_jobs.py``); they are analysed one
after another with one shared async client. Prints client CPU ms per article, then (with
``--profile``) cProfile's top functions by cumulative and own time, in ms per article.

    python benchmarks/profile_article.py [-n 200] [--mode tools] [--profile] [--top 25]
    # prints the table, writes benchmarks/results/profile_article.json
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import multiprocessing as mp
import os
import pstats
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "profile_article.json"
sys.path.insert(0, str(ROOT / "tests"))

from scripted_server import ScriptedServer, load_fixtures  # noqa: E402

from summarizer import llm  # noqa: E402
from summarizer.pipeline import aanalyze  # noqa: E402
from summarizer.settings import Settings  # noqa: E402
from summarizer.source import make_article, parse_date  # noqa: E402


def _serve(port_queue: Any) -> None:
    server = ScriptedServer(load_fixtures(ROOT))
    port_queue.put(server.port)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


def _articles(n: int) -> list[Any]:
    fixtures = sorted(load_fixtures(ROOT).values(), key=lambda f: f.id)
    out = []
    for i in range(n):
        f = fixtures[i % len(fixtures)]
        published = "2020-03-13" if f.id == "centcom-strikes-iraq" else None
        text = f"{f.article}\n\nReference BENCH-{i:06d}."
        out.append(make_article(text, id=f"b{i:06d}", published=parse_date(published, "p")))
    return out


def _table(stats: pstats.Stats, key: str, n: int, top: int) -> str:
    rows = []
    for (file, line, name), (_, calls, own, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            (cum if key == "cum" else own, own, cum, calls, f"{Path(file).name}:{line}({name})")
        )
    rows.sort(reverse=True)
    lines = [f"\ntop {top} by {'cumulative' if key == 'cum' else 'own'} time (ms per article)"]
    lines.append(f"{'cum':>8} {'own':>8} {'calls/art':>9}  function")
    for _, own, cum, calls, where in rows[:top]:
        lines.append(f"{cum * 1000 / n:8.2f} {own * 1000 / n:8.2f} {calls / n:9.1f}  {where}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="articles (default 200)")
    parser.add_argument("--profile", action="store_true", help="run under cProfile and print")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--mode", default="tools", help="instructor mode (settings.mode)")
    args = parser.parse_args()
    logging.getLogger("instructor").setLevel(logging.CRITICAL)

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(queue,), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{queue.get(timeout=60)}/v1"
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            model="openai/gpt-4.1-mini",
            base_url=url,
            api_key="sk-bench-not-a-real-key",
            transport_retries=0,
            mode=args.mode,
        )
        client = llm.client(settings, use_async=True)
        articles = _articles(args.n)

        profiler = cProfile.Profile(time.process_time) if args.profile else None

        async def run() -> tuple[float, float]:
            for article in articles[:13]:  # warm-up: imports, first-call caches, connections
                await aanalyze(article, settings, client=client)
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            for article in articles:
                record = await aanalyze(article, settings, client=client)
                assert record.usage.calls >= 1
            if profiler:
                profiler.disable()
            return time.process_time() - cpu, time.perf_counter() - wall

        cpu, wall = asyncio.run(run())
    finally:
        server.terminate()
        server.join(10)
    result = {
        "articles": args.n,
        "mode": args.mode,
        "client_cpu_ms_per_article": round(cpu * 1000 / args.n, 2),
        "wall_s": round(wall, 2),
        "profiled": args.profile,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"articles {args.n}: client CPU {cpu * 1000 / args.n:.2f} ms/article, wall {wall:.2f} s")
    if profiler:
        stats = pstats.Stats(profiler)
        print(_table(stats, "cum", args.n, args.top))
        print(_table(stats, "own", args.n, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
