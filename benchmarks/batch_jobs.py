"""Batch jobs against the scripted server: throughput against its bound, faults, memory, kill -9.

The scripted server (``tests/scripted_server.py``) runs in its own process with a per-request
latency, a requests-per-minute limit answered with 429 + Retry-After, and injected faults (HTTP
500, timeouts, malformed JSON, schema-invalid answers) drawn from a seeded RNG. Articles are the 13
fixture articles, each copy made unique by an appended reference sentence (the server still finds
its answer). Scenarios:

- ``engine``: the batch engine (``Job``, the code behind ``summarizer batch``) with the client
  limits set to the server's RPM. Bound = min(RPM, TPM / tokens per article, concurrency /
  latency), in articles per second. The server counts every request against its RPM, faulted
  ones too, and each fault needs one more request (a retry or a re-ask), so at a fault rate f no
  client can finish more than RPM × (1 - f) articles a minute: that is the fault-adjusted bound,
  min(RPM × (1 - f), ...). Throughput is reported against both, over the whole run and over its
  steady part (from the 5% to the 95% record: without the start, and the tail of articles that
  wait out timeouts and retry back-offs after everything else has finished).
- ``engine-no-rpm``: the same without a client RPM limit, against a server that does not state
  its limit (as vLLM or a proxy): its 429s pace the job (the job-wide slow-down of
  ``summarizer.batch.limits``).
- ``engine-learned``: no client RPM limit either; the server states its limit in
  ``x-ratelimit-limit-requests``, as OpenAI does, and the job keeps to it.
- ``sequential`` and ``threads``: a naive instructor loop (``pipeline.analyze`` one by one), and
  the same in a thread pool of ``concurrency`` workers, on the same server.
- ``stream``: an instant server (no latency, faults or limit), many articles, RSS sampled.
- ``crash``: ``summarizer batch`` in a subprocess, killed with SIGKILL at random moments, run
  again each time, then every input id checked to occur exactly once in OUT + OUT.errors.

    python benchmarks/batch_jobs.py [--quick] [--stream 100000]
    # prints the tables, writes benchmarks/results/batch_jobs.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from scripted_server import ScriptedServer, Traffic, load_fixtures  # noqa: E402

from summarizer import llm  # noqa: E402
from summarizer.batch import inputs  # noqa: E402
from summarizer.batch.engine import Job, Options  # noqa: E402
from summarizer.batch.journal import errors_path  # noqa: E402
from summarizer.errors import SummarizerError  # noqa: E402
from summarizer.pipeline import analyze  # noqa: E402
from summarizer.settings import Settings  # noqa: E402
from summarizer.source import make_article  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "batch_jobs.json"
KEY = "sk-bench-not-a-real-key"


# ------------------------------------------------------------------------------- the server


def _serve(port_queue: Any, latency: float, traffic: dict[str, Any]) -> None:
    server = ScriptedServer(load_fixtures(ROOT), latency_s=latency, traffic=Traffic(**traffic))
    port_queue.put(server.port)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


class Server:
    """The scripted server in a child process (so the client's CPU is measured alone)."""

    def __init__(self, latency: float = 0.0, **traffic: Any) -> None:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        self.process = ctx.Process(target=_serve, args=(queue, latency, traffic), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{queue.get(timeout=60)}/v1"

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(10)


# ------------------------------------------------------------------------------ the articles


def generate(n: int) -> Iterator[dict[str, Any]]:
    """``n`` distinct articles, made one at a time (as a reader streams a file)."""
    fixtures = sorted(load_fixtures(ROOT).values(), key=lambda f: f.id)
    for i in range(n):
        fixture = fixtures[i % len(fixtures)]
        record = {"id": f"b{i:06d}", "text": f"{fixture.article}\n\nReference BENCH-{i:06d}."}
        if fixture.id == "centcom-strikes-iraq":
            record["published"] = "2020-03-13"
        yield record


def articles(n: int) -> list[dict[str, Any]]:
    return list(generate(n))


def settings(url: str, **extra: Any) -> Settings:
    values = {
        "model": "openai/gpt-4.1-mini",
        "base_url": url,
        "api_key": KEY,
        "transport_retries": 6,
        "timeout_s": 2.0,
    }
    return Settings(_env_file=None, **(values | extra))  # type: ignore[call-arg]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------- scenarios


def run_engine(
    url: str,
    records: Iterable[dict[str, Any]],
    out: Path,
    n: int,
    *,
    sample_every: int = 0,
    **options: Any,
) -> dict[str, Any]:
    job = Job(settings(url), Options(output=out, cache=False, restart=True, **options))
    samples: list[tuple[int, float]] = []
    marks: dict[int, float] = {}  # when the 5% and 95% records were written

    async def drain() -> None:
        n = 0
        async for _ in job.run(inputs.from_records(records)):
            n += 1
            if sample_every and n % sample_every == 0:
                samples.append((n, round(rss_mb(), 1)))
            if n in steady:
                marks[n] = time.perf_counter()

    steady = (n // 20, n - n // 20)
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(drain())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    ids = exactly_once(out, [f"b{i:06d}" for i in range(n)])
    middle = marks.get(steady[1], 0) - marks.get(steady[0], 0)
    s = job.stats
    return {
        "articles": n,
        "seconds": round(wall, 2),
        "articles_per_s": round(n / wall, 2),
        "steady_articles_per_s": round((steady[1] - steady[0]) / middle, 2) if middle > 0 else None,
        "requests_sent": job.limits.sent,
        "analysed": s.analysed,
        "error_records": s.failed,
        **ids,
        "model_calls": s.usage.calls,
        "reasks_per_article": round((s.usage.calls - s.analysed - s.failed) / n, 3),
        "tokens_per_article": round(
            (s.usage.prompt_tokens + s.usage.completion_tokens) / max(1, s.usage.calls), 1
        ),
        "rate_limited_429": s.rate_limited,
        "rate_cuts": job.limits.rate_cuts,
        "limits_learned": job.limits.learned,
        "client_cpu_ms_per_article": round(cpu * 1000 / n, 2),
        "process_peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_samples": samples,
    }


def run_stream(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Many articles from an instant server, RSS sampled every tenth of the way."""
    with Server(0.0) as server:
        stream = run_engine(
            server.url,
            generate(args.stream),
            work / "stream.jsonl",
            args.stream,
            sample_every=max(1, args.stream // 10),
            concurrency=args.concurrency,
        )
    samples = [mb for _, mb in stream["rss_samples"]]
    return stream | {
        "rss_first_sample_mb": samples[0],
        "rss_last_sample_mb": samples[-1],
        "rss_growth_kb_per_1000_articles": round(
            (samples[-1] - samples[0]) * 1024 / (args.stream * 0.9 / 1000), 1
        ),
    }


def _ratios(engine: dict[str, Any], args: argparse.Namespace, fault_rate: float) -> dict[str, Any]:
    """Throughput against the bound, and against the bound with faults counted (see above)."""
    tokens = engine["tokens_per_article"]
    bound = min(args.rpm / 60, args.tpm / 60 / tokens, args.concurrency / args.latency)
    adjusted = min(bound, args.rpm / 60 * (1 - fault_rate))
    return {
        "bound_articles_per_s": round(bound, 2),
        "ratio_to_bound": round(engine["articles_per_s"] / bound, 3),
        "fault_adjusted_bound": round(adjusted, 2),
        "ratio_to_fault_adjusted_bound": round(engine["articles_per_s"] / adjusted, 3),
        "steady_ratio_to_fault_adjusted_bound": round(
            (engine["steady_articles_per_s"] or 0) / adjusted, 3
        ),
        "requests_per_article": round(engine["requests_sent"] / engine["articles"], 3),
        "requests_per_s_over_rpm": round(
            engine["requests_sent"] / engine["seconds"] / (args.rpm / 60), 3
        ),
    }


def exactly_once(out: Path, wanted: list[str]) -> dict[str, int]:
    """Lost, duplicated and unknown ids across OUT and OUT.errors (read line by line)."""
    seen: Counter[str] = Counter()
    for path, key in ((out, "article"), (errors_path(out), None)):
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                seen[record[key]["id"] if key else record["id"]] += 1
    expected = set(wanted)
    return {
        "lost_ids": sum(1 for i in expected if seen[i] == 0),
        "duplicated_ids": sum(1 for i in expected if seen[i] > 1),
        "unknown_ids": sum(1 for i in seen if i not in expected),
    }


def run_loop(url: str, records: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """The naive way: pipeline.analyze per article, sequentially or in a thread pool."""
    config = settings(url)
    client = llm.client(config)
    built = [make_article(r["text"], id=r["id"], published=r.get("published")) for r in records]
    failed = 0

    def one(article: Any) -> bool:
        try:
            analyze(article, config, client=client)
            return True
        except SummarizerError:
            return False

    cpu, wall = time.process_time(), time.perf_counter()
    if workers == 1:
        results = [one(a) for a in built]
    else:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(one, built))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    failed = results.count(False)
    return {
        "articles": len(records),
        "seconds": round(wall, 2),
        "articles_per_s": round(len(records) / wall, 2),
        "failed": failed,
        "client_cpu_ms_per_article": round(cpu * 1000 / len(records), 2),
    }


def run_crash(
    url: str, records: list[dict[str, Any]], work: Path, kills: int, seed: int
) -> dict[str, Any]:
    """Kill ``summarizer batch`` with SIGKILL at random moments, resume, check exactly-once."""
    source = work / "crash-in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = work / "crash-out.jsonl"
    command = [
        str(Path(sys.executable).with_name("summarizer")),
        "batch",
        str(source),
        "-o",
        str(out),
        "--base-url",
        url,
        "--concurrency",
        "16",
        "--cache",
        str(work / "crash-cache.sqlite"),
    ]
    env = os.environ | {"OPENAI_API_KEY": KEY, "SUMMARIZER_TRANSPORT_RETRIES": "6"}
    env |= {"SUMMARIZER_TIMEOUT_S": "2"}
    rng = random.Random(seed)
    progress, killed, runs = [], 0, 0
    started = time.perf_counter()
    while True:
        runs += 1
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if killed < kills:
            delay = rng.uniform(1.5, 6.0)
            try:
                process.wait(delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                killed += 1
                progress.append(len(exactly_once_lines(out)))
                continue
        code = process.wait()
        if code in (0, 1):
            break
        raise RuntimeError(f"summarizer batch exited {code}")
    ids = exactly_once(out, [r["id"] for r in records])
    return {
        "articles": len(records),
        "kills": killed,
        "runs": runs,
        "records_after_each_kill": progress,
        **ids,
        "seconds": round(time.perf_counter() - started, 1),
    }


def exactly_once_lines(out: Path) -> list[str]:
    lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    errors = errors_path(out)
    return lines + (errors.read_text(encoding="utf-8").splitlines() if errors.exists() else [])


# ----------------------------------------------------------------------------------- report


def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = [f"\n{title}", " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-|-".join("-" * w for w in widths))
    lines += [" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--articles", type=int, default=1500)
    parser.add_argument("--stream", type=int, default=10_000, help="articles in the RSS stream")
    parser.add_argument("--rpm", type=float, default=1800.0)
    parser.add_argument("--tpm", type=float, default=20_000_000.0)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--stream-only", action="store_true", help="only the RSS stream (results/batch_stream.json)"
    )
    args = parser.parse_args()
    if args.quick:
        args.articles, args.stream, args.kills = 200, 1000, 5
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    results: dict[str, Any] = {"config": vars(args) | {"cpus": os.cpu_count()}}
    traffic = {"rpm": args.rpm, "fault_rate": args.fault_rate, "seed": args.seed, "hang_s": 2.5}
    limits = {"concurrency": args.concurrency, "rpm": args.rpm, "tpm": args.tpm}

    if args.stream_only:
        with tempfile.TemporaryDirectory() as tmp:
            stream = run_stream(args, Path(tmp))
        path = RESULTS.with_name("batch_stream.json")
        path.write_text(json.dumps({"config": results["config"], "stream": stream}, indent=2))
        print(stream_report(stream))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        records = articles(args.articles)
        for name, rate in (("engine", args.fault_rate), ("engine-no-faults", 0.0)):
            with Server(args.latency, **(traffic | {"fault_rate": rate})) as server:
                engine = run_engine(
                    server.url, records, work / f"{name}.jsonl", len(records), **limits
                )
            results[name] = engine = engine | _ratios(engine, args, rate)
            print(f"{name}: {engine}", file=sys.stderr)

        for name, stated in (("engine-no-rpm", False), ("engine-learned", True)):
            with Server(args.latency, **(traffic | {"limit_headers": stated})) as server:
                engine = run_engine(
                    server.url,
                    records,
                    work / f"{name}.jsonl",
                    len(records),
                    concurrency=args.concurrency,
                )
            results[name] = engine | _ratios(engine, args, args.fault_rate)
            print(f"{name}: {results[name]}", file=sys.stderr)
        few = records[: max(100, args.articles // 3)]
        with Server(args.latency, **traffic) as server:
            results["sequential"] = run_loop(server.url, records[: min(100, len(few))], 1)
        with Server(args.latency, **traffic) as server:
            results["threads"] = run_loop(server.url, few, args.concurrency)
        print("baselines done", file=sys.stderr)
        del records, few

        results["stream"] = run_stream(args, work)
        print("stream done", file=sys.stderr)

        with Server(0.05, **(traffic | {"rpm": None})) as server:
            results["crash"] = run_crash(server.url, articles(1000), work, args.kills, args.seed)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    c = results["config"]
    e = results["engine"]
    rows = [
        {"scenario": f"engine, {c['fault_rate']:.0%} faults", **e},
        {"scenario": "engine, no faults", **results["engine-no-faults"]},
        {"scenario": "engine, no RPM given or stated (429s pace it)", **results["engine-no-rpm"]},
        {"scenario": "engine, RPM stated by the server", **results["engine-learned"]},
        {"scenario": "naive sequential instructor loop", **results["sequential"]},
        {"scenario": f"thread pool ({c['concurrency']} threads)", **results["threads"]},
    ]
    out = [
        f"server: latency {c['latency']}s, RPM {c['rpm']:g} (429 + Retry-After), faults "
        f"{c['fault_rate']:.0%} of requests (500 / timeout / malformed JSON / schema-invalid), "
        f"seed {c['seed']}; client: concurrency {c['concurrency']}, RPM {c['rpm']:g}, TPM "
        f"{c['tpm']:g}; {c['cpus']} CPUs",
        table(
            "throughput",
            rows,
            [
                "scenario",
                "articles",
                "seconds",
                "articles_per_s",
                "bound_articles_per_s",
                "ratio_to_bound",
                "fault_adjusted_bound",
                "ratio_to_fault_adjusted_bound",
                "steady_articles_per_s",
                "steady_ratio_to_fault_adjusted_bound",
                "requests_per_article",
                "requests_per_s_over_rpm",
                "error_records",
                "failed",
                "lost_ids",
                "duplicated_ids",
                "reasks_per_article",
                "rate_limited_429",
                "rate_cuts",
                "client_cpu_ms_per_article",
                "process_peak_rss_mb",
            ],
        ),
        f"\nbound = min(RPM/60 = {c['rpm'] / 60:g}, TPM/60/{e['tokens_per_article']} tokens per "
        f"call = {c['tpm'] / 60 / e['tokens_per_article']:.1f}, concurrency/latency = "
        f"{c['concurrency'] / c['latency']:g}) articles/s; fault-adjusted bound = min(bound, "
        f"RPM/60 × (1 - {c['fault_rate']:g}))",
    ]
    out.append(stream_report(results["stream"]))
    k = results["crash"]
    out.append(
        table(
            "crash test (kill -9 at random moments, same command again)",
            [k],
            ["articles", "kills", "runs", "lost_ids", "duplicated_ids", "unknown_ids", "seconds"],
        )
    )
    out.append(f"records on disk after each kill: {k['records_after_each_kill']}")
    return "\n".join(out)


def stream_report(s: dict[str, Any]) -> str:
    columns = [
        "articles",
        "seconds",
        "articles_per_s",
        "lost_ids",
        "duplicated_ids",
        "client_cpu_ms_per_article",
        "rss_first_sample_mb",
        "rss_last_sample_mb",
        "rss_growth_kb_per_1000_articles",
    ]
    samples = ", ".join(f"{n}: {m}" for n, m in s["rss_samples"])
    return table("stream (instant server, no faults)", [s], columns) + (
        f"\nRSS (MB) after n records: {samples}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
