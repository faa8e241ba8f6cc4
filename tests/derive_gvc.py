"""Derive scripted model answers for GVC articles from the gold GVA incident and the article text.

    python tests/derive_gvc.py [--data tests/data/gvc] [--out DIR] [--prefix gvc-]

Default output: ``tests/data/gvc/responses`` (not ``tests/responses``, where ``test_checks``
reviews every answer against a ``.txt`` article of its own).

Input: any folder holding ``articles.jsonl`` and ``incidents.jsonl`` in GVC's format (see
``tests/data/gvc/README.md``). Output: one :class:`summarizer.schema.Extraction` per article,
``<out>/<prefix><article id>.json`` (indent 2), that the scripted server serves for that article.
The script is a pure function of the input: no table keyed by article or incident id, so it runs
unchanged on unseen splits. Every answer is checked (``check_answer``); an answer that fails is not
written, its problems go to stderr and the script exits 1. ``derive_all`` is what the benchmark
calls.

Rules (heuristic choices, stated once here)
-------------------------------------------
Gold is used to *choose* among strings the article writes; every string in an answer is cut from
the article itself (the script asserts it aligns exactly with :mod:`summarizer.grounding`).

e1, the incident the article reports:

A missing or unknown incident (or its date) is derived as an incident with no gold: no date, no
named people, no deaths, the place only as a county or state the article writes (rules below).

* Date: candidate expressions in the text: weekday (optionally "Month day[, year]" and
  morning/afternoon/evening/night after it), "Month day[, year]", and yesterday / last night /
  today / this morning / this afternoon / this evening / tonight; each is resolved against the
  publication date as the project's prompt and checks define it (a weekday: the most recent such
  day on or before publication; "Month day" without a year: the most recent on or before
  publication). The first candidate resolving to GVA's date is taken; else the first resolving to
  one day either side (a night-time shooting is "Saturday night" in the article and Sunday in GVA:
  the article's own reading is kept); else "last week" / "this week" / "earlier this week" when
  GVA's date falls in that week (precision week, resolved to its Monday). Otherwise the article
  gives no date: ``text`` null, ``resolved`` null, precision "unknown" (the schema's rule for an
  unresolvable date; the record's ``anchor`` keeps the publication date for the resolver).
* Place: the first of these the article writes (whole words; each in its own case or in capitals,
  as a dateline writes it, "NEW STANTON, Pa."; then any of them in any case): "<X> County" when GVA
  writes "X (county)"; GVA's ``city_or_county``; its part before a parenthesis ("Cedaredge (Grand
  Mesa)" -> "Cedaredge") and the part inside it; the first "<Name> County" / "<Name> Parish" phrase
  of the article that names a county of GVA's state (a county of another state, "Butler County,
  Ohio" in an Arkansas story, is not the incident's); the first city of GVA's state whose police
  the article names ("Riviera Beach Police said": a city police force works in its city;
  :func:`summarizer.geocode.police_cities`); the state's name; each also with Saint/Mount/Fort
  written "St."/"Mt."/"Ft." (with or without the full stop). A name found that the article follows
  with "Township" is taken with it ("Franklin Township": the township is the place, not the town
  of Franklin). None of them -> location null. Country "USA"; admin1 GVA's state name (GVA gives
  it, it is the admin1 the record can state).
* Targets = GVA participants of type Victim, actors = Subject-Suspect, each only when the article
  names them: the full GVA name, or first and last name with one middle name or initial between
  (whole words, case-insensitive); the words found are the evidence. Country USA; victims sector
  CVL, suspects sector null (an accused is not shown to be a criminal; many shooters here are
  children handling a gun).
* Fatalities, as the article states them, not GVA's final count: GVA 0 killed -> 0, no text. Else
  a death phrase with a number ("two people were killed", "killed his two daughters") -> that
  number (the phrase whose number equals GVA's count first, else the first; a number followed by
  "-year" or "years" is an age, never a count); else a death word without a number ("died",
  "dies", "kills", "was killed", "fatally shot", "shot to death") -> 1 with those words;
  no death word in the text (it was written before a victim died) -> 0, no text.
* Weapons: firearm words as written ("Glock handgun", ".22-caliber rifle", "shotgun"), at most two
  distinct, first occurrences.
* Evidence: the article's sentences (paragraphs split at sentence ends) that hold the date text,
  the place text, the fatalities text, or the first shooting word (shot, shooting, gunfire, fired,
  killed ...); at most four, in text order; the first sentence when none matches.
* Codes: PLOVER ASSAULT / mode firearms / CAMEO 18 (Assault) for every shooting, accidental ones
  included: PLOVER has no accident category and the schema requires one; ASSAULT/firearms is the
  closest description of harm done with a gun, not a claim of intent (GVA's characteristics tell
  accidents apart). ACLED event and sub-event type null for all: ACLED codes political violence,
  demonstrations and strategic developments; interpersonal, criminal and accidental gun violence
  has no ACLED home. Factuality "asserted".

e2, the follow-up: an article published at least ``FOLLOW_UP_DAYS`` days after GVA's date whose
title or first two paragraphs hold a follow-up word gets a second event, the first kind found in
this order: sentencing / probation / plea / guilty (SANCTION/convict, CAMEO 16), charge / indictment
/ trial / hearing (ACCUSE/allege, CAMEO 11), arrest (COERCE/arrest, CAMEO 17); ACLED null (not
political). Its targets are the named suspects, its evidence the sentence holding the word, its date
the first candidate expression resolving within seven days before publication (else unknown), its
place the incident's (the follow-up happens in the incident's jurisdiction), no deaths. Funerals and
vigils get no e2: no PLOVER/CAMEO category describes them and coding one as PROTEST would claim
collective action.

Quotes: text between double quote marks (straight or curly), at least four words, attributed by a
name next to it: ``"...," said Name Name`` / ``"...," Name Name said`` (up to six capitalised words,
titles such as "Sheriff" included, a sentence's full stop dropped). Pronoun attributions ("he said")
are left out. The speaker's country USA, sector COP/JUD/GOV from a title word, else null. At most
three per article.

Summary: headline = the article title when at most 15 words and every name and number in it is
in the text, else the first 12 words of the first evidence sentence. one_sentence = the first
evidence sentence. Bullets = verbatim sentences, each its own evidence: evidence sentences first,
then the article's other sentences in order, 3-6 bullets of at most 60 words; an article with
fewer sentences is split at commas and semicolons, and as a last resort a sentence repeats.

Checks (``check_answer``): the answer validates as ``Extraction``; every quoted string aligns
exactly (:func:`summarizer.grounding.aligner`); :func:`summarizer.checks.review` finds no error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the script runs as a file from the repo root

from summarizer import geocode  # noqa: E402  (US counties by state)
from summarizer.checks import _OFFSETS, review  # noqa: E402  (the checks' day offsets)
from summarizer.faithfulness import date_words, unsupported  # noqa: E402
from summarizer.grounding import aligner  # noqa: E402
from summarizer.schema import Extraction  # noqa: E402

DATA = REPO / "tests" / "data" / "gvc"
RESPONSES = DATA / "responses"  # not tests/responses: test_checks needs a .txt per answer there
FOLLOW_UP_DAYS = 3
MAX_EVIDENCE = 4
MAX_QUOTES = 3
MAX_BULLET_WORDS = 60

MONTHS = (
    "January February March April May June July August September October November December".split()
)
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_DAYPART = r"(?:\s+(?:morning|afternoon|evening|night))?"
_MONTH_DAY = rf"{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?(?!\d)"
DATE_PATTERNS = (
    re.compile(rf"\b{_WEEKDAY}(?:,?\s+{_MONTH_DAY})?{_DAYPART}\b"),
    re.compile(rf"\b{_MONTH_DAY}"),
    re.compile(
        r"\b(?:[Yy]esterday|[Ll]ast night|[Tt]oday|[Tt]his (?:morning|afternoon|evening)"
        r"|[Tt]onight)\b"
    ),
)
WEEK_PATTERN = re.compile(r"\b(?:[Ee]arlier this week|[Tt]his week|[Ll]ast week)\b")

_NUM_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"
).split()
NUMBER_VALUE = {w: i for i, w in enumerate(_NUM_WORDS, 1)}
_NUM = r"(?:\d{1,2}|" + "|".join(_NUM_WORDS) + r")(?![\w-]|\s+years?\b)"  # not "4-year-old"
_NOUN = r"(?:\s+[a-z-]+){0,2}?"
DEATH_NUMBERED = (
    re.compile(
        rf"\b({_NUM}){_NOUN}\s+(?:(?:were|are|have been|had been)\s+)?(?:found\s+)?"
        rf"(?:killed|dead|died|shot dead|shot to death|fatally shot)\b",
        re.I,
    ),
    re.compile(rf"\b(?:killed|killing|kills)\s+(?:his|her|their|all|the)?\s*({_NUM})\b", re.I),
)
DEATH_WORDS = re.compile(
    r"\b(?:(?:was|were|been)\s+(?:shot\s+and\s+)?killed|fatally\s+(?:shot|wounded|injured)"
    r"|shot\s+(?:to\s+death|dead)|died|dies|killed|kills|dead)\b",
    re.I,
)
SHOOTING_WORDS = re.compile(
    r"\b(?:shot|shooting|shootings|gunfire|gunshot|fired|discharged|killed|wounded)\b", re.I
)
WEAPON = re.compile(
    r"(?:\.\d{2,3}[- ]caliber\s+|\b\d{1,2}[- ](?:gauge|mm)\s+)?"
    r"\b(?:(?:loaded|semi-?automatic|automatic|assault|hunting|Glock|AR-15|BB|pellet)\s+)?"
    r"(?:handguns?|pistols?|rifles?|shotguns?|revolvers?|firearms?|guns?)\b"
)
FOLLOW_UPS: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (re.compile(r"\b(?:sentenced|sentencing|probation|pleaded|pleads|plea|guilty|convicted)\b",
                re.I),
     "SANCTION", "convict", "16"),
    (re.compile(r"\b(?:charged|charges|charge|indicted|indictment|trial|hearing|arraigned)\b",
                re.I), "ACCUSE", "allege", "11"),
    (re.compile(r"\b(?:arrested|arrest|custody)\b", re.I), "COERCE", "arrest", "17"),
)  # fmt: skip
_NAME_WORD = r"[A-Z][A-Za-z.'-]+"
SPEAKER_AFTER = re.compile(
    rf"^[,.]?\s*(?:said|says|told [a-z ]+?)\s+((?:{_NAME_WORD}\s+){{0,5}}{_NAME_WORD})"
)
SPEAKER_BEFORE = re.compile(rf"^[,.]?\s*((?:{_NAME_WORD}\s+){{0,5}}{_NAME_WORD})\s+(?:said|says)")
QUOTED = re.compile(r"[\"“]([^\"“”]{10,400}?)[,.!?]?[\"”]")
TITLE_SECTORS = (
    (re.compile(r"\b(?:Sheriff|Deputy|Officer|Police|Sgt|Sergeant|Lt|Detective|Chief|Cpl|Trooper)"),
     "COP"),
    (re.compile(r"\b(?:Judge|Prosecutor|Attorney|DA|Coroner)\b"), "JUD"),
    (re.compile(r"\b(?:Mayor|Governor|Gov|Sen|Senator|Rep|Commissioner)\b"), "GOV"),
)  # fmt: skip
NOT_NAMES = frozenset({"He", "She", "They", "It", "This", "That", "The", "We", "I"})
SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’')]*\s+(?=[\"“‘(]?[A-Z0-9])")
PARAGRAPH = re.compile(r"[^\n]+")


# --------------------------------------------------------------------------- text pieces


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence: lines split at sentence ends, whitespace trimmed."""
    found = []
    for line in PARAGRAPH.finditer(text):
        start = line.start()
        cuts = [m.start() for m in SENTENCE_END.finditer(line.group())]
        for cut in [*cuts, len(line.group())]:
            piece = text[start : line.start() + cut]
            lead = len(piece) - len(piece.lstrip())
            if piece.strip():
                found.append((start + lead, start + len(piece.rstrip())))
            start = line.start() + cut
    return found


def _whole(text: str, phrase: str, *, flags: int = 0) -> re.Match[str] | None:
    return re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text, flags)


def find_phrase(text: str, phrases: Iterable[str]) -> str | None:
    """The first phrase the text writes, as written: each phrase in its own case or in capitals
    (a dateline's "NEW STANTON, Pa."), in order; then any phrase in any case."""
    wanted = [p.strip() for p in phrases if p and p.strip()]
    for phrase in wanted:
        for form in dict.fromkeys((phrase, phrase.upper())):
            if m := _whole(text, form):
                return m.group()
    for phrase in wanted:
        if m := _whole(text, phrase, flags=re.I):
            return m.group()
    return None


# --------------------------------------------------------------------------- dates


def _month_number(token: str) -> int:
    key = token.lower().rstrip(".")[:3]
    return next(i for i, m in enumerate(MONTHS, 1) if m.lower().startswith(key))


def resolve_expression(expr: str, published: dt.date) -> dt.date | None:
    """What a day-precision candidate means against the publication date (None: no reading)."""
    low = expr.lower()
    for phrase, offset in _OFFSETS.items():
        if phrase in low:
            return published + dt.timedelta(offset)
    md = re.search(rf"({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?", expr)
    if md:
        month, day = _month_number(md.group(1)), int(md.group(2))
        year = int(md.group(3)) if md.group(3) else published.year
        try:
            when = dt.date(year, month, day)
        except ValueError:
            return None
        if not md.group(3) and when > published:
            try:
                when = dt.date(year - 1, month, day)
            except ValueError:
                return None
        wd = re.search(_WEEKDAY, expr)
        if wd and when.strftime("%A") != wd.group():
            return None  # "Friday, March 2" that is not a Friday: leave it
        return when
    wd = re.search(_WEEKDAY, expr)
    if wd:
        target = [d.lower() for d in ("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
                  .split()].index(wd.group().lower())  # fmt: skip
        return published - dt.timedelta((published.weekday() - target) % 7)
    return None


def date_candidates(text: str, published: dt.date) -> Iterator[tuple[int, str, dt.date]]:
    """(position, expression, resolved) for every day-precision expression, in text order."""
    found: dict[int, tuple[str, dt.date]] = {}
    for pattern in DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(s <= m.start() < s + len(e) for s, (e, _) in found.items()):
                continue
            when = resolve_expression(m.group(), published)
            if when is not None and when <= published:
                found[m.start()] = (m.group(), when)
    for pos in sorted(found):
        yield pos, *found[pos]


def _date(value: Any) -> dt.date | None:
    """An ISO date, or None for a missing or unreadable one."""
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _gold_date(incident: dict[str, Any]) -> dt.date | None:
    return _date(incident.get("date"))


def incident_date(text: str, published: dt.date | None, gold: dt.date | None) -> dict[str, Any]:
    unknown = {"text": None, "resolved": None, "precision": "unknown"}
    if published is None or gold is None:
        return unknown
    candidates = list(date_candidates(text, published))
    for tolerance in (0, 1):
        for _, expr, when in candidates:
            if abs((when - gold).days) <= tolerance:
                return {"text": expr, "resolved": when.isoformat(), "precision": "day"}
    for m in WEEK_PATTERN.finditer(text):
        monday = published - dt.timedelta(published.weekday())
        if m.group().lower() == "last week":
            monday -= dt.timedelta(7)
        if monday <= gold < monday + dt.timedelta(7) and monday <= published:
            return {"text": m.group(), "resolved": monday.isoformat(), "precision": "week"}
    return unknown


# --------------------------------------------------------------------------- event parts


def person(text: str, name: str | None) -> str | None:
    """The words naming ``name`` in ``text`` (full name, or first + last around a middle)."""
    if not name or not name.strip():
        return None
    found = find_phrase(text, [name])
    if found:
        return found
    parts = name.split()
    if len(parts) < 2:
        return None
    first, last = re.escape(parts[0]), re.escape(parts[-1])
    m = re.search(rf"(?<![\w-]){first}\s+(?:[A-Z][a-z]*\.?\s+)?{last}(?![\w-])", text, re.I)
    return m.group() if m else None


def people(text: str, incident: dict[str, Any], kind: str, sector: str | None) -> list[dict]:
    out, seen = [], set()
    for p in incident.get("participants") or []:
        if p.get("type") != kind:
            continue
        words = person(text, p.get("name"))
        if words and p["name"] not in seen:
            seen.add(p["name"])
            out.append({"name": p["name"], "country": "USA", "sector": sector, "evidence": words})
    return out


COUNTY_PHRASE = re.compile(r"\b[A-Z][\w.'’-]*(?:\s[A-Z][\w.'’-]*){0,2}\s(?:County|Parish)\b")


def state_county(text: str, state: str | None) -> str | None:
    """The first "<Name> County/Parish" phrase of the text that names a county of ``state`` (as
    written, without a capitalised word before the name: "The Mesa County" -> "Mesa County");
    a county of another state ("Butler County, Ohio" in an Arkansas story) is not the place."""
    g = geocode.gazetteer()
    code = g.states.get(geocode.norm(state or ""))
    for m in COUNTY_PHRASE.finditer(text):
        words = m.group().split()
        for i in range(len(words) - 1):
            if (code, geocode.norm(" ".join(words[i:-1]))) in g.counties:
                return " ".join(words[i:])
    return None


def state_police(text: str, state: str | None) -> str | None:
    """The first city of ``state`` whose police the text names ("Riviera Beach Police said"), as
    written: a city police force works in its city (:func:`summarizer.geocode.police_cities`)."""
    found = geocode.police_cities(text, state) if state else []
    return found[0][0] if found else None


def place(text: str, incident: dict[str, Any]) -> dict[str, Any] | None:
    raw = (incident.get("city_or_county") or "").strip()
    before = raw.split("(")[0].strip()
    inside = [i for i in re.findall(r"\(([^)]+)\)", raw) if i.strip().lower() != "county"]
    named = [f"{before} County"] if re.search(r"\(county\)", raw, re.I) else []
    state = incident.get("state")
    options = [*named, raw, before, *inside, state_county(text, state), state_police(text, state)]
    options.append(state)
    options = [v for o in options if o for v in (o, *_abbreviated(o))]
    found = find_phrase(text, options)
    if found is None:
        return None
    if township := re.search(rf"(?<![\w-]){re.escape(found)} Township\b", text):
        found = township.group()  # "Franklin Township, Mich.": the township is the place
    return {"text": found, "country": "USA", "admin1": state}


ABBREVIATIONS = {"Saint": "St.", "Mount": "Mt.", "Fort": "Ft."}


def _abbreviated(name: str) -> list[str]:
    """'Saint Paul' -> ['St. Paul', 'St Paul'] (as newspapers write it)."""
    first, _, rest = name.partition(" ")
    short = ABBREVIATIONS.get(first)
    return [f"{short} {rest}", f"{short[:-1]} {rest}"] if short and rest else []


def _number(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_VALUE[token.lower()]


def fatalities(text: str, gold_killed: int) -> dict[str, Any]:
    none = {"min": 0, "max": 0, "estimated": False, "text": None}
    if not gold_killed:
        return none
    numbered = [
        (m.start(), m.group(), _number(m.group(1)))
        for p in DEATH_NUMBERED
        for m in p.finditer(text)
    ]
    numbered = [n for n in sorted(numbered) if 0 < n[2] <= 50]
    if numbered:
        _, words, count = next((n for n in numbered if n[2] == gold_killed), numbered[0])
        return {"min": count, "max": count, "estimated": False, "text": words}
    m = DEATH_WORDS.search(text)
    if m is None:
        return none
    return {"min": 1, "max": 1, "estimated": False, "text": m.group()}


def weapons(text: str) -> list[str]:
    out: list[str] = []
    for m in WEAPON.finditer(text):
        w = m.group().strip()
        if w.lower() not in {o.lower() for o in out}:
            out.append(w)
        if len(out) == 2:
            break
    return out


def evidence(text: str, spans: list[tuple[int, int]], anchors: list[str | None]) -> list[str]:
    """Sentences holding an anchor phrase or the first shooting word (at most MAX_EVIDENCE)."""
    picked: set[int] = set()
    for phrase in anchors:
        if phrase:
            m = _whole(text, phrase)
            if m:
                picked |= {i for i, (s, e) in enumerate(spans) if s <= m.start() < e}
    shot = SHOOTING_WORDS.search(text)
    if shot:
        picked |= {i for i, (s, e) in enumerate(spans) if s <= shot.start() < e}
    chosen = sorted(picked)[:MAX_EVIDENCE] or [0]
    return [text[spans[i][0] : spans[i][1]] for i in chosen]


def _summary_line(kind: str, where: dict | None, date: dict, deaths: dict) -> str:
    at = f" in {where['text']}" if where else ""
    when = f" ({date['text']})" if date["text"] else ""
    if kind == "incident":
        died = f"; {deaths['min']} killed" if deaths["min"] else ""
        return f"A shooting{at}{when}{died}."
    return f"{kind.capitalize()} after the shooting{at}{when}."


def incident_event(
    text: str, spans: list[tuple[int, int]], published: dt.date | None, incident: dict[str, Any]
) -> dict[str, Any]:
    gold = _gold_date(incident)
    date = incident_date(text, published, gold)
    where = place(text, incident)
    deaths = fatalities(text, int(incident.get("num_killed") or 0))
    ev = evidence(text, spans, [date["text"], where and where["text"], deaths["text"]])
    return {
        "summary": _summary_line("incident", where, date, deaths),
        "plover": "ASSAULT",
        "plover_mode": "firearms",
        "acled_event_type": None,
        "acled_sub_event_type": None,
        "cameo_root": "18",
        "actors": people(text, incident, "Subject-Suspect", None),
        "targets": people(text, incident, "Victim", "CVL"),
        "date": date,
        "location": where,
        "fatalities": deaths,
        "weapons": weapons(text),
        "factuality": "asserted",
        "evidence": ev,
    }


def follow_up_event(
    article: dict[str, Any],
    spans: list[tuple[int, int]],
    published: dt.date | None,
    incident: dict[str, Any],
    first: dict[str, Any],
) -> dict[str, Any] | None:
    text = article["text"]
    gold = _gold_date(incident)
    if published is None or gold is None or (published - gold).days < FOLLOW_UP_DAYS:
        return None
    lines = [m.group() for m in PARAGRAPH.finditer(text)][:2]
    head = "\n".join([article.get("title") or "", *lines])
    for pattern, plover, mode, cameo in FOLLOW_UPS:
        if not pattern.search(head):
            continue
        word = pattern.search(text)
        if word is None:
            continue
        sentence = next(text[s:e] for s, e in spans if s <= word.start() < e)
        date = {"text": None, "resolved": None, "precision": "unknown"}
        for _, expr, when in date_candidates(text, published):
            if 0 <= (published - when).days <= 7 and when > gold:
                date = {"text": expr, "resolved": when.isoformat(), "precision": "day"}
                break
        kind = {"SANCTION": "sentencing", "ACCUSE": "charge", "COERCE": "arrest"}[plover]
        return {
            "summary": _summary_line(kind, first["location"], date, {"min": 0}),
            "plover": plover,
            "plover_mode": mode,
            "acled_event_type": None,
            "acled_sub_event_type": None,
            "cameo_root": cameo,
            "actors": [],
            "targets": [dict(a) for a in first["actors"]],
            "date": date,
            "location": first["location"],
            "fatalities": {"min": 0, "max": 0, "estimated": False, "text": None},
            "weapons": [],
            "factuality": "asserted",
            "evidence": [sentence],
        }
    return None


# --------------------------------------------------------------------------- quotes, summary


def quotes(text: str) -> list[dict[str, Any]]:
    out = []
    for m in QUOTED.finditer(text):
        words = m.group(1).strip()
        if len(words.split()) < 4:
            continue
        tail = text[m.end() : m.end() + 120].split("\n")[0]  # the quotation's own line
        after, before = SPEAKER_AFTER.match(tail), SPEAKER_BEFORE.match(tail)
        found = after or before
        if found is None:
            continue
        name = re.sub(r"(?<=[a-z]{2})\.$", "", found.group(1))  # "Robbins." ends a sentence
        if name.split()[0] in NOT_NAMES:
            continue
        sector = next((s for p, s in TITLE_SECTORS if p.search(name)), None)
        speaker = {"name": name, "country": "USA", "sector": sector, "evidence": name}
        out.append({"text": words, "speaker": speaker})
        if len(out) == MAX_QUOTES:
            break
    return out


def _pieces(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """Verbatim sentences, or for a very short article its comma/semicolon clauses."""
    found = [text[s:e] for s, e in spans if len(text[s:e].split()) <= MAX_BULLET_WORDS]
    if len(found) >= 3:
        return found
    clauses = [c.strip() for s, e in spans for c in re.split(r"[,;]", text[s:e])]
    return [c for c in clauses if len(c.split()) >= 3] or found


def summary(
    article: dict[str, Any], spans: list[tuple[int, int]], events: list[dict], allowed: set[str]
) -> dict[str, Any]:
    text = article["text"]
    ev_sentences = [s for e in events for s in e["evidence"]]
    lead = ev_sentences[0]
    title = (article.get("title") or "").strip()
    if title and len(title.split()) <= 15 and not unsupported(title, text, allowed):
        headline = title
    else:
        headline = " ".join(lead.split()[:12])
    pieces = _pieces(text, spans)
    order = [s for s in dict.fromkeys(ev_sentences) if len(s.split()) <= MAX_BULLET_WORDS]
    order += [p for p in pieces if p not in order]
    while len(order) < 3:
        order.append(order[len(order) % max(1, len(order))] if order else lead)
    bullets = [{"text": s, "evidence": [s]} for s in order[:6]]
    return {"headline": headline, "one_sentence": lead, "bullets": bullets}


# --------------------------------------------------------------------------- answer


def derive(article: dict[str, Any], incident: dict[str, Any]) -> dict[str, Any]:
    """The scripted answer (an ``Extraction`` as JSON) for one article."""
    text = article["text"]
    published = _date(article.get("published"))
    spans = sentences(text)
    first = incident_event(text, spans, published, incident)
    events = [first]
    second = follow_up_event(article, spans, published, incident, first)
    if second is not None:
        events.append(second)
    resolved = [
        dt.date.fromisoformat(e["date"]["resolved"]) for e in events if e["date"]["resolved"]
    ]
    allowed = date_words([d for d in [published, *resolved] if d is not None])
    return {
        "language": "en",
        "events": events,
        "quotes": quotes(text),
        "summary": summary(article, spans, events, allowed),
    }


def _strings(answer: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, string) for every string the answer quotes from the article."""
    for i, ev in enumerate(answer["events"]):
        for who in ("actors", "targets"):
            for a in ev[who]:
                yield f"events[{i}].{who}", a["evidence"]
        for key, value in (("date", ev["date"]["text"]), ("fatalities", ev["fatalities"]["text"])):
            if value:
                yield f"events[{i}].{key}", value
        if ev["location"]:
            yield f"events[{i}].location", ev["location"]["text"]
        yield from ((f"events[{i}].weapons", w) for w in ev["weapons"])
        yield from ((f"events[{i}].evidence", e) for e in ev["evidence"])
    for q in answer["quotes"]:
        yield "quote", q["text"]
        yield "quote speaker", q["speaker"]["evidence"]
    for b in answer["summary"]["bullets"]:
        yield from (("bullet evidence", e) for e in b["evidence"])


def check_answer(answer: dict[str, Any], article: dict[str, Any]) -> list[str]:
    """Problems with an answer: strings that do not align exactly, and review() errors."""
    text = article["text"]
    extraction = Extraction.model_validate(answer)
    a = aligner(text)
    problems = []
    for where, value in _strings(answer):
        found = a.align(value)
        if found is None or found.method != "exact":
            problems.append(f"{where}: {value!r} does not occur verbatim")
    published = _date(article.get("published"))
    problems += [
        f"{i.path}: {i.code}: {i.message}" for i in review(extraction, text, published).errors
    ]
    return problems


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def derive_all(data: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any], list[str]]]:
    """(article, answer, problems) for every article of ``data``, streamed in file order."""
    incidents = {i["incident_id"]: i for i in read_jsonl(data / "incidents.jsonl")}
    for article in read_jsonl(data / "articles.jsonl"):
        try:
            answer = derive(article, incidents.get(article.get("incident_id"), {}))
            problems = check_answer(answer, article)
        except Exception as exc:  # an unusable article (no text, bad fields) must not stop a run
            answer, problems = {}, [f"cannot derive an answer: {exc!r}"]
        yield article, answer, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=RESPONSES)
    parser.add_argument("--prefix", default="gvc-")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    failed = total = follow_ups = 0
    for article, answer, problems in derive_all(args.data):
        total += 1
        follow_ups += len(answer.get("events", [])) > 1
        if problems:
            failed += 1
            for p in problems:
                print(f"{article['id']}: {p}", file=sys.stderr)
            continue
        (args.out / f"{args.prefix}{article['id']}.json").write_text(
            json.dumps(answer, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    print(f"{total} articles, {total - failed} answers pass every check, {follow_ups} with e2")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
