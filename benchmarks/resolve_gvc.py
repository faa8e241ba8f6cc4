"""Event resolution on GVC: derive -> scripted server -> ``batch`` -> ``resolve`` -> score.

    python benchmarks/resolve_gvc.py --data ../shared/data/gvc/dev [--json OUT.json] [--work DIR]
    python benchmarks/resolve_gvc.py --replicate 30 --data DEV --out BIG   # a 30x folder

Runs on any folder holding ``articles.jsonl`` + ``incidents.jsonl`` in GVC's format:

1. derive: ``tests/derive_gvc.py`` turns each article + its gold incident into a scripted answer
   (every answer is checked; one that fails is counted and its article gets no fixture).
2. serve: the scripted server (``tests/scripted_server.py``) in this process on 127.0.0.1, its
   fixture found by the article text between its ``<article-…>`` tags through a dict (one lookup per
   request, so the server is not quadratic in the number of fixtures).
3. ``summarizer batch`` (subprocess, the real openai client) -> ``records.jsonl``.
4. ``summarizer resolve records.jsonl -o events.jsonl`` (subprocess; the CLI contract of issue 12).
5. score (``benchmarks/clustering_metrics.py``) against the articles' ``incident_id``: an
   article's cluster is the ``event_uid`` of its ``e1``; an article with no record or no e1 in
   the events is a singleton.

Baselines, in the same table (no threshold tuned on the scored labels):

- ``singletons``: every article its own incident.
- ``same_day_city``: articles together when their records' e1 share the resolved date (the
  publication date when unresolved) and the place text (case-folded) + admin1; no place: alone.
- ``tfidf_avg``: TF-IDF cosine of the article texts (sublinear tf, smoothed idf, English stop
  words dropped, l2 norm), pairs only within ``WINDOW_DAYS`` publication days, average-linkage
  agglomeration stopped at a threshold that is fitted without labels: the 99.9th percentile of the
  cosine of ``NULL_PAIRS`` seeded random article pairs published more than ``NULL_GAP_DAYS`` apart
  (almost all about different incidents), i.e. the similarity that unrelated articles reach one
  time in a thousand.

Perturbed run: the batch records with seeded noise (``PERTURB``, seeded by 12 and the article id),
resolved and scored the same way (and the same-day-city baseline on them): each named actor/target
dropped with p=0.5; the e1 resolved date moved a day (either way) with p=0.2; the e1 place replaced
by its county with p=0.3 (the geocoder's ``admin2``, else the first "<Name> County" phrase of the
article, else the state) and its coordinates cleared so that resolve geocodes it again; fatalities
moved by one with p=0.2.

Geocoding: the e1 location's latitude/longitude in the records (filled by the pipeline's geocoder)
against GVA's, over the articles whose incident has GVA coordinates (25 of 153 on dev have none):
median km over the geocoded ones; share within 5 and 25 km and share with no coordinates, of all
scored articles.

Scale: every stage streams (derive, batch, resolve, reading records); the TF-IDF baseline compares
only pairs within its date window; CEAF-e aligns per connected component. ``--replicate N`` writes
N copies of a folder with ids suffixed ``-rK``, dates shifted by K x 371 days (53 weeks, so
weekdays stay right) and a reference line appended to each text (copies must differ for the
scripted server), to time the chain on a folder N times larger.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import heapq
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from clustering_metrics import scores  # noqa: E402
from derive_gvc import _date, derive_all, read_jsonl  # noqa: E402
from scripted_server import Fixture, ScriptedServer, _normalize  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "resolve_gvc.json"
KEY = "sk-bench-not-a-real-key"
WINDOW_DAYS = 14
NULL_PAIRS = 20_000
NULL_GAP_DAYS = 60
NULL_QUANTILE = 0.999
SEED = 12
PERTURB = {"drop_name": 0.5, "date_shift": 0.2, "county": 0.3, "fatalities": 0.2}
_ARTICLE = re.compile(r"<(article-[0-9a-f]+)>\n(.*?)\n</\1>", re.S)  # summarizer.prompts.boundary
_COUNTY = re.compile(r"\b(?:[A-Z][a-z]+\s){1,2}(?:County|Parish)\b")
STOP_WORDS = frozenset(
    """a about after again all also an and any are as at be been before being but by can could
    did do does for from had has have he her here hers him his how i if in into is it its just
    me more most my no nor not now of on once only or other our out over own said same she
    should so some such than that the their them then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would
    you your""".split()
)


# ------------------------------------------------------------------------------ scripted server


class IndexedServer(ScriptedServer):
    """The scripted server with its fixtures found through a dict keyed by the article text."""

    def __init__(self, fixtures: list[Fixture], titles: dict[str, str], **kwargs: Any) -> None:
        super().__init__(fixtures, **kwargs)
        self._by_text: dict[str, list[str]] = defaultdict(list)
        for fid, text in self._normalized.items():
            self._by_text[text].append(fid)
        self._titles = titles

    def _find_fixture(self, messages: list[dict[str, Any]]) -> Fixture:
        joined = "\n".join(str(m.get("content") or "") for m in messages)
        found = _ARTICLE.search(joined)
        ids = self._by_text.get(_normalize(found.group(2)), []) if found else []
        answers = {json.dumps(self.fixtures[i].answer, sort_keys=True) for i in ids}
        if len(answers) > 1:  # copies of one text with different answers: the title decides
            ids = [i for i in ids if f"Title: {self._titles.get(i, '')}\n" in joined] or ids
        if ids:
            return self.fixtures[ids[0]]
        return super()._find_fixture(messages)


# ------------------------------------------------------------------------------------ stages


def derive(data: Path, work: Path) -> tuple[list[Fixture], dict[str, str], dict[str, Any]]:
    """Derived answers as fixtures, the batch input file, and derive stats."""
    fixtures, titles, failed = [], {}, []
    incidents = {i["incident_id"]: i for i in read_jsonl(data / "incidents.jsonl")}
    quality: Counter[str] = Counter()
    with (work / "articles.jsonl").open("w", encoding="utf-8") as out:
        for article, answer, problems in derive_all(data):
            if answer:
                quality.update(_agreement(answer, incidents.get(article.get("incident_id"), {})))
            meta = {k: article.get(k) for k in ("id", "title", "published", "url")}
            out.write(json.dumps(meta | {"text": article["text"]}) + "\n")
            if problems:
                failed.append(article["id"])
                continue
            fixtures.append(Fixture(id=article["id"], article=article["text"], answer=answer))
            titles[article["id"]] = article.get("title") or ""
    stats = {"derived": len(fixtures), "derive_failed": len(failed), "agreement": dict(quality)}
    return fixtures, titles, stats


def _agreement(answer: dict[str, Any], incident: dict[str, Any]) -> Iterator[str]:
    """How a derived e1 compares with GVA's record (for the report; not a score)."""
    e1 = answer["events"][0]
    resolved, gold = _date(e1["date"]["resolved"]), _date(incident.get("date"))
    if resolved is None:
        yield "date_unresolved"
    elif gold is not None:
        off = abs((resolved - gold).days)
        yield "date_same" if off == 0 else "date_1_day" if off == 1 else "date_other"
    place = (e1["location"] or {}).get("text")
    if not place:
        yield "place_none"
    else:
        same = place.casefold() == (incident.get("city_or_county") or "").casefold()
        yield "place_gva" if same else "place_other"
    same = e1["fatalities"]["min"] == (incident.get("num_killed") or 0)
    yield "killed_as_gva" if same else "killed_differs"
    if len(answer["events"]) > 1:
        yield "follow_up_e2"


def _summarizer() -> str:
    return str(Path(sys.executable).with_name("summarizer"))


def run_batch(url: str, work: Path, concurrency: int) -> dict[str, Any]:
    out = work / "records.jsonl"
    command = [_summarizer(), "batch", str(work / "articles.jsonl"), "-o", str(out)]
    command += ["--model", "openai/gpt-4.1-mini", "--base-url", url, "--no-cache"]
    command += ["--concurrency", str(concurrency)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUMMARIZER_", "OPENAI_"))}
    env |= {"OPENAI_API_KEY": KEY, "SUMMARIZER_TRANSPORT_RETRIES": "0"}
    done = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"error: summarizer batch exited {done.returncode}: {_last(done.stderr)}")
    errors = work / "records.errors.jsonl"
    n_errors = sum(1 for _ in errors.open()) if errors.exists() else 0
    return {"batch_exit": done.returncode, "batch_errors": n_errors}


def _last(stderr: str) -> str:
    """The last line of stderr that says something (rich's box borders stripped)."""
    lines = [line.strip(" │╭╮╰╯─") for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def run_resolve(records: Path, events: Path) -> str | None:
    """``summarizer resolve RECORDS -o EVENTS``; None when it worked, else why not."""
    command = [_summarizer(), "resolve", str(records), "-o", str(events)]
    done = subprocess.run(command, cwd=records.parent, capture_output=True, text=True)
    if done.returncode != 0 or not events.exists():
        return f"summarizer resolve exited {done.returncode}: {_last(done.stderr)}"
    return None


def e1_clusters(events: Path, articles: list[str]) -> dict[str, str]:
    """article id -> event_uid of its e1 (singleton label when no event holds it)."""
    found: dict[str, str] = {}
    for event in read_jsonl(events):
        for member in event.get("members") or []:
            if member.get("event_id") == "e1":
                found[member["article_id"]] = event["event_uid"]
    return {a: found.get(a, f"alone:{a}") for a in articles}


# ------------------------------------------------------------------------------------ baselines


def _e1(record: dict[str, Any]) -> dict[str, Any] | None:
    return next((e for e in record.get("events") or [] if e.get("id") == "e1"), None)


def same_day_city(records: dict[str, dict[str, Any]], articles: list[str]) -> dict[str, str]:
    labels = {}
    for a in articles:
        e1 = _e1(records.get(a, {}))
        place = (e1 or {}).get("location")
        if not e1 or not place:
            labels[a] = f"alone:{a}"
            continue
        day = e1["date"].get("resolved") or records[a]["article"].get("published")
        labels[a] = f"{day}|{place['text'].casefold()}|{(place.get('admin1') or '').casefold()}"
    return labels


def _vectors(texts: list[str]) -> list[dict[str, float]]:
    docs = [
        Counter(
            w for w in re.findall(r"[a-z0-9']+", t.lower()) if len(w) > 1 and w not in STOP_WORDS
        )
        for t in texts
    ]
    df = Counter(w for d in docs for w in d)
    n = len(docs)
    idf = {w: math.log((n + 1) / (c + 1)) + 1 for w, c in df.items()}
    vectors = []
    for d in docs:
        v = {w: (1 + math.log(c)) * idf[w] for w, c in d.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors.append({w: x / norm for w, x in v.items()})
    return vectors


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b.get(w, 0.0) for w, x in a.items())


def null_threshold(vectors: list[dict[str, float]], days: list[int]) -> float:
    """The NULL_QUANTILE cosine of random pairs published more than NULL_GAP_DAYS apart."""
    rng = random.Random(SEED)
    sims: list[float] = []
    n = len(vectors)
    for _ in range(NULL_PAIRS * 20):
        if len(sims) == NULL_PAIRS or n < 2:
            break
        i, j = rng.randrange(n), rng.randrange(n)
        if abs(days[i] - days[j]) > NULL_GAP_DAYS:
            sims.append(_cosine(vectors[i], vectors[j]))
    if not sims:
        return 0.5
    sims.sort()
    return sims[min(len(sims) - 1, int(NULL_QUANTILE * len(sims)))]


def average_linkage(n: int, sims: dict[tuple[int, int], float], threshold: float) -> list[int]:
    """Average-linkage agglomeration over a sparse similarity graph (absent pairs are 0)."""
    size = [1] * n
    total: list[dict[int, float]] = [defaultdict(float) for _ in range(n)]
    for (i, j), s in sims.items():
        total[i][j] += s
        total[j][i] += s
    heap = [(-s, i, j) for (i, j), s in sims.items() if s >= threshold]
    heapq.heapify(heap)
    alive = [True] * n
    parent = list(range(n))
    while heap:
        neg, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]):
            continue
        avg = total[i].get(j, 0.0) / (size[i] * size[j])
        if abs(avg + neg) > 1e-12:  # stale entry: the pair's average changed since
            continue
        alive[j] = False
        parent[j] = i
        size[i] += size[j]
        for k, s in total[j].items():
            if k == i or not alive[k]:
                continue
            total[i][k] += s
            total[k][i] = total[i][k]
            total[k].pop(j, None)
        total[i].pop(j, None)
        total[j] = defaultdict(float)
        for k, s in total[i].items():
            avg_k = s / (size[i] * size[k])
            if alive[k] and avg_k >= threshold:
                heapq.heappush(heap, (-avg_k, min(i, k), max(i, k)))

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    return [root(x) for x in range(n)]


def tfidf_avg(articles: list[dict[str, Any]]) -> tuple[dict[str, str], float]:
    """Cluster labels of the TF-IDF average-linkage baseline, and its (label-free) threshold."""
    vectors = _vectors([a["text"] for a in articles])
    days = [(_date(a.get("published")) or dt.date.min).toordinal() for a in articles]
    threshold = null_threshold(vectors, days)
    order = sorted(range(len(articles)), key=days.__getitem__)
    sorted_days = [days[i] for i in order]
    sims: dict[tuple[int, int], float] = {}
    for pos, i in enumerate(order):
        end = bisect.bisect_right(sorted_days, days[i] + WINDOW_DAYS)
        for j in order[pos + 1 : end]:
            s = _cosine(vectors[i], vectors[j])
            if s > 0:
                sims[(min(i, j), max(i, j))] = s
    roots = average_linkage(len(articles), sims, threshold)
    return {a["id"]: f"tfidf:{r}" for a, r in zip(articles, roots, strict=True)}, threshold


# ------------------------------------------------------------------------------------ perturbed


def perturb(record: dict[str, Any], text: str, rng: random.Random) -> dict[str, Any]:
    """A copy of ``record`` with the documented noise (rates in PERTURB)."""
    r = json.loads(json.dumps(record))
    for event in r.get("events") or []:
        for role in ("actors", "targets"):
            event[role] = [a for a in event[role] if rng.random() >= PERTURB["drop_name"]]
    e1 = _e1(r)
    if e1 is None:
        return r
    if e1["date"].get("resolved") and rng.random() < PERTURB["date_shift"]:
        day = dt.date.fromisoformat(e1["date"]["resolved"]) + dt.timedelta(rng.choice((-1, 1)))
        e1["date"]["resolved"] = day.isoformat()
    place = e1.get("location")
    if place and rng.random() < PERTURB["county"]:
        county = place.get("admin2") or (m.group() if (m := _COUNTY.search(text)) else None)
        place["text"] = county or place.get("admin1") or place["text"]
        for key in ("latitude", "longitude", "geonames_id", "geo_precision", "evidence"):
            if key in place:
                place[key] = None
    deaths = e1.get("fatalities")
    if deaths and rng.random() < PERTURB["fatalities"]:
        step = rng.choice((-1, 1)) if deaths["min"] > 0 else 1
        deaths["min"], deaths["max"] = deaths["min"] + step, deaths["max"] + step
    return r


# ------------------------------------------------------------------------------------ geocoding


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def geocode_scores(
    records: dict[str, dict[str, Any]], gold: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Over the articles whose GVA incident has coordinates (the others cannot be scored)."""
    errors, unresolved, no_gold = [], 0, 0
    for article_id, incident in gold.items():
        if incident.get("latitude") is None or incident.get("longitude") is None:
            no_gold += 1
            continue
        place = (_e1(records.get(article_id, {})) or {}).get("location") or {}
        lat, lon = place.get("latitude"), place.get("longitude")
        if lat is None or lon is None:
            unresolved += 1
            continue
        errors.append(haversine_km((lat, lon), (incident["latitude"], incident["longitude"])))
    n = (len(gold) - no_gold) or 1
    return {
        "median_km": round(statistics.median(errors), 2) if errors else None,
        "within_5km": round(sum(e <= 5 for e in errors) / n, 4),
        "within_25km": round(sum(e <= 25 for e in errors) / n, 4),
        "unresolved": round(unresolved / n, 4),
        "scored": len(gold) - no_gold,
        "no_gold_coordinates": no_gold,
    }


# ------------------------------------------------------------------------------------ main


def _pick(s: dict[str, float]) -> dict[str, float]:
    keys = ("b3_f1", "conll_f1", "pairwise_f1", "muc_f1", "ceaf_e_f1", "incident_count_error")
    return {k: round(s[k], 4) for k in keys}


def run(data: Path, work: Path, concurrency: int) -> dict[str, Any]:
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    articles = list(read_jsonl(data / "articles.jsonl"))
    incidents = {i["incident_id"]: i for i in read_jsonl(data / "incidents.jsonl")}
    ids = [a["id"] for a in articles]
    gold = {a["id"]: a.get("incident_id") or f"unlabelled:{a['id']}" for a in articles}
    fixtures, titles, stats = derive(data, work)
    timings["derive_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with IndexedServer(fixtures, titles) as server:
        stats |= run_batch(server.url, work, concurrency)
    timings["batch_s"] = time.perf_counter() - clock
    records: dict[str, dict[str, Any]] = {}  # what the scores need: e1 and the publication date
    stats["records_valid"] = 0
    for r in read_jsonl(work / "records.jsonl"):
        stats["records_valid"] += r["validation"]["ok"]
        meta = {"published": r["article"].get("published")}
        records[r["article"]["id"]] = {"article": meta, "events": [e for e in [_e1(r)] if e]}
    stats["records"] = len(records)

    result: dict[str, Any] = {"articles": len(articles), "incidents": len(set(gold.values()))}
    clock = time.perf_counter()
    problem = run_resolve(work / "records.jsonl", work / "events.jsonl")
    timings["resolve_s"] = time.perf_counter() - clock
    if problem is None:
        main = scores(gold, e1_clusters(work / "events.jsonl", ids))
        result |= {**_pick(main), "predicted_incidents": main["predicted_incidents"]}
    else:
        result |= dict.fromkeys(("b3_f1", "pairwise_f1", "conll_f1", "incident_count_error"))
        result["resolve_error"] = problem

    texts = {a["id"]: a["text"] for a in articles}
    perturbed = work / "perturbed.jsonl"
    with perturbed.open("w", encoding="utf-8") as out:
        noisy: dict[str, dict[str, Any]] = {}
        for record in read_jsonl(work / "records.jsonl"):
            article_id = record["article"]["id"]  # seeded per article: batch order varies
            changed = perturb(record, texts[article_id], random.Random(f"{SEED}:{article_id}"))
            out.write(json.dumps(changed) + "\n")
            noisy[changed["article"]["id"]] = records[changed["article"]["id"]] | {
                "events": [e for e in [_e1(changed)] if e]
            }
    if problem is None and run_resolve(perturbed, work / "perturbed-events.jsonl") is None:
        result["perturbed"] = _pick(scores(gold, e1_clusters(work / "perturbed-events.jsonl", ids)))
    else:
        result["perturbed"] = {"b3_f1": None, "conll_f1": None}
    result["perturbed"]["rates"] = PERTURB
    result["perturbed"]["same_day_city"] = _pick(scores(gold, same_day_city(noisy, ids)))

    clock = time.perf_counter()
    tfidf, threshold = tfidf_avg(articles)
    baselines = {
        "singletons": {a: a for a in ids},
        "same_day_city": same_day_city(records, ids),
        "tfidf_avg": tfidf,
    }
    result["baselines"] = {name: _pick(scores(gold, labels)) for name, labels in baselines.items()}
    result["baselines"]["tfidf_avg"] |= {
        "threshold": round(threshold, 4),
        "window_days": WINDOW_DAYS,
    }
    timings["baselines_s"] = time.perf_counter() - clock
    by_article = {a["id"]: incidents.get(a.get("incident_id"), {}) for a in articles}
    result["geocode"] = geocode_scores(records, by_article)
    result["pipeline"] = stats
    result["timings"] = {k: round(v, 1) for k, v in timings.items()}
    return result


def table(result: dict[str, Any]) -> str:
    def cell(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}"

    rows = [("resolve (derived records)", result), ("resolve (perturbed records)",
            result["perturbed"])]  # fmt: skip
    rows += [(f"baseline: {name}", s) for name, s in result["baselines"].items()]
    rows.append(("baseline: same_day_city, perturbed", result["perturbed"]["same_day_city"]))
    lines = [f"GVC: {result['articles']} articles, {result['incidents']} incidents", ""]
    lines.append(f"{'run':<36} {'B3 F1':>7} {'CoNLL':>7} {'pair F1':>7} {'count err':>9}")
    for name, s in rows:
        lines.append(
            f"{name:<36} {cell(s.get('b3_f1')):>7} {cell(s.get('conll_f1')):>7} "
            f"{cell(s.get('pairwise_f1')):>7} {cell(s.get('incident_count_error')):>9}"
        )
    g = result["geocode"]
    lines.append("")
    lines.append(
        f"geocoding: median {g['median_km']} km, within 5 km {g['within_5km']:.1%}, within 25 km "
        f"{g['within_25km']:.1%}, unresolved {g['unresolved']:.1%}"
    )
    if result.get("resolve_error"):
        lines.append(f"resolve: {result['resolve_error']}")
    lines.append(f"timings: {result['timings']}; pipeline: {result['pipeline']}")
    return "\n".join(lines)


def replicate(data: Path, out: Path, times: int) -> None:
    """``times`` copies of ``data`` (ids -rK, dates + K x 371 days, texts made distinct)."""
    out.mkdir(parents=True, exist_ok=True)

    def shifted(day: str, k: int) -> str:
        return (dt.date.fromisoformat(day) + dt.timedelta(371 * k)).isoformat()

    with (out / "articles.jsonl").open("w", encoding="utf-8") as handle:
        for k in range(times):
            for a in read_jsonl(data / "articles.jsonl"):
                a |= {"id": f"{a['id']}-r{k}", "incident_id": f"{a['incident_id']}-r{k}"}
                a |= {"published": shifted(a["published"], k)}
                a["text"] += f"\n\nReference copy {k}."
                handle.write(json.dumps(a) + "\n")
    with (out / "incidents.jsonl").open("w", encoding="utf-8") as handle:
        for k in range(times):
            for i in read_jsonl(data / "incidents.jsonl"):
                i |= {"incident_id": f"{i['incident_id']}-r{k}", "date": shifted(i["date"], k)}
                handle.write(json.dumps(i) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, required=True, help="articles.jsonl + incidents.jsonl")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    parser.add_argument("--work", type=Path, help="keep intermediate files here (default: temp)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--replicate", type=int, help="write N copies of --data to --out, exit")
    parser.add_argument("--out", type=Path, help="with --replicate: the folder to write")
    args = parser.parse_args(argv)
    for name in ("articles.jsonl", "incidents.jsonl"):
        if not (args.data / name).is_file():
            print(f"error: {args.data / name} not found", file=sys.stderr)
            return 2
    if args.replicate:
        if args.out is None:
            print("error: --replicate needs --out", file=sys.stderr)
            return 2
        replicate(args.data, args.out, args.replicate)
        return 0
    with tempfile.TemporaryDirectory(prefix="resolve-gvc-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for stale in ("records.jsonl", "records.errors.jsonl"):
            (work / stale).unlink(missing_ok=True)
        result = run(args.data, work, args.concurrency)
    print(table(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
