"""Match model: when two event records describe the same real-world event.

An event record becomes a *mention* row (:func:`mention`: date, place with its gazetteer keys,
names, words, type, deaths). Splink (Fellegi-Sunter) on DuckDB blocks and scores mention pairs
with fixed m/u probabilities (:data:`COMPARISONS`; no unsupervised EM): :func:`score`. Two
stages use it: :mod:`summarizer.resolution` across the articles of an event data set (events of
one article are never joined) and :mod:`summarizer.chunking` across the chunks of one long
document (events of one chunk are never joined: the same-article rule, with chunks for
articles), through :func:`same_event_pairs`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from summarizer.schema import ArticleAnalysis, ArticleMeta, Event, Place
from summarizer.source import Article

MODEL_VERSION = "resolve-2"
"""Names the match model below; stored with the data set, a data set of another model is refused."""

PROBABILITY_TWO_RANDOM_RECORDS_MATCH = 1e-4
"""Prior: of two event reports from the same stream picked at random, 1 in 10,000 share an event
(a regional stream of ~10,000 distinct events a year with ~2 reports each)."""

THRESHOLD_WEIGHT = 0.0
"""Pairs with a match weight >= 0 (match probability >= 0.5, the Bayes decision point) join."""

FOLLOW_UP_PLOVER = {"SANCTION", "ACCUSE"}
FOLLOW_UP_MODES = {("COERCE", "arrest"), ("COERCE", "deport"), ("COERCE", "seize")}
FOLLOW_UP_WORDS = re.compile(
    r"\b(arrest\w*|charg\w*|arraign\w*|court|hearing|sentenc\w*|convict\w*|indict\w*|plead\w*|"
    r"trial|funeral\w*|vigil\w*|memorial\w*|buried|burial)\b",
    re.I,
)


def kind(event: Event) -> str:
    """``follow_up`` for an arrest, charge, court step, funeral or vigil; else ``incident``.

    ACLED's *Arrests*, PLOVER SANCTION/ACCUSE and COERCE:arrest are follow-ups by type; any other
    non-ASSAULT event whose summary names one of :data:`FOLLOW_UP_WORDS` is one by its words.
    """
    if event.acled_sub_event_type == "Arrests" or event.plover in FOLLOW_UP_PLOVER:
        return "follow_up"
    if (event.plover, event.plover_mode) in FOLLOW_UP_MODES:
        return "follow_up"
    if event.plover != "ASSAULT" and FOLLOW_UP_WORDS.search(event.summary):
        return "follow_up"
    return "incident"


# --------------------------------------------------------------------------- the match model


def _level(label: str, sql: str, m: float, u: float) -> dict[str, Any]:
    return {"label_for_charts": label, "sql_condition": sql, "m_probability": m, "u_probability": u}


def _share(share: float, *levels: dict[str, Any]) -> list[dict[str, Any]]:
    """``levels`` (m and u each summing to 1) as the ``share`` of pairs they cover: both m and u
    scaled alike, so each level's weight log2(m/u) stays what it was."""
    return [
        lv
        | {
            "m_probability": lv["m_probability"] * share,
            "u_probability": lv["u_probability"] * share,
        }
        for lv in levels
    ]


def _null(sql: str) -> dict[str, Any]:
    return {"label_for_charts": "missing", "sql_condition": sql, "is_null_level": True}


_KM = (
    "6371 * 2 * asin(sqrt(power(sin(radians(lat_r - lat_l) / 2), 2) + cos(radians(lat_l)) * "
    "cos(radians(lat_r)) * power(sin(radians(lon_r - lon_l) / 2), 2)))"
)
_BOTH = "lat_l is not null and lat_r is not null"
MIN_WORDS = 8
"""Evidence with fewer distinct words is not compared by words (tiny texts give noisy Jaccard)."""
_COMMON_WORDS = "len(list_intersect(words_l, words_r))"
_JACCARD = f"{_COMMON_WORDS} / (len(words_l) + len(words_r) - {_COMMON_WORDS})"
_RARE = "len(list_intersect(rare_words_l, rare_words_r))"
_DAYS = "abs(date_diff('day', date_l, date_r))"
UNDATED = 0.2
"""Share of pairs where one report gives no incident date (taken as independent of whether
they match: it scales m and u alike)."""
REPORT_LAG_DAYS = 3
"""An article that gives no incident date mostly reports something of the last few days."""
_MONTH = 31
_ONE_UNKNOWN = "(date_l is null or date_r is null)"
_LAG = "coalesce(date_diff('day', date_r, published_l), date_diff('day', date_l, published_r))"

COMPARISONS: list[dict[str, Any]] = [
    {
        "output_column_name": "date",
        "comparison_description": "incident dates (resolved from the text, not publication)",
        "comparison_levels": [
            _null(f"(date_l is null or date_r is null) and {_LAG} is null"),
            *_share(
                UNDATED,
                _level(
                    f"one date unknown, reported within {REPORT_LAG_DAYS} days of the other",
                    f"{_ONE_UNKNOWN} and {_LAG} between 0 and {REPORT_LAG_DAYS}",
                    0.6,
                    0.011,
                ),
                _level(
                    f"one date unknown, reported within {_MONTH} days",
                    f"{_ONE_UNKNOWN} and {_LAG} between 0 and {_MONTH}",
                    0.2,
                    0.077,
                ),
                _level("one date unknown, reported earlier or later", _ONE_UNKNOWN, 0.2, 0.912),
            ),
            *_share(
                1 - UNDATED,
                _level(
                    "imprecise, within 31 days",
                    f"(precision_l <> 'day' or precision_r <> 'day') and {_DAYS} <= 31",
                    0.05,
                    0.04,
                ),
                _level("same day", "date_l = date_r", 0.83, 0.003),
                _level("1 day apart", f"{_DAYS} <= 1", 0.07, 0.006),
                _level("within a week", f"{_DAYS} <= 7", 0.02, 0.04),
                _level("within a month", f"{_DAYS} <= 31", 0.015, 0.16),
                _level("further apart", "ELSE", 0.015, 0.751),
            ),
        ],
    },
    {
        "output_column_name": "place",
        "comparison_description": "the place: same gazetteer id or name, else distance bands",
        "comparison_levels": [
            _null("place_key_l is null or place_key_r is null"),
            _level("same place", "place_key_l = place_key_r", 0.68, 0.002),
            _level("within 5 km", f"{_BOTH} and {_KM} <= 5", 0.11, 0.004),
            _level("same county", "admin2_key_l = admin2_key_r", 0.08, 0.01),
            _level("within 25 km", f"{_BOTH} and {_KM} <= 25", 0.05, 0.02),
            _level(
                "same admin1 or within 100 km",
                f"admin1_key_l = admin1_key_r or ({_BOTH} and {_KM} <= 100)",
                0.05,
                0.10,
            ),
            _level("elsewhere", "ELSE", 0.03, 0.864),
        ],
    },
    {
        "output_column_name": "type",
        "comparison_description": "incident vs follow-up, then PLOVER category",
        "comparison_levels": [
            _null("kind_l is null or kind_r is null"),
            _level("same kind and PLOVER", "kind_l = kind_r and plover_l = plover_r", 0.85, 0.4),
            _level("same kind", "kind_l = kind_r", 0.149999, 0.4),
            _level("incident vs follow-up", "ELSE", 0.000001, 0.2),
        ],
    },
    {
        "output_column_name": "names",
        "comparison_description": "proper names of actors and targets in common",
        "comparison_levels": [
            _null("len(names_l) = 0 or len(names_r) = 0"),
            _level(
                "2+ names in common", "len(list_intersect(names_l, names_r)) >= 2", 0.35, 0.0001
            ),
            _level("1 name in common", "len(list_intersect(names_l, names_r)) >= 1", 0.55, 0.001),
            _level("no name in common", "ELSE", 0.10, 0.9989),
        ],
    },
    {
        "output_column_name": "words",
        "comparison_description": "Jaccard similarity of the evidence's words",
        "comparison_levels": [
            _null(f"len(words_l) < {MIN_WORDS} or len(words_r) < {MIN_WORDS}"),
            _level("evidence words Jaccard >= 0.2", f"{_JACCARD} >= 0.2", 0.36, 0.002),
            _level("evidence words Jaccard >= 0.1", f"{_JACCARD} >= 0.1", 0.39, 0.055),
            _level("evidence words Jaccard >= 0.05", f"{_JACCARD} >= 0.05", 0.10, 0.20),
            _level("evidence words Jaccard < 0.05", "ELSE", 0.15, 0.743),
        ],
    },
    {
        "output_column_name": "rare_words",
        "comparison_description": "rare words (not names) the evidence and titles share",
        "comparison_levels": [
            _null("len(rare_words_l) = 0 or len(rare_words_r) = 0"),
            _level("3+ rare words in common", f"{_RARE} >= 3", 0.2, 0.0005),
            _level("2 rare words in common", f"{_RARE} = 2", 0.2, 0.003),
            _level("1 rare word in common", f"{_RARE} = 1", 0.34, 0.07),
            _level("no rare word in common", "ELSE", 0.26, 0.9265),
        ],
    },
    {
        "output_column_name": "fatalities",
        "comparison_description": "reported deaths (lowest figure)",
        "comparison_levels": [
            _null("fatalities_l is null or fatalities_r is null"),
            _level("same deaths", "fatalities_l = fatalities_r", 0.65, 0.4),
            _level("different deaths", "ELSE", 0.35, 0.6),
        ],
    },
]
"""Fixed m/u probabilities (README "How records are matched" justifies each); m = P(level | same
event), u = P(level | different events) among reports of one stream; each sums to 1 over a
comparison's levels (null levels aside)."""

# two events of one article are never compared; old pairs were scored when they were added
_PAIR = "l.article_id <> r.article_id and (l.is_new or r.is_new)"
BLOCKING_RULES = [
    f"l.place_key = r.place_key and l.month_idx = r.month_idx and {_PAIR}",
    f"l.place_key = r.place_key and l.month_idx = r.month_idx + 1 and {_PAIR}",
    f"l.place_key = r.place_key and l.month_idx + 1 = r.month_idx and {_PAIR}",
    f"l.admin2_key = r.admin2_key and l.month_idx = r.month_idx and {_PAIR}",
    f"l.admin2_key = r.admin2_key and l.month_idx = r.month_idx + 1 and {_PAIR}",
    f"l.admin2_key = r.admin2_key and l.month_idx + 1 = r.month_idx and {_PAIR}",
    f"l.date = r.date and l.cell = r.cell and {_PAIR}",
    f"l.date = r.date + 1 and l.cell = r.cell and {_PAIR}",
    f"l.date + 1 = r.date and l.cell = r.cell and {_PAIR}",
    f"l.date = r.date and l.country = r.country and l.admin1_key = r.admin1_key and {_PAIR}",
    {
        "blocking_rule": f"l.rare_names = r.rare_names and {_PAIR}",
        "arrays_to_explode": ["rare_names"],
    },
]
"""Candidate pairs: same place within the same or the next calendar month (by incident date), or
within a day of each other in the same ~25 km cell (0.25 degree), or the same day in one admin1."""


RARE_NAME_MAX = 50
"""A name more mentions share is no blocking key (an army or a party every report names would
make one quadratic block); it is still compared. Also the floor of :data:`STREAM_COMMON`: one
event can have dozens of reports."""
STREAM_COMMON = 0.01
"""A word more than 1 report in 100 of the data set uses (and more than :data:`RARE_NAME_MAX`)
is no rare word, however rare in general text: the jargon of the stream ("deputies", "gunshot"
in crime news)."""


SPARK_SQL = (
    (r"date_diff\('day', ([\w.]+), ([\w.]+)\)", r"datediff(\2, \1)"),
    (r"list_intersect\(", "array_intersect("),
    (r"\blen\(", "size("),
)
"""What changes on Spark: the three DuckDB functions the comparisons use, by their Spark SQL
names (DuckDB's ``date_diff('day', a, b)`` is Spark's ``datediff(b, a)``). Everything else
(levels, m/u, blocking rules) is the same."""


def splink_settings(
    dialect: str = "duckdb",
    rules: Sequence[Any] = BLOCKING_RULES,
    prior: float = PROBABILITY_TWO_RANDOM_RECORDS_MATCH,
) -> dict[str, Any]:
    """Splink settings for ``dialect`` (``duckdb`` or ``spark``) with the blocking ``rules`` and
    the ``prior`` of the pairs compared."""
    comparisons = COMPARISONS
    if dialect == "spark":
        text = json.dumps(COMPARISONS)
        for duck, spark in SPARK_SQL:
            text = re.sub(duck, spark, text)
        comparisons = json.loads(text)
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "mid",
        "probability_two_random_records_match": prior,
        "blocking_rules_to_generate_predictions": list(rules),
        "comparisons": comparisons,
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": True,
        "additional_columns_to_retain": ["is_new"],
    }


def level_weights() -> dict[str, list[tuple[float, str]]]:
    """(match weight, label) of every non-null level per comparison: log2(m/u), never 0 (the
    null level's weight), so a pair's per-comparison weight names its level."""
    return {
        comp["output_column_name"]: [
            (math.log2(lv["m_probability"] / lv["u_probability"]), lv["label_for_charts"])
            for lv in comp["comparison_levels"]
            if not lv.get("is_null_level")
        ]
        for comp in COMPARISONS
    }


# --------------------------------------------------------------------------- mentions

MENTION_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("event_id", pa.string()),
        ("published", pa.date32()),
        ("source", pa.string()),
        ("date", pa.date32()),
        ("precision", pa.string()),
        ("date_text", pa.string()),
        ("month_idx", pa.int32()),
        ("place_text", pa.string()),
        ("place_key", pa.string()),
        ("country", pa.string()),
        ("admin1", pa.string()),
        ("admin1_key", pa.string()),
        ("admin2_key", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("cell", pa.string()),
        ("names", pa.list_(pa.string())),
        ("words", pa.list_(pa.string())),
        ("rare_words", pa.list_(pa.string())),
        ("actors", pa.list_(pa.string())),
        ("targets", pa.list_(pa.string())),
        ("kind", pa.string()),
        ("plover", pa.string()),
        ("acled_event_type", pa.string()),
        ("acled_sub_event_type", pa.string()),
        ("cameo_root", pa.string()),
        ("fatalities", pa.int32()),
        ("fatalities_max", pa.int32()),
        ("fatalities_text", pa.string()),
        ("factuality", pa.string()),
        ("summary", pa.string()),
        ("evidence", pa.string()),  # JSON list of {text, start, end}
    ]
)
"""One row per event record: the fields the match model and the merge read."""

_WORD = re.compile(r"[^\w\s]+")
_TOKEN = re.compile(r"[a-z]{3,}|\d{2,}")
_STOP = frozenset(
    "the and was were for with that this from have has had are his her their they them said says "
    "police who what when where which would could about after before into over than then there "
    "these those been being also other some more most such only just very will shall may might "
    "must can its our your you she him not but all any one two three four five six seven eight "
    "nine ten man woman men women year years old told according".split()
)


def norm(text: str | None) -> str | None:
    return " ".join(_WORD.sub(" ", text.lower()).split()) or None if text else None


_INSTITUTION = re.compile(
    r"\b(police|sheriff|department|office|authorities|court|government|army|forces)\b", re.I
)


def _proper(name: str) -> bool:
    """A name that tells events apart: capitalised, not an institution every report names."""
    return any(w[:1].isupper() for w in name.split()) and not _INSTITUTION.search(name)


def _words(texts: Iterable[str]) -> list[str]:
    """The evidence's words for the Jaccard comparison: lowercase words of 3+ letters and
    numbers of 2+ digits, without the most common function words."""
    return sorted({w for t in texts for w in _TOKEN.findall(t.lower())} - _STOP)


RARE_ZIPF = 4.0
"""A word is rare below Zipf frequency 4 in the article's language (fewer than 10 per million
words of general text, by ``wordfreq``): street, place and family names, unusual details."""


def _rare(words: list[str], language: str | None, names: Iterable[str]) -> list[str]:
    """The rare words of ``words`` that are not part of a name or place compared on its own;
    none when ``wordfreq`` has no list for the language. (Scoring also drops the words of a
    stream's own jargon: see :data:`STREAM_COMMON`.)"""
    freq = _frequencies((language or "en").split("-")[0].lower())
    if freq is None:
        return []
    own = {t for n in names for t in _TOKEN.findall(n.lower())}
    below = 10 ** (RARE_ZIPF - 9)  # Zipf = log10(frequency per billion words)
    return [w for w in words if w not in own and freq.get(w, 0.0) < below]


@functools.cache
def _frequencies(lang: str) -> dict[str, float] | None:
    from wordfreq import available_languages, get_frequency_dict

    return get_frequency_dict(lang) if lang in available_languages() else None


def geocoded(place: Place, context: str | None) -> Place:
    """``place`` with coordinates: as recorded, or from the offline gazetteer (older records)."""
    if getattr(place, "latitude", None) is not None:
        return place
    from summarizer.geocode import geocode  # loads the gazetteer on first use only

    return geocode(place, context=context)


def mention_rows(records: Sequence[ArticleAnalysis]) -> list[dict[str, Any]]:
    """One mention row (:data:`MENTION_SCHEMA`) per event of every record."""
    return [mention(rec.article, ev) for rec in records for ev in rec.events]


def mention(article: ArticleMeta | Article, ev: Event) -> dict[str, Any]:
    """The mention row of one event of ``article``: the fields the match model and the merge
    read."""
    spans = [s.model_dump() for s in ev.evidence]
    loc = ev.location
    lat = lon = geo_id = admin1 = None
    if loc is not None:
        context = "\n".join([article.title or "", *(s["text"] for s in spans)])
        loc = geocoded(loc, context)
        lat, lon = getattr(loc, "latitude", None), getattr(loc, "longitude", None)
        geo_id = getattr(loc, "geonames_id", None)
        admin1 = getattr(loc, "admin1_name", None) or loc.admin1
    text_key = norm(loc.text) if loc else None
    country = loc.country if loc else None
    admin1_key = norm(admin1)
    place_key = (
        f"geonames:{geo_id}"
        if geo_id
        else f"{country}|{admin1_key}|{text_key}"
        if text_key
        else None
    )
    anchor = ev.date.resolved or article.published
    names = [a.name for a in (*ev.actors, *ev.targets)]
    words = _words([article.title or "", *(s["text"] for s in spans)])
    places = [loc.text, admin1 or "", getattr(loc, "admin2", None) or ""] if loc else []
    return {
        "article_id": article.id,
        "event_id": ev.id,
        "published": article.published,
        "source": article.source,
        "date": ev.date.resolved,
        "precision": ev.date.precision,
        "date_text": ev.date.text,
        "month_idx": anchor.year * 12 + anchor.month - 1 if anchor else None,
        "place_text": loc.text if loc else None,
        "place_key": place_key,
        "country": country,
        "admin1": admin1,
        "admin1_key": admin1_key,
        "admin2_key": norm(getattr(loc, "admin2", None)) if loc else None,
        "lat": lat,
        "lon": lon,
        "cell": f"{round(lat * 4)}:{round(lon * 4)}"
        if lat is not None and lon is not None
        else None,
        "names": sorted({n for n in map(norm, filter(_proper, names)) if n}),
        "words": words,
        "rare_words": _rare(words, article.language, [*names, *places]),
        "actors": [a.name for a in ev.actors],
        "targets": [a.name for a in ev.targets],
        "kind": kind(ev),
        "plover": ev.plover,
        "acled_event_type": ev.acled_event_type,
        "acled_sub_event_type": ev.acled_sub_event_type,
        "cameo_root": ev.cameo_root,
        "fatalities": ev.fatalities.min,
        "fatalities_max": ev.fatalities.max,
        "fatalities_text": ev.fatalities.text,
        "factuality": ev.factuality,
        "summary": ev.summary,
        "evidence": json.dumps(spans, ensure_ascii=False),
    }


def score(
    con: duckdb.DuckDBPyConnection,
    rules: Sequence[Any] = BLOCKING_RULES,
    prior: float = PROBABILITY_TWO_RANDOM_RECORDS_MATCH,
) -> str:
    """Score the candidate pairs (``rules``) of table ``mentions`` (:data:`MENTION_SCHEMA` and
    ``is_new``) with Splink. Leaves table ``m`` (the mentions numbered ``mid``, with their match
    keys) and returns the name of the table of scored pairs that involve a new mention."""
    from splink import DuckDBAPI, Linker  # heavy import, only when there is work

    con.execute(
        f"""
        create or replace table m as
        with nm as (select article_id, event_id, unnest(names) as n from mentions),
        rare as (select n from nm group by n having count(*) <= {RARE_NAME_MAX}),
        keys as (select article_id, event_id, list(n order by n) as rare_names
                 from nm semi join rare using (n) group by all),
        rw as (select article_id, event_id, unnest(rare_words) as w from mentions),
        jargon as (select w from rw group by w having count(*) > greatest({RARE_NAME_MAX},
                   {STREAM_COMMON} * (select count(*) from mentions))),
        words as (select article_id, event_id, list(w order by w) as rare_words
                  from rw anti join jargon using (w) group by all)
        select row_number() over (order by article_id, event_id) as mid,
               x.* exclude (evidence, summary, rare_words),
               coalesce(k.rare_names, []) as rare_names,
               coalesce(w.rare_words, []) as rare_words
        from mentions x left join keys k using (article_id, event_id)
        left join words w using (article_id, event_id)
        """
    )
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register("m"), splink_settings(rules=rules, prior=prior), log_level=None)
    pairs = linker.inference.predict(warning_mode="never")
    con.execute(
        f"create or replace table pairs as select * exclude (is_new_l, is_new_r, match_key) "
        f"from {pairs.physical_name} where is_new_l or is_new_r"
    )
    pairs.drop_table_from_database_and_remove_from_cache()
    return "pairs"


def prior_bits(prior: float = PROBABILITY_TWO_RANDOM_RECORDS_MATCH) -> float:
    """The prior as a match weight: log2 of its odds."""
    return math.log2(prior / (1 - prior))


DOCUMENT_PRIOR = 0.05
"""The prior for two events of different chunks of one document: chunks overlap (up to 20% of a
chunk), so an event read twice is common, about one such pair in 20."""


def same_event_pairs(
    rows: Sequence[dict[str, Any]], prior: float = DOCUMENT_PRIOR
) -> list[tuple[int, int, float]]:
    """``(i, j, match weight)``, ``i < j``, for every pair of ``rows`` (mention rows) that the
    model joins, strongest first; rows with one ``article_id`` are never paired (for a
    document's chunks: the chunk). Every other pair is compared (a document holds few events:
    no blocking)."""
    con = duckdb.connect()
    try:
        con.register("_rows", pa.Table.from_pylist(list(rows), schema=MENTION_SCHEMA))
        con.execute("create table mentions as select *, true as is_new from _rows")
        pairs = score(con, rules=[_PAIR], prior=prior)
        index = {(r["article_id"], r["event_id"]): i for i, r in enumerate(rows)}
        found = con.execute(
            f"select l.article_id, l.event_id, r.article_id, r.event_id, p.match_weight "
            f"from {pairs} p join m l on l.mid = p.mid_l join m r on r.mid = p.mid_r "
            f"where p.match_weight >= {THRESHOLD_WEIGHT}"
        ).fetchall()
    finally:
        con.close()
    pairs = ((index[(a, e)], index[(b, f)], w) for a, e, b, f, w in found)
    out = [(min(i, j), max(i, j), w) for i, j, w in pairs]
    return sorted(out, key=lambda p: (-p[2], p[0], p[1]))
