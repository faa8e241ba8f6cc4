"""Derive scripted model answers for the MUCSUM fixtures from their gold templates.

Run from the repository root::

    python tests/derive_mucsum.py

Input: ``tests/data/mucsum/dev-sample.json`` (a verbatim subset of the MUCSUM dev split, see the
README next to it). For every document the script writes

* ``tests/data/articles/mucsum-<DOCID>.txt``: the sentences joined with one space, no final newline;
* ``tests/responses/mucsum-<DOCID>.json``: an :class:`summarizer.schema.Extraction` (indent 2)
  that a scripted model server can serve as the answer for that article.

The output is a pure function of the input and of the hand-checked tables below; running the script
twice gives identical files.

Derivation rules (one event per MUCSUM example, in file order)
---------------------------------------------------------------
Codes, from ``template.type`` (``codes``, ``TYPE_CODES``):

* attack -> ASSAULT, mode ``firearms`` if a weapon string names a gun (gun, rifle, machinegun,
  automatic weapon, pistol, revolver), else null. ACLED: "Battles"/"Armed clash" (CAMEO 19) when a
  victim or physical target belongs to an armed sector (MIL, COP, REB; see sectors below), else
  "Violence against civilians"/"Attack" (CAMEO 18).
* bombing -> ASSAULT/explosives, "Explosions/Remote violence"/"Remote explosive/landmine/IED", 18.
* kidnapping -> ASSAULT/abduct, "Violence against civilians"/"Abduction/forced disappearance", 18.
* arson -> ASSAULT/destroy, "Strategic developments"/"Looting/property destruction", 18.
* robbery -> COERCE/seize, "Strategic developments"/"Looting/property destruction", 17.
* forced work stoppage -> COERCE/restrict, no ACLED type, 17.
* completion ``attempted``: the codes above, except that ACLED records a bomb that was planted but
  defused as "Strategic developments"/"Disrupted weapons use" (ACLED codebook: interceptions are
  Disrupted weapons use); PLOVER and CAMEO keep the bombing codes.
* completion ``threatened``: THREATEN, CAMEO 13, no ACLED type; mode ``violence``, or ``restrict``
  for a threatened forced work stoppage (a threatened stoppage restricts, it is not violence).

Factuality: ``threatened`` -> "planned"; otherwise "asserted", except the instances listed in
``FACTUALITY`` (events the text gives only as a party's claim or as one unconfirmed version).

Actors and targets: actors = perpind + perporg, targets = victim + target, each named by the slot
string, which must occur verbatim in the article (it is also the evidence). Country = the ISO code
of the document's country (``DOC_COUNTRY`` through ``COUNTRY_CODES``) unless ``ACTOR_COUNTRY``
names the nationality the text gives (e.g. "u.s. soldiers"). Sector = ``SECTOR_OVERRIDES`` if the
slot string is listed (roles the text states, e.g. "president cerezo"), else the first matching
keyword rule in ``SECTOR_KEYWORDS`` (rebel groups -> REB, armed forces -> MIL, police -> COP,
civilian -> CVL), else null.

Date: ``text`` = the first gold date string if it occurs verbatim in the article, else null. MUC
documents carry no publication date here, so nothing can be resolved: ``resolved`` is always null
and ``precision`` always "unknown".

Location: the most specific gold location string (highest level in ``PLACES``: 0 country,
1 department/province, 2 city, 3 site/district/farm/river; ties: first in gold order) that occurs in
the article; country from ``PLACES``; admin1 null. No gold location -> null.

Fatalities: MUC templates carry no deaths. Every instance is listed either in ``FATALITIES``
(numbers read off the text, with the verbatim words) or in ``NO_DEATHS`` (checked: the text reports
no death for that event); the script stops if an instance is in neither.

Evidence: the document sentences listed per instance in ``EVENT_EVIDENCE`` (hand-picked: they state
the event), copied verbatim.

Quotes: the direct quotations listed in ``QUOTES`` (hand-added, verbatim, with speakers).

Summary: ``one_sentence`` = first human summary sentence of the document's first example (kept
verbatim even where it is inaccurate, see TST2-MUC4-0063 in ``SKIPPED_BULLETS``); ``headline`` =
that sentence without its full stop if it has at most 15 words, else the hand-made cut in
``HEADLINES`` (words dropped, never added: the script checks that every headline word occurs in
the sentence). Bullets = the human summary sentences of all the document's examples in order (at
most 6, the ones in ``SKIPPED_BULLETS`` left out with the reason given there). Each bullet's
evidence is ``BULLET_EVIDENCE`` if listed, else the 1-2 document sentences found by
``best_evidence`` (most content words of the bullet, ties by rapidfuzz ``token_set_ratio``; a
second sentence only when it adds support). With fewer than 3 bullets, verbatim document
sentences are added as bullets with themselves as evidence (document order; sentences no bullet
cites yet first).

Checks (``_check``; the script stops with an AssertionError if one fails): every evidence string,
date text, place text, fatalities text and quote text is an exact substring of the article; every
number (digits or number words) and every capitalised word of a bullet occurs, as a whole word and
case-insensitively, in that bullet's evidence; headline <= 15 words; 3-6 bullets; the answer
validates as ``Extraction``; ``taxonomy.disagreements`` is empty for every event; every country code
is an ISO 3166-1 alpha-3 code (pycountry).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pycountry
from rapidfuzz import fuzz, utils

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the script runs as a file from the repo root

from summarizer.schema import Extraction  # noqa: E402
from summarizer.taxonomy import country_codes, disagreements  # noqa: E402

SAMPLE = REPO / "tests" / "data" / "mucsum" / "dev-sample.json"
ARTICLES = REPO / "tests" / "data" / "articles"
RESPONSES = REPO / "tests" / "responses"

# --------------------------------------------------------------------------- countries and places

COUNTRY_CODES: dict[str, str] = {
    "chile": "CHL",
    "colombia": "COL",
    "ecuador": "ECU",
    "el salvador": "SLV",
    "guatemala": "GTM",
    "honduras": "HND",
    "peru": "PER",
    "united states": "USA",
}

# Country the document reports from (where its events happen).
DOC_COUNTRY: dict[str, str] = {
    "TST1-MUC3-0001": "guatemala",
    "TST1-MUC3-0004": "colombia",  # antioquia liqueur plant (Medellin)
    "TST1-MUC3-0036": "honduras",  # la ceiba, palmerola base
    "TST1-MUC3-0075": "colombia",
    "TST1-MUC3-0087": "el salvador",
    "TST1-MUC3-0099": "peru",
    "TST2-MUC4-0012": "chile",  # santiago, supreme court
    "TST2-MUC4-0013": "ecuador",
    "TST2-MUC4-0063": "el salvador",
    "TST2-MUC4-0067": "el salvador",
    "TST2-MUC4-0075": "el salvador",
    "TST2-MUC4-0077": "peru",
}

# Gold location strings of the sample: (level, country). 0 country, 1 department/province,
# 2 city, 3 site, district, farm or river.
PLACES: dict[str, tuple[int, str]] = {
    "guatemala": (0, "guatemala"),
    "el peten": (1, "guatemala"),
    "flores": (2, "guatemala"),
    "santo tomas": (3, "guatemala"),
    "la eminencia": (3, "guatemala"),
    "antioquia": (1, "colombia"),
    "medellin": (2, "colombia"),
    "la ceiba": (2, "honduras"),
    "el salvador": (0, "el salvador"),
    "san salvador": (2, "el salvador"),
    "peru": (0, "peru"),
    "lima": (2, "peru"),
    "san isidro": (3, "peru"),
    "orrantia": (3, "peru"),
    "santiago": (2, "chile"),
    "ecuador": (0, "ecuador"),
    "sucumbios": (1, "ecuador"),
    "bermeja river": (3, "ecuador"),
}

# Nationalities the text states for an actor, overriding the document's country
# (None: the text names more than one state or none that has a current ISO code).
ACTOR_COUNTRY: dict[tuple[str, str], str | None] = {
    ("TST1-MUC3-0036", "soldiers"): "united states",  # "nine u.s. soldiers"
    ("TST1-MUC3-0099", "embassies"): None,  # embassies of the prc and the soviet union
    ("TST1-MUC3-0099", "vehicle"): None,  # "a ussr embassy vehicle"; USSR has no current code
    ("TST2-MUC4-0013", "attackers"): "colombia",  # colombian uniforms, "returned to colombia"
    ("TST2-MUC4-0013", "colombian military"): "colombia",
    ("TST2-MUC4-0013", "scott heyndal"): "united states",  # "u.s. citizen scott heyndal"
    ("TST2-MUC4-0013", "julio torres"): "colombia",  # "colombian pilot julio torres"
}

# --------------------------------------------------------------------------- sectors

# First match wins; whole-word, on the slot string. Rebel names come before "armed forces" so that
# "revolutionary armed forces of colombia" is REB.
SECTOR_KEYWORDS: tuple[tuple[str, str], ...] = (
    (r"guerrillas?|rebels?|insurgents?|fmln|urng|national revolutionary unity|shining path"
     r"|tupac amaru|mrta|eln|farc|revolutionary armed forces", "REB"),
    (r"army|armed forces|soldiers?|military|troops", "MIL"),
    (r"police|policeman|policemen", "COP"),
    (r"civilians?", "CVL"),
)  # fmt: skip

# Roles the text states for a slot string (and one keyword false positive).
SECTOR_OVERRIDES: dict[str, str | None] = {
    "cerezo": "GOV",  # "president cerezo"
    "maria elena diaz perez": "JUD",  # "third judge of public order"
    "guillermo ungo": "OPP",  # "leader of the civilian left"
    "jesuits": "REL",
    "jecar neghme": "OPP",  # "spokesman of the mir (movement of the revolutionary left)"
    "offices of the salvadoran workers national union federation (fenastras)": "LAB",
    "union leaders": "LAB",
    "union headquarters": "LAB",
    "men wearing military uniforms": None,  # uniforms alone do not identify the army
}

# --------------------------------------------------------------------------- event coding

FIREARM_WORDS = re.compile(
    r"\b(?:\w*gun|rifles?|machineguns?|automatic weapons?|pistols?|revolvers?)\b"
)
ARMED_SECTORS = frozenset({"MIL", "COP", "REB"})

# Default "asserted"; these events the text gives only as a party's claim or one version.
FACTUALITY: dict[str, str] = {
    "TST1-MUC3-0001.1": "claimed",  # urng's "cerigua" agency report; the army denies it
    "TST2-MUC4-0077.1": "claimed",  # mrta "claimed responsibility for the kidnapping of 102 people"
}

# Hand-picked document sentences (0-based indices) that state each event.
EVENT_EVIDENCE: dict[str, tuple[int, ...]] = {
    "TST1-MUC3-0001.1": (0, 1, 2),
    "TST1-MUC3-0001.3": (5,),
    "TST1-MUC3-0001.4": (5,),
    "TST1-MUC3-0001.5": (7,),
    "TST1-MUC3-0001.6": (7,),
    "TST1-MUC3-0004.1": (0, 1, 2, 3, 4),
    "TST1-MUC3-0036.1": (0, 1, 3),
    "TST1-MUC3-0075.1": (1, 6, 8),
    "TST1-MUC3-0075.2": (10,),
    "TST1-MUC3-0087.1": (1,),
    "TST1-MUC3-0087.2": (5,),
    "TST1-MUC3-0099.1": (0, 2, 6),
    "TST1-MUC3-0099.2": (0, 3, 6),
    "TST1-MUC3-0099.3": (13,),
    "TST2-MUC4-0012.1": (2,),
    "TST2-MUC4-0013.1": (0, 1, 2),
    "TST2-MUC4-0013.3": (1, 3, 4),
    "TST2-MUC4-0063.1": (0, 1),
    "TST2-MUC4-0063.2": (4,),
    "TST2-MUC4-0067.1": (0, 4),
    "TST2-MUC4-0067.2": (0, 4),
    "TST2-MUC4-0067.3": (0, 4),
    "TST2-MUC4-0075.1": (0,),
    "TST2-MUC4-0077.1": (0,),
    "TST2-MUC4-0077.2": (1, 2),
}

# Deaths read off the text: instance -> (min, max, estimated, verbatim words).
FATALITIES: dict[str, tuple[int, int, bool, str | None]] = {
    # the army: "the attack, which resulted in the death of a civilian who was passing by"
    "TST1-MUC3-0001.1": (1, 1, False, "the death of a civilian"),
    "TST1-MUC3-0001.5": (1, 1, False, "guerrillas killed a peasant"),
    # the judge and two das bodyguards; the driver is not reported dead
    "TST1-MUC3-0075.1": (
        3,
        3,
        False,
        "maria elena diaz perez, third judge of public order, and two of her bodyguards from the "
        "das (administrative department of security), were assassinated",
    ),
    "TST1-MUC3-0087.2": (6, 6, False, "the assassination of six jesuits"),
    "TST2-MUC4-0012.1": (1, 1, False, "the murder of jecar neghme"),
    # the pilot; the kidnapping (.3) is the same boarding, its death is counted here only
    "TST2-MUC4-0013.1": (1, 1, False, "mr. torres was killed"),
    "TST2-MUC4-0063.2": (10, 10, False, "the 10 union leaders who were killed"),
    # "at least six": the lowest figure, as ACLED codes it
    "TST2-MUC4-0075.1": (6, 6, False, "at least six persons were killed"),
}

# Checked: the text reports no death for these events.
NO_DEATHS: dict[str, str] = {
    "TST1-MUC3-0001.3": "facilities burned, food stolen at la eminencia; no one hurt is mentioned",
    "TST1-MUC3-0001.4": "theft of food; no casualty mentioned",
    "TST1-MUC3-0001.6": "a tank truck burned; the peasant's death belongs to .5",
    "TST1-MUC3-0004.1": "rockets defused; exchange of fire with no casualty reported",
    "TST1-MUC3-0036.1": "seven soldiers wounded, three in grave condition, none dead",
    "TST1-MUC3-0075.2": "the threats; the killing itself is .1",
    "TST1-MUC3-0087.1": "threats against ungo, who left the country unharmed",
    "TST1-MUC3-0099.1": '"the bombs caused damage but no injuries"',
    "TST1-MUC3-0099.2": '"the bombs caused damage but no injuries"',
    "TST1-MUC3-0099.3": "at least 10 buses burned; no casualty mentioned",
    "TST2-MUC4-0013.3": "heyndal and teneda taken alive; torres's death is counted in .1",
    "TST2-MUC4-0063.1": "one policeman wounded",
    "TST2-MUC4-0067.1": "threatened stoppage",
    "TST2-MUC4-0067.2": "threat to destroy power lines",
    "TST2-MUC4-0067.3": "threat to kill election officials, not carried out in the text",
    "TST2-MUC4-0077.1": "kidnapping of 102 people; no death mentioned",
    "TST2-MUC4-0077.2": "ferreyros held for ransom",
}

# --------------------------------------------------------------------------- quotes

# doc -> (quoted words, speaker name, speaker country, speaker sector, speaker evidence)
QUOTES: dict[str, list[tuple[str, str, str | None, str | None, str]]] = {
    "TST1-MUC3-0001": [
        ("false and incorrect", "the government", "GTM", "GOV", "the government"),
    ],
    "TST2-MUC4-0067": [
        (
            "there can be no peace without democracy, and voting is the path to democracy",
            "jose napoleon duarte", "SLV", "GOV", "duarte said",
        ),
        (
            "will guarantee the safety of the elections.",
            "jose napoleon duarte", "SLV", "GOV", "the salvadoran president",
        ),
    ],
}  # fmt: skip

# --------------------------------------------------------------------------- summary

# doc -> headline: the first summary sentence shortened to at most 15 words by dropping words
# (a few re-ordered); every headline word occurs in that sentence. Sentences of <= 15 words are
# used whole (without the final full stop) and need no entry.
HEADLINES: dict[str, str] = {
    "TST1-MUC3-0001": 'guatemalan army denied that guerrillas attacked the "santo tomas" '
    "presidential farm on 2 february",
    "TST1-MUC3-0036": "nine u.s. soldiers from palmerola base visiting la ceiba were attacked with "
    "a homemade bomb",
    "TST1-MUC3-0075": "maria elena diaz perez and two of her bodyguards were assassinated in "
    "medellin",
    "TST1-MUC3-0087": "guillermo ungo left for venezuela after seeking asylum at the venezuelan "
    "embassy due to threats",
    "TST2-MUC4-0012": "supreme court has ordered appointment of a special judge to investigate "
    "murder of jecar neghme",
    "TST2-MUC4-0013": "a small ecuadoran flagship was attacked on the bermeja river in sucumbios "
    "province, ecuador",
    # leaves out "during a demonstration": the text says the attack came before it (sentence 3)
    "TST2-MUC4-0063": "several urban guerrillas opened fire on members of the national police "
    "guarding a power substation",
    "TST2-MUC4-0067": "salvadoran president duarte called on spain, mexico, venezuela, and "
    "nicaragua to mediate with the rebels",
    "TST2-MUC4-0075": "at least six persons were killed when a car bomb exploded in san salvador",
    "TST2-MUC4-0077": "tupac amaru revolutionary movement (mrta) claimed responsibility for the "
    "kidnapping of 102 people",
}

# (instance, summary sentence index) -> document sentence indices, where the automatic pick is
# wrong or cannot satisfy the bullet rule with the right sentences.
BULLET_EVIDENCE: dict[tuple[str, int], tuple[int, ...]] = {
    # "a-3037" is in sentence 3, "9-mm submachine gun" in 6 (noon: 2, opened fire: 5)
    ("TST1-MUC3-0075.1", 1): (3, 6),
    # "lima" from the car-bomb sentence (2), not from the sentence on the 24 oct bus burnings (13)
    ("TST1-MUC3-0099.1", 0): (0, 2),
    # "no injuries" (1) and the suspected groups (6)
    ("TST1-MUC3-0099.1", 2): (1, 6),
    # the names (1) and "mr. torres was killed and mr. meneses was wounded" (2)
    ("TST2-MUC4-0013.1", 1): (1, 2),
    # the names (1) and "the attackers returned to colombia taking heyndal and teneda" (4)
    ("TST2-MUC4-0013.3", 1): (1, 4),
    # the name and alias (1) and "kidnaped on 2 december" (2); mrta is named in 0 and 3. The
    # summary's "the king of the machinery industry" corrects the text's typo "the kind of ...".
    ("TST2-MUC4-0077.2", 0): (1, 2),
}

# (instance, summary sentence index) -> why the sentence is not used as a bullet.
SKIPPED_BULLETS: dict[tuple[str, int], str] = {
    ("TST2-MUC4-0013.3", 0): '"approximately 1.5 km": the text has "one and a half km"',
    ("TST1-MUC3-0099.2", 0): "repeats the first bullet (.1 sentence 0) and the no-injuries one",
    ("TST1-MUC3-0099.2", 1): '"in one attack": no sentence on the ussr embassy vehicle says "one"',
    ("TST2-MUC4-0063.1", 0): '"during a demonstration": sentence 3 says the attack came before it',
    ("TST2-MUC4-0063.1", 1): '"one policeman": the text says "a policeman"',
    # the rockets ("four"), the suitcase and the dynamite/launchers are in three sentences (1-3)
    ("TST1-MUC3-0004.1", 1): "needs three evidence sentences",
}

MAX_HEADLINE_WORDS = 15
MAX_BULLETS = 6
MIN_BULLETS = 3

_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand million billion dozen dozens first second third fourth fifth sixth "
    "seventh eighth ninth tenth half"
)
NUMBER_WORDS = frozenset(_NUMBER_WORDS.split())
DIGITS = re.compile(r"\d+(?:[.,:]\d+)*")
WORDS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# Words too common to show that a sentence supports a bullet.
_STOPWORDS = (
    "about after also been being from have into that their them they this were when which while "
    "whom with"
)
STOPWORDS = frozenset(_STOPWORDS.split())


# --------------------------------------------------------------------------- helpers


def article_text(examples: list[dict[str, Any]]) -> str:
    """The article as the tests see it: the document's sentences joined with one space."""
    return " ".join(examples[0]["document"])


def sector_of(slot: str) -> str | None:
    """Sector of a slot string: explicit override, else the first keyword rule, else null."""
    if slot in SECTOR_OVERRIDES:
        return SECTOR_OVERRIDES[slot]
    for pattern, sector in SECTOR_KEYWORDS:
        if re.search(rf"\b(?:{pattern})\b", slot):
            return sector
    return None


def actor(doc_id: str, slot: str, text: str) -> dict[str, Any]:
    """An ``ActorDraft`` for a slot string, which must occur verbatim in the article."""
    assert slot in text, f"{doc_id}: slot string {slot!r} is not in the article"
    country = ACTOR_COUNTRY.get((doc_id, slot), DOC_COUNTRY[doc_id])
    return {
        "name": slot,
        "country": COUNTRY_CODES[country] if country else None,
        "sector": sector_of(slot),
        "evidence": slot,
    }


# (plover, plover_mode, acled_event_type, acled_sub_event_type, cameo_root)
Codes = tuple[str, str | None, str | None, str | None, str]

VAC = "Violence against civilians"
STRATEGIC = "Strategic developments"
LOOTING = "Looting/property destruction"

# Codes per MUCSUM type for accomplished events; attack is settled in ``codes``.
TYPE_CODES: dict[str, Codes] = {
    "bombing": (
        "ASSAULT", "explosives", "Explosions/Remote violence", "Remote explosive/landmine/IED", "18"
    ),
    "kidnapping": ("ASSAULT", "abduct", VAC, "Abduction/forced disappearance", "18"),
    "arson": ("ASSAULT", "destroy", STRATEGIC, LOOTING, "18"),
    "robbery": ("COERCE", "seize", STRATEGIC, LOOTING, "17"),
    "forced work stoppage": ("COERCE", "restrict", None, None, "17"),
}  # fmt: skip


def codes(template: dict[str, Any], targets: list[dict[str, Any]]) -> dict[str, Any]:
    """PLOVER / ACLED / CAMEO codes of one template (see the module docstring)."""
    kind, completion = template["type"], template["completion"]
    if completion == "threatened":
        mode = "restrict" if kind == "forced work stoppage" else "violence"
        coded: Codes = ("THREATEN", mode, None, None, "13")
    elif kind == "attack":
        firearms = any(FIREARM_WORDS.search(w) for w in template["weapon"])
        mode = "firearms" if firearms else None
        if any(t["sector"] in ARMED_SECTORS for t in targets):
            coded = ("ASSAULT", mode, "Battles", "Armed clash", "19")
        else:
            coded = ("ASSAULT", mode, VAC, "Attack", "18")
    elif kind == "bombing" and completion == "attempted":
        coded = ("ASSAULT", "explosives", STRATEGIC, "Disrupted weapons use", "18")
    else:
        coded = TYPE_CODES[kind]
    keys = ("plover", "plover_mode", "acled_event_type", "acled_sub_event_type", "cameo_root")
    return dict(zip(keys, coded, strict=True))


def location(template: dict[str, Any], text: str) -> dict[str, Any] | None:
    """The most specific gold location that occurs in the article, or None."""
    found = [p for p in template["location"] if p in text]
    if not found:
        return None
    best = max(found, key=lambda p: PLACES[p][0])  # max keeps the first of equal levels
    return {"text": best, "country": COUNTRY_CODES[PLACES[best][1]], "admin1": None}


def fatalities(instance_id: str) -> dict[str, Any]:
    if instance_id in FATALITIES:
        low, high, estimated, words = FATALITIES[instance_id]
        return {"min": low, "max": high, "estimated": estimated, "text": words}
    assert instance_id in NO_DEATHS, f"{instance_id}: fatalities not checked by hand"
    return {"min": 0, "max": 0, "estimated": False, "text": None}


def event(doc_id: str, example: dict[str, Any], text: str) -> dict[str, Any]:
    """One ``EventDraft`` from one MUCSUM example."""
    template, iid = example["template"], example["instance_id"]
    sentences = example["document"]
    actors = [actor(doc_id, s, text) for s in template["perpind"] + template["perporg"]]
    targets = [actor(doc_id, s, text) for s in template["victim"] + template["target"]]
    dates = [d for d in template["date"][:1] if d in text]
    if template["completion"] == "threatened":
        factuality = "planned"
    else:
        factuality = FACTUALITY.get(iid, "asserted")
    return {
        "summary": example["summary"][0],
        **codes(template, targets),
        "actors": actors,
        "targets": targets,
        "date": {"text": dates[0] if dates else None, "resolved": None, "precision": "unknown"},
        "location": location(template, text),
        "fatalities": fatalities(iid),
        "weapons": [w for w in template["weapon"] if w in text],
        "factuality": factuality,
        "evidence": [sentences[i] for i in EVENT_EVIDENCE[iid]],
    }


def _headline(doc_id: str, sentence: str) -> str:
    """The first summary sentence if it has at most 15 words, else its hand-made cut."""
    words = sentence.rstrip(".").split()
    if len(words) <= MAX_HEADLINE_WORDS:
        return " ".join(words)
    headline = HEADLINES[doc_id]
    source = set(WORDS.findall(sentence)) | set(DIGITS.findall(sentence))
    extra = set(WORDS.findall(headline)) | set(DIGITS.findall(headline))
    assert extra <= source, f"{doc_id}: headline words not in the summary: {extra - source}"
    return headline


def missing_support(bullet: str, evidence: list[str]) -> list[str]:
    """Numbers and capitalised words of ``bullet`` that do not occur in ``evidence``."""
    passage = " ".join(evidence)
    numbers = set(DIGITS.findall(passage))
    words = {w.lower() for w in WORDS.findall(passage)}
    missing = [n for n in DIGITS.findall(bullet) if n not in numbers]
    for word in WORDS.findall(bullet):
        needs = word.lower() in NUMBER_WORDS or word != word.lower()
        if needs and word.lower() not in words:
            missing.append(word)
    return missing


def _stems(text: str) -> set[str]:
    """Crude stems (first 5 letters) of the content words and the numbers of ``text``."""
    words = {w[:5] for w in WORDS.findall(text.lower()) if len(w) >= 4 and w not in STOPWORDS}
    return words | set(DIGITS.findall(text))


def best_evidence(bullet: str, sentences: list[str]) -> tuple[int, ...] | None:
    """The 1-2 document sentences that best support ``bullet``, or None if the rule fails.

    First sentence: most content words of the bullet, ties broken by rapidfuzz token_set_ratio.
    A second sentence (the one adding most further content words) is added when it adds at least
    two, or when it supplies a number / capitalised word the first lacks and adds at least one.
    """
    wanted = _stems(bullet)

    def covered(indices: list[int]) -> int:
        return len(wanted & set().union(*(_stems(sentences[i]) for i in indices)))

    def ratio(i: int) -> float:
        return fuzz.token_set_ratio(bullet, sentences[i], processor=utils.default_process)

    order = range(len(sentences))
    first = max(order, key=lambda i: (covered([i]), ratio(i), -i))
    picked = [first]
    rest = [i for i in order if i != first]
    if rest:
        second = max(rest, key=lambda i: (covered([first, i]), ratio(i), -i))
        gain = covered([first, second]) - covered([first])
        pair = [sentences[first], sentences[second]]
        lacking = bool(missing_support(bullet, pair[:1]))
        fixes = lacking and not missing_support(bullet, pair)
        if gain >= 2 or (gain >= 1 and fixes):
            picked.append(second)
    if missing_support(bullet, [sentences[i] for i in picked]):
        return None
    return tuple(sorted(picked))


def bullets(examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sentences = examples[0]["document"]
    chosen: list[dict[str, Any]] = []
    for example in examples:
        for n, summary_sentence in enumerate(example["summary"]):
            key = (example["instance_id"], n)
            if key in SKIPPED_BULLETS or len(chosen) == MAX_BULLETS:
                continue
            picked = BULLET_EVIDENCE.get(key) or best_evidence(summary_sentence, sentences)
            assert picked, f"{key}: no 1-2 sentences support {summary_sentence!r}; skip it"
            evidence = [sentences[i] for i in picked]
            chosen.append({"text": summary_sentence, "evidence": evidence})
    # Pad with verbatim document sentences: first those no bullet cites yet, then any other.
    used = {e for b in chosen for e in b["evidence"]}
    padding = [s for s in sentences if s not in used] + [s for s in sentences if s in used]
    for sentence in padding[: max(0, MIN_BULLETS - len(chosen))]:
        chosen.append({"text": sentence, "evidence": [sentence]})
    return chosen


def quotes(doc_id: str) -> list[dict[str, Any]]:
    return [
        {
            "text": words,
            "speaker": {"name": name, "country": country, "sector": sector, "evidence": evidence},
        }
        for words, name, country, sector, evidence in QUOTES.get(doc_id, [])
    ]


def extraction(doc_id: str, examples: list[dict[str, Any]]) -> dict[str, Any]:
    """The scripted answer for one document."""
    text = article_text(examples)
    first_sentence = examples[0]["summary"][0]
    return {
        "language": "en",
        "events": [event(doc_id, example, text) for example in examples],
        "quotes": quotes(doc_id),
        "summary": {
            "headline": _headline(doc_id, first_sentence),
            "one_sentence": first_sentence,
            "bullets": bullets(examples),
        },
    }


# --------------------------------------------------------------------------- checks


def _check(doc_id: str, answer: dict[str, Any], text: str) -> None:
    """Stop loudly if the answer breaks a rule the project's checks will apply."""

    def verbatim(what: str, value: str | None) -> None:
        assert value is None or value in text, f"{doc_id}: {what} {value!r} is not in the article"

    def iso(what: str, code: str | None) -> None:
        ok = code is None or (pycountry.countries.get(alpha_3=code) and code in country_codes())
        assert ok, f"{doc_id}: {what} country {code!r} is not ISO 3166-1 alpha-3"

    Extraction.model_validate(answer)
    for n, ev in enumerate(answer["events"]):
        where = f"event {n}"
        problems = disagreements(
            ev["plover"], ev["plover_mode"], ev["acled_event_type"],
            ev["acled_sub_event_type"], ev["cameo_root"],
        )  # fmt: skip
        assert not problems, f"{doc_id}: {where}: {problems}"
        for person in ev["actors"] + ev["targets"]:
            verbatim(f"{where} actor evidence", person["evidence"])
            iso(f"{where} actor", person["country"])
        verbatim(f"{where} date", ev["date"]["text"])
        assert (ev["date"]["resolved"] is None) == (ev["date"]["precision"] == "unknown")
        if ev["location"]:
            verbatim(f"{where} place", ev["location"]["text"])
            iso(f"{where} place", ev["location"]["country"])
        verbatim(f"{where} fatalities", ev["fatalities"]["text"])
        assert ev["fatalities"]["min"] <= ev["fatalities"]["max"]
        for passage in ev["evidence"]:
            verbatim(f"{where} evidence", passage)
    for quote in answer["quotes"]:
        verbatim("quote", quote["text"])
        verbatim("quote speaker evidence", quote["speaker"]["evidence"])
        iso("quote speaker", quote["speaker"]["country"])
    summary = answer["summary"]
    assert len(summary["headline"].split()) <= MAX_HEADLINE_WORDS, f"{doc_id}: headline too long"
    assert MIN_BULLETS <= len(summary["bullets"]) <= MAX_BULLETS, f"{doc_id}: bullet count"
    for bullet in summary["bullets"]:
        for passage in bullet["evidence"]:
            verbatim("bullet evidence", passage)
        missing = missing_support(bullet["text"], bullet["evidence"])
        assert not missing, f"{doc_id}: bullet {bullet['text']!r} lacks support for {missing}"


# --------------------------------------------------------------------------- main


def main() -> None:
    sample: dict[str, list[dict[str, Any]]] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    instances = {e["instance_id"] for examples in sample.values() for e in examples}
    for table in (EVENT_EVIDENCE, FATALITIES, NO_DEATHS, FACTUALITY):
        assert set(table) <= instances, f"stale entries: {sorted(set(table) - instances)}"
    assert not set(FATALITIES) & set(NO_DEATHS), "an instance is both in FATALITIES and NO_DEATHS"
    ARTICLES.mkdir(parents=True, exist_ok=True)
    RESPONSES.mkdir(parents=True, exist_ok=True)
    for doc_id, examples in sample.items():
        assert all(e["document"] == examples[0]["document"] for e in examples), doc_id
        text = article_text(examples)
        answer = extraction(doc_id, examples)
        _check(doc_id, answer, text)
        (ARTICLES / f"mucsum-{doc_id}.txt").write_text(text, encoding="utf-8")
        (RESPONSES / f"mucsum-{doc_id}.json").write_text(
            json.dumps(answer, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        print(f"mucsum-{doc_id}: {len(answer['events'])} events")


if __name__ == "__main__":
    main()
