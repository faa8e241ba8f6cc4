"""Resolve stage: group event records that describe the same real-world event into one row each.

Records (``ArticleAnalysis``) become *mentions*, one per event record, scored in pairs by the
match model of :mod:`summarizer.matching` (Splink on DuckDB, fixed m/u, no unsupervised EM);
:func:`_cluster` groups scored pairs above ``THRESHOLD_WEIGHT`` under the
same-article and stable-id rules; :func:`_follow_ups` links follow-up events to their incident;
:func:`_merge` builds one event row with its provenance. The data set lives in a DuckDB file
(tables ``events``, ``mentions``, ``articles``) and is replaced atomically, so a failed run
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from summarizer.errors import InputError
from summarizer.matching import (
    COMPARISONS,
    MENTION_SCHEMA,
    MODEL_VERSION,
    THRESHOLD_WEIGHT,
    level_weights,
    mention_rows,
    norm,
    score,
)
from summarizer.records import load_records
from summarizer.schema import ArticleAnalysis
from summarizer.settings import Settings

if TYPE_CHECKING:
    from summarizer.adjudicate import Adjudicator

# --------------------------------------------------------------------------- the data set

LINK_SCHEMA = pa.schema(
    [
        ("mid", pa.int64()),
        ("event_uid", pa.string()),
        ("joined_to", pa.string()),  # JSON {article_id, event_id} of the member it matched best
        ("match_weight", pa.float64()),
        ("match_probability", pa.float64()),
        ("agreed", pa.list_(pa.string())),  # comparisons with a positive weight
        ("weights", pa.string()),  # JSON {comparison: {level, weight}}
        ("adjudicated", pa.string()),  # JSON list: the model's verdicts on its pairs (--adjudicate)
    ]
)
ARTICLE_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("text_sha256", pa.string()),
        ("title", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("published", pa.date32()),
        ("n_events", pa.int32()),
    ]
)


def _empty(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    con.register("_empty", schema.empty_table())
    con.execute(f"create table {name} as select * from _empty")
    con.unregister("_empty")


def open_dataset(con: duckdb.DuckDBPyConnection, into: Path | None) -> None:
    """Tables ``mentions``, ``articles``, ``links`` (event_uid, follow_up_of, same_as): empty, or
    copied from the data set ``into``."""
    links = pa.schema([f for f in LINK_SCHEMA if f.name != "mid"])
    _empty(con, "mentions", pa.unify_schemas([MENTION_SCHEMA, links]))
    con.execute("alter table mentions add column is_new boolean default true")
    _empty(con, "articles", ARTICLE_SCHEMA)
    con.execute("create table links (event_uid varchar, follow_up_of varchar, same_as varchar[])")
    con.execute("create table meta (key varchar, value varchar)")  # besides 'model'
    if into is None or not into.exists():
        return
    try:
        con.execute(f"attach {_sql_str(into)} as old (read_only)")
        found = con.execute("select value from old.meta where key = 'model'").fetchone()
        if not found or found[0] != MODEL_VERSION:
            raise InputError(
                f"{into}: made by match model {found and found[0]}, not {MODEL_VERSION}"
            )
        con.execute("insert into mentions by name select *, false as is_new from old.mentions")
        con.execute("insert into articles by name select * from old.articles")
        con.execute("insert into links select event_uid, follow_up_of, same_as from old.events")
        con.execute("insert into meta select * from old.meta where key <> 'model'")
        con.execute(
            f"create table prior as select e.*, f.fp, f.links_fp from old.events e "
            f"join ({_FINGERPRINTS}) f using (event_uid)"
        )
        con.execute("detach old")
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{into}: not a summarizer events data set ({first})") from None


_FINGERPRINTS = """
    select x.event_uid, bit_xor(hash(to_json(x))) as fp, hash(any_value(l.follow_up_of),
        any_value(l.same_as)) as links_fp
    from mentions x left join links l using (event_uid) group by x.event_uid
"""
"""An event's fingerprint: 64-bit hashes of each of its mention rows (XOR: no order, no memory
beyond one value per event) and of its links. An event whose fingerprint is the one it had when
the data set was opened merges to the same row: :func:`iter_rows` reuses it."""


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _new_records(
    con: duckdb.DuckDBPyConnection, records: Iterable[tuple[str, ArticleAnalysis]]
) -> list[ArticleAnalysis]:
    """Records whose article is not in the data set yet. An article id seen before with another
    ``text_sha256`` is an :class:`InputError` (two different texts cannot share an id)."""
    known = dict(con.execute("select article_id, text_sha256 from articles").fetchall())
    where: dict[str, str] = {}
    new = []
    for origin, rec in records:
        art = rec.article
        if art.id in known:
            if known[art.id] != art.text_sha256:
                seen = where.get(art.id, "the data set")
                raise InputError(
                    f"{origin}: article {art.id!r} has text_sha256 {art.text_sha256[:12]}..., "
                    f"{seen} has {known[art.id][:12]}... for the same id"
                )
            continue
        known[art.id], where[art.id] = art.text_sha256, origin
        new.append(rec)
    return new


def _add(con: duckdb.DuckDBPyConnection, records: list[ArticleAnalysis]) -> int:
    arts = pa.Table.from_pylist(
        [
            {
                "article_id": r.article.id,
                **r.article.model_dump(include={"text_sha256", "title", "source", "url"}),
                "published": r.article.published,
                "n_events": len(r.events),
            }
            for r in records
        ],
        schema=ARTICLE_SCHEMA,
    )
    con.register("_arts", arts)
    con.execute("insert into articles by name select * from _arts")
    return add_mentions(con, pa.Table.from_pylist(mention_rows(records), schema=MENTION_SCHEMA))


def add_mentions(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> int:
    """Add mention rows (:data:`MENTION_SCHEMA`) as new mentions; returns how many."""
    con.register("_rows", rows)
    con.execute("insert into mentions by name select *, true as is_new from _rows")
    con.unregister("_rows")
    return rows.num_rows


def resolve_new(con: duckdb.DuckDBPyConnection, adjudicator: Adjudicator | None = None) -> None:
    """Score, cluster and link the new mentions against the whole data set (with the model's
    verdicts on borderline pairs when an ``adjudicator`` is given)."""
    pairs = score(con)
    _adjudicate(con, pairs, adjudicator)
    same_as = _cluster(con, pairs)
    _update_links(con, same_as, _follow_ups(con, pairs))


# --------------------------------------------------------------------------- model adjudication
# (resolve --adjudicate: summarizer.adjudicate asks, this section stores; _cluster and _follow_ups
# read the table ``verdicts``)


def _adjudicate(
    con: duckdb.DuckDBPyConnection, pairs: str, adjudicator: Adjudicator | None
) -> None:
    """Table ``verdicts`` (mid_l, mid_r, relation, f): the model's usable verdicts on the new
    borderline pairs (``|weight - threshold| < BAND_BITS``), ``f`` the follow-up's mid for a
    ``follow_up``; empty without an adjudicator. Every verdict, usable or refused, is recorded
    in the ``adjudicated`` column of both mentions of its pair."""
    con.execute(
        "create or replace table verdicts (mid_l int8, mid_r int8, relation varchar, f int8)"
    )
    if adjudicator is None:
        return
    from summarizer.adjudicate import BAND_BITS

    borderline = con.execute(
        f"select mid_l, mid_r, match_weight from {pairs} where "
        f"abs(match_weight - {THRESHOLD_WEIGHT}) < {BAND_BITS} order by mid_l, mid_r"
    ).fetchall()
    if not borderline:
        return
    con.register("_mids", pa.table({"mid": sorted({m for p in borderline for m in p[:2]})}))
    cur = con.execute(
        "select m.mid, x.* exclude (is_new), a.title from _mids join m using (mid) "
        "join mentions x on x.article_id = m.article_id and x.event_id = m.event_id "
        "join articles a on a.article_id = x.article_id"
    )
    cols = [d[0] for d in cur.description]
    rows = {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
    con.unregister("_mids")
    found: list[tuple[int, int, str, int | None]] = []
    notes: dict[int, list[Any]] = {
        m: orjson.loads(r["adjudicated"] or "[]") for m, r in rows.items()
    }
    for mid_l, mid_r, weight in borderline:
        a, b = rows[mid_l], rows[mid_r]
        verdict = adjudicator.judge(a, b, weight)
        notes[mid_l].append(verdict)
        notes[mid_r].append(verdict)
        if verdict["relation"] is not None:
            later = max((a, b), key=lambda r: (r["kind"] == "follow_up", str(r["date"] or "")))
            f = later["mid"] if verdict["relation"] == "follow_up" else None
            found.append((mid_l, mid_r, verdict["relation"], f))
    if found:
        con.executemany("insert into verdicts values (?, ?, ?, ?)", found)
    con.register(
        "_notes",
        pa.table({"mid": list(notes), "j": [orjson.dumps(v).decode() for v in notes.values()]}),
    )
    con.execute(
        "update mentions set adjudicated = n.j from _notes n join m using (mid) "
        "where mentions.article_id = m.article_id and mentions.event_id = m.event_id"
    )
    con.unregister("_notes")


def _add_usage(con: duckdb.DuckDBPyConnection, adjudicator: Adjudicator | None) -> None:
    """Add this run's adjudication spending to the data set's totals (``meta``)."""
    if adjudicator is None:
        return
    from summarizer.adjudicate import totals

    old = con.execute("select value from meta where key = 'adjudication'").fetchone()
    total = totals(orjson.loads(old[0]) if old else None, adjudicator.summary())
    con.execute("delete from meta where key = 'adjudication'")
    con.execute("insert into meta values ('adjudication', ?)", [orjson.dumps(total).decode()])


def _adjudicated(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's verdicts on pairs involving the event's members, each once."""
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        for v in orjson.loads(r.get("adjudicated") or "[]"):
            seen.setdefault(orjson.dumps(v["pair"]).decode(), v)
    return [seen[k] for k in sorted(seen)]


# --------------------------------------------------------------------------- scoring, clustering


_COMPS = [c["output_column_name"] for c in COMPARISONS]


def _explain(weights: Sequence[float]) -> tuple[list[str], str]:
    table = level_weights()
    out = {}
    for name, w in zip(_COMPS, weights, strict=True):
        label = "missing" if w == 0 else min(table[name], key=lambda lv: abs(lv[0] - w))[1]
        out[name] = {"level": label, "weight": round(w, 2)}
    agreed = [name for name, w in zip(_COMPS, weights, strict=True) if w > 0]
    return agreed, json.dumps(out, sort_keys=True)


class _Clusters:
    """Union-find over mentions 0..n-1 where a set holds each article once and at most one
    existing event. Sets are stored only once they have two members (most events are small)."""

    def __init__(self, articles: list[int], groups: list[int]) -> None:
        n = len(articles)
        self.parent = list(range(n))
        self.art = articles
        self.arts: dict[int, set[int]] = {}  # root -> its articles, for sets of 2+
        self.old: set[int] = set()  # roots of existing events
        first: dict[int, int] = {}
        for i, g in enumerate(groups):  # g >= 0: the existing event i belongs to
            if g < 0:
                continue
            if g in first:  # members of an existing event start together
                root = first[g]
                self.parent[i] = root
                self.arts.setdefault(root, {articles[root]}).add(articles[i])
            else:
                first[g] = i
                self.old.add(i)

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def _articles(self, root: int) -> set[int]:
        return self.arts.get(root) or {self.art[root]}

    def join(self, a: int, b: int) -> str:
        """Join the sets of a and b: 'joined', 'same' (already), 'same_article' (refused:
        they share an article) or 'two_events' (refused: both are existing events)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return "same"
        if ra in self.old and rb in self.old:
            return "two_events"
        sa, sb = self._articles(ra), self._articles(rb)
        if sa & sb:
            return "same_article"
        if rb in self.old or (ra not in self.old and len(sa) < len(sb)):
            ra, rb, sa, sb = rb, ra, sb, sa  # the root of an existing event stays the root
        self.parent[rb] = ra
        self.arts[ra] = sa | sb
        self.arts.pop(rb, None)
        return "joined"


def _cluster(con: duckdb.DuckDBPyConnection, pairs: str) -> list[tuple[str, str]]:
    """Give every new mention its event_uid; return the ``same_as`` pairs found.

    Pairs at or above :data:`THRESHOLD_WEIGHT` are taken strongest first (ties by id), and two
    sets are joined unless that would put two events of one article in one event (the weaker link
    loses, so a set never needs splitting afterwards) or join two existing events (their uids are
    kept and linked ``same_as`` instead). Existing mentions never move. A new event's uid is
    ``ev-`` + the first 16 hex digits of SHA-256 of its first member's ``article_id``, U+001F,
    ``event_id`` (the least pair), computed in SQL below.
    """
    cols = con.execute(
        "select dense_rank() over (order by article_id) - 1 as art, case when event_uid is null "
        "then -1 else dense_rank() over (order by event_uid) - 1 end as grp from m order by mid"
    ).fetchnumpy()
    clusters = _Clusters(cols["art"].tolist(), cols["grp"].tolist())
    del cols
    mw = ", ".join(f"mw_{c}" for c in _COMPS)
    edges = con.execute(  # a model verdict (table verdicts) overrides the threshold
        f"select mid_l - 1, mid_r - 1, match_weight, match_probability, {mw} from {pairs} "
        f"left join verdicts v using (mid_l, mid_r) where coalesce(v.relation = 'same', "
        f"match_weight >= {THRESHOLD_WEIGHT}) order by match_weight desc, mid_l, mid_r"
    ).fetchall()
    refused: list[tuple[int, int]] = []
    best: dict[int, tuple] = {}  # mention -> (other, edge): its strongest link inside its event
    for edge in edges:
        a, b = edge[0], edge[1]
        verdict = clusters.join(a, b)
        if verdict == "two_events":
            refused.append((a, b))
        elif verdict in ("joined", "same"):
            best.setdefault(a, (b, edge))
            best.setdefault(b, (a, edge))
    del edges
    n = len(clusters.parent)
    roots = [clusters.find(i) for i in range(n)]
    link_cols: dict[str, list[Any]] = {k: [] for k in ("mid", "other", "mw", "mp", "agreed", "w")}
    for i, (other, edge) in best.items():
        if roots[other] != roots[i]:
            continue
        agreed, weights = _explain(edge[4:])
        for k, v in zip(
            link_cols, (i + 1, other + 1, edge[2], edge[3], agreed, weights), strict=True
        ):
            link_cols[k].append(v)
    del best
    con.register("_roots", pa.table({"mid": pa.array(range(1, n + 1)), "root": pa.array(roots)}))
    con.register("_best", pa.table(link_cols))
    con.execute(
        """
        create or replace table assigned as
        with r as (select m.mid, m.article_id, m.event_id, m.event_uid, x.root
                   from m join _roots x using (mid)),
        named as (select root, max(event_uid) as old_uid,
                         arg_min(article_id || chr(31) || event_id, [article_id, event_id]) as first
                  from r group by root)
        select r.article_id, r.event_id, r.mid,
               coalesce(n.old_uid, 'ev-' || left(sha256(n.first), 16)) as event_uid,
               n.old_uid is null and r.article_id || chr(31) || r.event_id = n.first as founder
        from r join named n using (root) where r.event_uid is null
        """
    )
    con.execute(
        """
        update mentions set event_uid = a.event_uid,
            joined_to = case when a.founder then null else to_json(
                {'article_id': o.article_id, 'event_id': o.event_id})::varchar end,
            match_weight = case when a.founder then null else round(b.mw, 4) end,
            match_probability = case when a.founder then null else round(b.mp, 6) end,
            agreed = case when a.founder then null else b.agreed end,
            weights = case when a.founder then null else b.w end
        from assigned a left join _best b on b.mid = a.mid left join m o on o.mid = b.other
        where mentions.article_id = a.article_id and mentions.event_id = a.event_id
        """
    )
    con.unregister("_roots")
    con.unregister("_best")
    if not refused:
        return []
    uid_of = dict(
        con.execute(
            "select m.mid, x.event_uid from m join mentions x using (article_id, event_id)"
        ).fetchall()
    )
    same = {tuple(sorted((uid_of[roots[a] + 1], uid_of[roots[b] + 1]))) for a, b in refused}
    return sorted(same)  # type: ignore[arg-type]


def _follow_ups(con: duckdb.DuckDBPyConnection, pairs: str) -> dict[str, tuple[str, str]]:
    """event_uid -> (incident event_uid, why) for follow-up events not linked yet.

    A follow-up (:func:`kind`) links to the incident event it is most tied to: an incident event
    of its own article first (the article reports both), else the best-scored incident it was
    compared with, counting every field but the type (the type is what differs). An event of any
    kind dated more than a week after another at the same place (<= 5 km) naming the same people
    is a follow-up of that earlier event too.
    """
    rows = con.execute(
        f"""
        with ev as (select m.mid, x.event_uid, m.kind, m.date, m.article_id from m
                    join mentions x using (article_id, event_id)),
        same_article as (
            select f.event_uid as f, i.event_uid as i, 1000.0 as score, 'same article' as why
            from ev f join ev i on f.article_id = i.article_id
            where f.kind = 'follow_up' and i.kind = 'incident'),
        scored as (
            select l.event_uid as lu, r.event_uid as ru, l.kind as lk, r.kind as rk,
                   l.date as ld, r.date as rd, p.*
            from {pairs} p join ev l on l.mid = p.mid_l join ev r on r.mid = p.mid_r),
        by_type as (
            select case when lk = 'follow_up' then lu else ru end as f,
                   case when lk = 'follow_up' then ru else lu end as i,
                   match_weight - mw_type as score, 'type; other fields agree' as why
            from scored
            where lk <> rk and match_weight - mw_type >= {THRESHOLD_WEIGHT}),
        by_date as (
            select case when ld > rd then lu else ru end as f,
                   case when ld > rd then ru else lu end as i,
                   match_weight - mw_date as score, 'later date, same place and people' as why
            from scored
            where lk = rk and abs(date_diff('day', ld, rd)) > 7 and mw_place > 4
                  and mw_names > 4 and match_weight < {THRESHOLD_WEIGHT}),
        by_model as (
            select f.event_uid as f, i.event_uid as i, 500.0 as score, 'model verdict' as why
            from verdicts v join ev f on f.mid = v.f
            join ev i on i.mid = case when v.f = v.mid_l then v.mid_r else v.mid_l end
            where v.relation = 'follow_up')
        select f, i, score, why from (
            select * from same_article union all select * from by_type
            union all select * from by_date union all select * from by_model)
        where f <> i
        order by f, score desc, i
        """
    ).fetchall()
    out: dict[str, tuple[str, str]] = {}
    for f, i, _, why in rows:
        out.setdefault(f, (i, why))
    return out


# --------------------------------------------------------------------------- merging

_PRECISION_RANK = {"day": 0, "week": 1, "month": 2, "year": 3, "unknown": 4}
_NOT_CREDIBLE = {"denied", "hypothetical", "planned"}


def _vote(values: Iterable[Any]) -> dict[str, Any]:
    """Majority of the non-null values; ``tied`` lists every value sharing the top count (the
    alphabetically first is shown as ``value``)."""
    votes = Counter(v for v in values if v is not None)
    if not votes:
        return {"value": None, "votes": {}, "tied": []}
    top = max(votes.values())
    tied = sorted(str(v) for v, n in votes.items() if n == top)
    return {
        "value": tied[0],
        "votes": dict(sorted(votes.items())),
        "tied": tied if len(tied) > 1 else [],
    }


def _names(rows: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """Each name with the number of sources (articles) naming it, most named first."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    sources: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for name in row[field]:
            key = norm(name) or name
            spellings[key][name] += 1
            sources[key].add(row["article_id"])
    named = [
        {"name": min(s, key=lambda n: (-s[n], n)), "n_sources": len(sources[k])}
        for k, s in spellings.items()
    ]
    return sorted(named, key=lambda x: (-x["n_sources"], x["name"]))


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def merge(uid: str, rows: list[dict[str, Any]], link: dict[str, Any]) -> dict[str, Any]:
    """One resolved event from its member mention rows, every merged field with provenance."""
    dates = Counter((r["date"], r["precision"]) for r in rows if r["date"])
    best = min(dates, key=lambda k: (-dates[k], _PRECISION_RANK[k[1]], k[0])) if dates else None
    places = Counter(r["place_key"] for r in rows if r["place_key"])
    key = min(places, key=lambda k: (-places[k], k)) if places else None
    at = next((r for r in rows if r["place_key"] == key), None) if key else None
    credible = [r for r in rows if r["fatalities_text"] and r["factuality"] not in _NOT_CREDIBLE]
    published = [r["published"] for r in rows if r["published"]]
    return {
        "event_uid": uid,
        "members": [{"article_id": r["article_id"], "event_id": r["event_id"]} for r in rows],
        "n_sources": len({r["article_id"] for r in rows}),
        "n_outlets": len({r["source"] for r in rows if r["source"]}),
        "outlets": sorted({r["source"] for r in rows if r["source"]}),
        "date": {
            "value": _iso(best[0]) if best else None,
            "precision": best[1] if best else None,
            "reports": [
                {"date": _iso(d), "precision": p, "n": n}
                for (d, p), n in sorted(dates.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "disagree": len(dates) > 1,
        },
        "place": {
            "text": at["place_text"] if at else None,
            "country": at["country"] if at else None,
            "admin1": at["admin1"] if at else None,
            "latitude": at["lat"] if at else None,
            "longitude": at["lon"] if at else None,
            "reports": [
                {"text": t, "n": n}
                for t, n in sorted(
                    Counter(r["place_text"] for r in rows if r["place_text"]).items(),
                    key=lambda kv: (-kv[1], kv[0]),
                )
            ],
        },
        "actors": _names(rows, "actors"),
        "targets": _names(rows, "targets"),
        "kind": _vote(r["kind"] for r in rows)["value"],
        "plover": _vote(r["plover"] for r in rows),
        "acled_event_type": _vote(r["acled_event_type"] for r in rows),
        "acled_sub_event_type": _vote(r["acled_sub_event_type"] for r in rows),
        "cameo_root": _vote(r["cameo_root"] for r in rows),
        "fatalities": {
            "value": min((r["fatalities"] for r in credible), default=0),
            "rule": "ACLED: the lowest figure among credible reports that state deaths",
            "reports": [
                {
                    "article_id": r["article_id"],
                    "event_id": r["event_id"],
                    "min": r["fatalities"],
                    "max": r["fatalities_max"],
                    "text": r["fatalities_text"],
                    "factuality": r["factuality"],
                }
                for r in rows
            ],
        },
        "factuality": _vote(r["factuality"] for r in rows),
        "first_report": _iso(min(published, default=None)),
        "last_report": _iso(max(published, default=None)),
        "follow_up_of": link.get("follow_up_of"),
        "same_as": sorted(link.get("same_as") or []),
        "evidence": [
            {
                "article_id": r["article_id"],
                "event_id": r["event_id"],
                "summary": r["summary"],
                "spans": orjson.loads(r["evidence"]),
            }
            for r in rows
        ],
        "match": {
            "model": MODEL_VERSION,
            "threshold_match_weight": THRESHOLD_WEIGHT,
            "links": [
                {
                    "article_id": r["article_id"],
                    "event_id": r["event_id"],
                    "joined_to": orjson.loads(r["joined_to"]),
                    "match_weight": r["match_weight"],
                    "match_probability": r["match_probability"],
                    "agreed": list(r["agreed"]),
                    "weights": orjson.loads(r["weights"]),
                }
                for r in rows
                if r["joined_to"]
            ],
            "adjudicated": _adjudicated(rows),
        },
    }


def iter_rows(
    con: duckdb.DuckDBPyConnection,
) -> Iterator[tuple[dict[str, Any] | None, str, dict[str, Any] | None]]:
    """Every event of the data set by event_uid, as ``(event, line, row)``: an event unchanged
    since the data set was opened (same fingerprint) is its stored ``events`` row and line
    (``event`` None); any other is merged from its mentions (``row`` None)."""
    if con.execute("select count(*) from duckdb_tables() where table_name = 'prior'").fetchone()[0]:
        con.execute(
            f"create or replace table kept as select p.* exclude (fp, links_fp) from prior p "
            f"join ({_FINGERPRINTS}) f on f.event_uid = p.event_uid and f.fp = p.fp "
            f"and f.links_fp = p.links_fp"
        )
    else:
        con.execute("drop table if exists kept")
        _empty(con, "kept", EVENT_SCHEMA)
    kept = con.cursor().execute("select * from kept order by event_uid")
    kept_cols = [d[0] for d in kept.description]
    merged = _merged(con)
    old = _next_kept(kept, kept_cols)
    for event in merged:
        while old is not None and old["event_uid"] < event["event_uid"]:
            yield None, old["detail"], old
            old = _next_kept(kept, kept_cols)
        yield event, to_json(event), None
    while old is not None:
        yield None, old["detail"], old
        old = _next_kept(kept, kept_cols)


def _next_kept(cur: duckdb.DuckDBPyConnection, cols: list[str]) -> dict[str, Any] | None:
    row = cur.fetchone()
    return dict(zip(cols, row, strict=True)) if row else None


def _merged(con: duckdb.DuckDBPyConnection) -> Iterator[dict[str, Any]]:
    """The events not kept, by event_uid, merged from their mentions (streamed)."""
    cur = con.cursor().execute(
        "select x.* exclude (is_new, words, names, cell, month_idx), l.follow_up_of, l.same_as "
        "from mentions x left join links l using (event_uid) "
        "where x.event_uid not in (select event_uid from kept) "
        "order by event_uid, article_id, event_id"
    )
    cols = [d[0] for d in cur.description]
    group: list[dict[str, Any]] = []
    while batch := cur.fetchmany(10_000):
        for values in batch:
            row = dict(zip(cols, values, strict=True))
            if group and group[0]["event_uid"] != row["event_uid"]:
                yield merge(group[0]["event_uid"], group, group[0])
                group = []
            group.append(row)
    if group:
        yield merge(group[0]["event_uid"], group, group[0])


def _update_links(
    con: duckdb.DuckDBPyConnection,
    same_as: list[tuple[str, str]],
    follow: dict[str, tuple[str, str]],
) -> None:
    """Give new events a links row, record new ``same_as`` pairs (both ways) and fill
    ``follow_up_of`` where it is still empty (a link once set is never changed)."""
    con.execute(
        "insert into links select distinct event_uid, null, []::varchar[] from mentions "
        "where event_uid not in (select event_uid from links)"
    )
    if same_as:
        both = [*same_as, *((b, a) for a, b in same_as)]
        con.register("_same", pa.table({"a": [a for a, _ in both], "b": [b for _, b in both]}))
        con.execute(
            "update links set same_as = list_sort(list_distinct(list_concat(links.same_as, x.b))) "
            "from (select a, list(b) as b from _same group by a) x where links.event_uid = x.a"
        )
        con.unregister("_same")
    if follow:
        con.register(
            "_follow",
            pa.table({"f": list(follow), "i": [i for i, _ in follow.values()]}),
        )
        con.execute(
            "update links set follow_up_of = x.i from _follow x "
            "where links.event_uid = x.f and links.follow_up_of is null and not exists "
            "(select 1 from links l where l.event_uid = x.i and l.follow_up_of = x.f)"
        )
        con.unregister("_follow")


# --------------------------------------------------------------------------- outputs

EVENT_SCHEMA = pa.schema(
    [
        ("event_uid", pa.string()),
        ("date", pa.string()),
        ("date_precision", pa.string()),
        ("place", pa.string()),
        ("country", pa.string()),
        ("admin1", pa.string()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("kind", pa.string()),
        ("plover", pa.string()),
        ("acled_event_type", pa.string()),
        ("acled_sub_event_type", pa.string()),
        ("cameo_root", pa.string()),
        ("fatalities", pa.int32()),
        ("factuality", pa.string()),
        ("n_sources", pa.int32()),
        ("n_mentions", pa.int32()),
        ("first_report", pa.string()),
        ("last_report", pa.string()),
        ("follow_up_of", pa.string()),
        ("same_as", pa.list_(pa.string())),
        ("detail", pa.string()),  # the whole event as JSON (the events.jsonl line)
    ]
)
"""The ``events`` table (DuckDB) and ``events.parquet``: one row per resolved event."""


def event_row(event: dict[str, Any], detail: str) -> dict[str, Any]:
    place = event["place"]
    return {
        "event_uid": event["event_uid"],
        "date": event["date"]["value"],
        "date_precision": event["date"]["precision"],
        "place": place["text"],
        "country": place["country"],
        "admin1": place["admin1"],
        "latitude": place["latitude"],
        "longitude": place["longitude"],
        "kind": event["kind"],
        **{k: event[k]["value"] for k in ("plover", "acled_event_type", "acled_sub_event_type")},
        "cameo_root": event["cameo_root"]["value"],
        "fatalities": event["fatalities"]["value"],
        "factuality": event["factuality"]["value"],
        "n_sources": event["n_sources"],
        "n_mentions": len(event["members"]),
        "first_report": event["first_report"],
        "last_report": event["last_report"],
        "follow_up_of": event["follow_up_of"],
        "same_as": event["same_as"],
        "detail": detail,
    }


def to_json(event: dict[str, Any]) -> str:
    """One ``events.jsonl`` line: compact, keys sorted, UTF-8 (byte-for-byte reproducible)."""
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode()


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through a temporary file in its folder, then swap it in atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        tmp_path.unlink()
        write(tmp_path)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _write_duckdb(con: duckdb.DuckDBPyConnection, events: Path, path: Path) -> None:
    def write(tmp: Path) -> None:
        con.execute(f"attach {_sql_str(tmp)} as out")
        try:
            con.execute(
                f"create table out.events as select * from read_parquet({_sql_str(events)}) "
                "order by event_uid"
            )
            con.execute(
                "create table out.mentions as select * exclude (is_new) from mentions "
                "order by event_uid, article_id, event_id"
            )
            con.execute("create table out.articles as select * from articles order by article_id")
            con.execute("create table out.meta (key varchar, value varchar)")
            con.execute("insert into out.meta values ('model', ?)", [MODEL_VERSION])
            con.execute("insert into out.meta select * from meta order by key")
        finally:
            con.execute("detach out")

    _replace(path, write)


OUTPUT_SUFFIXES = (".duckdb", ".parquet", ".jsonl")


def write_outputs(
    con: duckdb.DuckDBPyConnection, outputs: Sequence[Path], *, collect: bool = False
) -> tuple[int, list[dict[str, Any]]]:
    """Stream the events once into JSONL and Parquet scratch files, then put each output in
    place atomically. Returns the number of events (and the events when ``collect``)."""
    collected: list[dict[str, Any]] = []
    count = 0
    with tempfile.TemporaryDirectory(prefix="summarizer-resolve-") as scratch:
        lines, table = Path(scratch) / "events.jsonl", Path(scratch) / "events.parquet"
        with lines.open("w", encoding="utf-8") as f, pq.ParquetWriter(table, EVENT_SCHEMA) as pw:
            batch: list[dict[str, Any]] = []
            for event, line, row in iter_rows(con):
                f.write(line + "\n")
                batch.append(row if event is None else event_row(event, line))
                count += 1
                if collect:
                    collected.append(orjson.loads(line) if event is None else event)
                if len(batch) >= 10_000:
                    pw.write_table(pa.Table.from_pylist(batch, schema=EVENT_SCHEMA))
                    batch = []
            pw.write_table(pa.Table.from_pylist(batch, schema=EVENT_SCHEMA))
        for out in outputs:
            if out.suffix == ".duckdb":
                _write_duckdb(con, table, out)
            else:
                src = lines if out.suffix == ".jsonl" else table
                _replace(out, lambda tmp, src=src: shutil.copyfile(src, tmp))
    return count, collected


# --------------------------------------------------------------------------- entry point


def resolve(
    inputs: Sequence[Path | str | ArticleAnalysis],
    *,
    into: Path | str | None = None,
    outputs: Sequence[Path | str] = (),
    adjudicate: bool = False,
    settings: Settings | None = None,
    cache: Path | str | None = None,
) -> list[dict[str, Any]]:
    """Resolve records (JSONL/JSON files or ``ArticleAnalysis`` objects) into events.

    ``into``: an events DuckDB data set to extend (created when missing); it is rewritten only
    when the inputs hold an article it lacks. ``outputs``: files to write by suffix
    (``.duckdb``, ``.parquet``, ``.jsonl``). ``adjudicate``: the model (``settings``, default
    from the environment) judges borderline pairs (:mod:`summarizer.adjudicate`; ``cache``: its
    SQLite cache file). Returns every event of the data set, as the ``events.jsonl`` lines. Bad
    input raises :class:`InputError` before anything is written.
    """
    adjudicator = None
    if adjudicate:
        from summarizer.adjudicate import Adjudicator

        adjudicator = Adjudicator(settings or Settings(), Path(cache) if cache else None)
    try:
        return run(inputs, into=into, outputs=outputs, collect=True, adjudicator=adjudicator)[1]
    finally:
        if adjudicator is not None:
            adjudicator.close()


def run(
    inputs: Sequence[Path | str | ArticleAnalysis],
    *,
    into: Path | str | None = None,
    outputs: Sequence[Path | str] = (),
    collect: bool = False,
    adjudicator: Adjudicator | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """:func:`resolve` that streams: returns the number of events (and the events if
    ``collect``); ``adjudicator`` counts what the model spent (``summary()``)."""
    into = Path(into) if into is not None else None
    outs = [Path(p) for p in outputs]
    for out in outs:
        if out.suffix not in OUTPUT_SUFFIXES:
            raise InputError(f"{out}: output must end in {', '.join(OUTPUT_SUFFIXES)}")
    if into is not None and into.suffix != ".duckdb":
        raise InputError(f"--into {into}: must be an events .duckdb file")
    loaded: list[tuple[str, ArticleAnalysis]] = []
    for item in inputs:
        if isinstance(item, ArticleAnalysis):
            loaded.append(("input", item))
        else:
            loaded += [(str(item), r) for r in load_records(Path(item))]
    with tempfile.TemporaryDirectory(prefix="summarizer-resolve-") as scratch:
        # an on-disk working database: DuckDB pages it, so memory stays bounded at any size
        con = duckdb.connect(str(Path(scratch) / "work.duckdb"))
        try:
            return _run(con, loaded, into, outs, collect, adjudicator)
        finally:
            con.close()


def _run(
    con: duckdb.DuckDBPyConnection,
    loaded: list[tuple[str, ArticleAnalysis]],
    into: Path | None,
    outs: list[Path],
    collect: bool,
    adjudicator: Adjudicator | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    con.execute("set preserve_insertion_order = false")
    open_dataset(con, into)
    new = _new_records(con, loaded)
    if new and _add(con, new):
        resolve_new(con, adjudicator)
        _add_usage(con, adjudicator)
    elif new:
        _update_links(con, [], {})
    if into is not None and (new or not into.exists()):
        outs = [into, *outs]
    return write_outputs(con, outs, collect=collect)


def load_events(path: Path) -> list[dict[str, Any]]:
    """The events of a data set written by :func:`run` (``events.duckdb``,
    ``events.parquet`` or ``events.jsonl``), as the ``events.jsonl`` objects."""
    if path.suffix == ".duckdb":
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                query = "select detail from events order by event_uid"
                lines = [d for (d,) in con.execute(query).fetchall()]
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise InputError(f"{path}: not an events data set ({first})") from None
    elif path.suffix == ".parquet":
        try:
            lines = pq.read_table(path, columns=["detail"]).column("detail").to_pylist()
        except (OSError, KeyError, pa.ArrowException) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{path}: not an events data set ({first})") from None
    else:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise InputError(f"{path}: cannot read ({why})") from None
    events = []
    for n, line in enumerate(lines, start=1):
        if not isinstance(line, str) or not line.strip():
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise InputError(f"{path}:{n}: not JSON") from None
        members = event.get("members") if isinstance(event, dict) else None
        if not (
            isinstance(event, dict)
            and isinstance(event.get("event_uid"), str)
            and isinstance(members, list)
            and all(
                isinstance(m, dict)
                and isinstance(m.get("article_id"), str)
                and isinstance(m.get("event_id"), str)
                for m in members
            )
        ):
            raise InputError(f"{path}:{n}: not a resolved event (see `summarizer resolve`)")
        events.append(event)
    if not events:
        raise InputError(f"{path} holds no event")
    return events
