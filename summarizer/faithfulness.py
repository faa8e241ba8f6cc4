"""Model-free summary faithfulness: what a summary sentence claims that its support does not state.

A *claim* (a headline, a one-sentence summary, a bullet) is checked against a *support* text (the
article, or a bullet's cited evidence). Each :class:`Finding` names the unsupported words:

- ``number``: a number or quantity (digits, or number words such as "seven", "twenty-one",
  "two hundred", read by text2num's ``alpha2digit``) that the support does not state, in digits
  or in words.
- ``date``: a capitalised month or weekday name the support does not contain (in full or
  abbreviated).
- ``name``: a capitalised word (not a function word, not sentence-initial-only common words
  that the support has in lower case) whose stem the support does not contain, and that does not
  name a country the support names (:func:`countries`: "Iranian" ~ "Iran", "US" ~ "American").
- ``quote``: a phrase in quotation marks that :class:`~summarizer.grounding.Aligner` cannot align
  in the support (exact, normalised, or fuzzy at 90 for phrases of 20 characters or more, so a
  corrected typo passes and an invented phrase does not).
- ``negation``: the claim is negated ("not", "never", "denied"...) and the support is not; only
  meaningful against a short support such as cited evidence (:func:`negation_flip`).

Names are recognised by their capital letters. In text that is all lower case (FRANK's system
summaries, MUCSUM) a name cannot be told from a word without a model, so only numbers and quoted
phrases are checked there; :func:`novel_words` is the lexical fallback the benchmarks measure.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pycountry
from text_to_num import alpha2digit

from summarizer.grounding import aligner, normalize

Kind = Literal["number", "date", "name", "quote", "negation"]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS_SPLIT = re.compile(r"\b(\d{1,3}), (?=\d{3}\b)")  # '50, 000' (tokenised text)
_WORD_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")  # 'five-year-old', 'twenty-one'
_VAGUE = re.compile(r"\b(?:tens|hundreds|thousands|millions|billions)\b")  # not a figure
_DOZEN = re.compile(r"\bdozens?\b")
_ORDINAL = re.compile(r"\b\d+(?:st|nd|rd|th)\b")
_SCALED = re.compile(r"\b(\d+(?:\.\d+)?) (1000|1000000|1000000000)\b")  # '1.5 million'
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]+")
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]")
MONTHS = (
    "january february march april may june july august september october november december".split()
)
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_QUOTED = re.compile(r"[\"“”«»„]([^\"“”«»„]+)[\"“”«»„]")
_NEGATION = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without|den(?:y|ies|ied|ial)|"
    r"refus(?:e|es|ed|al)|reject(?:s|ed)?|false(?:ly)?)\b|n't\b"
)
FUNCTION_WORDS = frozenset(
    """a an the and but or nor so yet for of in on at to by from with without after before during
    since until while as about against among between into through over under he she it they we you
    i his her its their our your this that these those there here who what when where which why how
    all both each some any no not none one also however meanwhile according following despite
    although though because if then than more most many much several other another such only
    earlier later last next new""".split()
)
"""Capitalised words that are never taken for names (sentence openers and connectives)."""


@dataclass(frozen=True)
class Finding:
    """One unsupported piece of a claim: what kind it is and the words themselves."""

    kind: Kind
    words: str

    def __str__(self) -> str:
        return f"{self.words} ({self.kind})"


def digits(text: str) -> str:
    """``text`` in lower case with its number words written in digits ('two hundred' -> '200',
    'a five-year-old' -> 'a 5 year old', '50, 000' -> '50,000', 'a dozen' -> 'a 12'). Ordinals
    spelled out ('first') and vague plurals ('hundreds of') are not figures and are left out."""
    t = _THOUSANDS_SPLIT.sub(r"\1,", text.lower())
    t = _DOZEN.sub("12", _VAGUE.sub("many", _WORD_HYPHEN.sub(" ", t)))
    written = set(_ORDINAL.findall(t))
    t = alpha2digit(t, "en", threshold=0)
    t = _ORDINAL.sub(lambda m: m[0] if m[0] in written else "#", t)
    return _SCALED.sub(_scaled, t)


def _scaled(m: re.Match[str]) -> str:
    value = float(m[1]) * int(m[2])
    return str(int(value)) if value.is_integer() else str(value)


def numbers(text: str) -> set[str]:
    """Numbers in ``text`` as digit strings: '1,200' -> '1200', 'twenty-one' -> '21'."""
    return {n.replace(",", "") for n in _NUMBER.findall(digits(text))}


# --------------------------------------------------------------------------- countries

COUNTRY_ALIASES = {
    "USA": "US, U.S., USA, U.S.A., America, American, United States of America",
    "GBR": "UK, U.K., Britain, Great Britain, British, Briton, England, Scotland, Scottish, Wales, "
    "Welsh",
    "ARE": "UAE, U.A.E., Emirates, Emirati",
    "COD": "DRC, DR Congo, Congolese",
    "COG": "Congolese",
    "FRA": "French, Frenchman",
    "NLD": "Holland, Dutch",
    "CHE": "Swiss",
    "DEU": "German",
    "GRC": "Greek",
    "IRL": "Irish",
    "DNK": "Danish",
    "SWE": "Swedish, Swede",
    "NOR": "Norwegian",
    "FIN": "Finnish",
    "POL": "Polish",
    "ESP": "Spanish, Spaniard",
    "PRT": "Portuguese",
    "TUR": "Turkey, Turkish, Turk",
    "THA": "Thai",
    "PHL": "Philippine, Filipino",
    "SAU": "Saudi",
    "NZL": "New Zealander",
    "CYP": "Cypriot",
    "CZE": "Czech Republic, Czech",
    "MMR": "Burma, Burmese",
    "SLV": "Salvadoran, Salvadorean",
    "KOR": "South Korea",
    "PRK": "North Korea",
    "RUS": "Russia, Soviet",
    "SYR": "Syria",
    "VNM": "Vietnam",
    "LAO": "Laos, Lao",
    "CIV": "Ivory Coast, Ivorian",
    "PSE": "Palestine, Palestinian",
    "SOM": "Somali",
    "ARG": "Argentine",
    "BIH": "Bosnia, Bosnian, Herzegovina",
    "MKD": "Macedonia, Macedonian",
}
"""Names pycountry lacks (abbreviations, short names) and demonyms the suffix rule below does not
make. A form in capitals ('US') is matched in capitals only, so the pronoun 'us' is no country."""
_DEMONYM_SUFFIXES = ("n", "an", "ian", "i", "ese", "ean", "vian", "nian")
"""Demonyms made from a name, the name less a final vowel, y or s, or less '-on' or '-um':
Iran-ian, Iraq-i, Chin(a)-ese, Ital(y)-ian, Leban(on)-ese, Peru-vian; '-(i)stan' goes: Afghan."""


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _key(text: str) -> str:
    return " ".join(re.findall(r"[A-Za-z]+", _fold(text)))


@functools.cache
def _country_forms() -> tuple[dict[str, frozenset[str]], int]:
    """Every country form (folded words joined by spaces; capitals kept for abbreviations) with
    the ISO alpha-3 codes it may mean, and the most words a form has."""
    forms: dict[str, set[str]] = {}
    names: list[tuple[str, str]] = []
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            if hasattr(c, attr):
                full = getattr(c, attr)
                names += [(c.alpha_3, full), (c.alpha_3, re.split(r"[,(]", full)[0])]
    names += [(code, n) for code, aliases in COUNTRY_ALIASES.items() for n in aliases.split(", ")]
    for code, name in names:
        key = _key(name)
        if name.replace(".", "").isupper():
            forms.setdefault(key, set()).add(code)
            continue
        key = key.lower()
        stems = {key, key[:-1] if key[-1] in "aeiouys" else key}
        stems.add(key[:-2] if key.endswith(("on", "um")) else key)
        made = {stem + suffix for stem in stems if len(stem) >= 4 for suffix in _DEMONYM_SUFFIXES}
        if key.endswith("stan"):
            made.add(key.removesuffix("stan").removesuffix("i"))
        for form in {key} | made:
            forms.setdefault(form, set()).add(code)
    longest = max(len(f.split()) for f in forms)
    return {f: frozenset(codes) for f, codes in forms.items()}, longest


@functools.cache
def _first_words() -> frozenset[str]:
    """The first word of every country form (lower case), to pass over other words at once."""
    return frozenset(f.split()[0].lower() for f in _country_forms()[0])


def country_mentions(text: str) -> list[tuple[list[str], frozenset[str]]]:
    """Each mention of a country in ``text`` (a name, an alias or a demonym, in the singular or
    plural): its words as written, and the ISO alpha-3 codes it may mean."""
    forms, longest = _country_forms()
    first = _first_words()
    words = re.findall(r"[A-Za-z]+", _fold(text))
    found, i = [], 0
    while i < len(words):
        lower = words[i].lower()
        if lower not in first and lower.removesuffix("s") not in first:
            i += 1
            continue
        for n in range(min(longest, len(words) - i), 0, -1):
            key = " ".join(words[i : i + n])
            codes = next(
                (
                    forms[k]
                    for k in (key, key.lower(), key.lower().removesuffix("s"))
                    if k in forms and (k == key or not k.isupper())
                ),
                None,
            )
            if codes and (n > 1 or len(key) > 1):
                found.append((words[i : i + n], codes))
                i += n
                break
        else:
            i += 1
    return found


@functools.lru_cache(maxsize=64)
def countries(text: str) -> frozenset[str]:
    """The ISO alpha-3 codes of the countries ``text`` names: 'Iranian' and 'Iran' give IRN, 'US'
    and 'Americans' give USA."""
    return frozenset(code for _, codes in country_mentions(text) for code in codes)


# --------------------------------------------------------------------------- names and evidence

ROLE_WORDS = frozenset(
    """general gen commander cmdr president minister spokesman spokeswoman spokesperson official
    officials ambassador envoy leader chief head secretary director governor mayor premier prime
    king queen prince emir sheikh colonel col lieutenant lt captain capt major sergeant admiral
    senator lawmaker deputy representative officer source sources he she they him them said says
    saying told tells added adding stated""".split()
)
"""Words that refer to an actor without naming it ('the general', 'the salvadoran president')."""


def _words(text: str) -> list[str]:
    """Content words of ``text``, folded, without country names, demonyms or single letters."""
    skip = {w.lower() for words, _ in country_mentions(text) for w in words}
    found = re.findall(r"[a-z0-9]+", _fold(text).lower())
    return [w for w in found if len(w) > 1 and w not in FUNCTION_WORDS and w not in skip]


def _same_word(a: str, b: str) -> bool:
    """The same word, or the same stem ('Americans' ~ 'American', 'proxies' ~ 'proxy')."""
    common = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return a == b or (common >= 4 and common >= max(len(a), len(b)) - 2)


def _acronym(word: str, text: str) -> bool:
    """``word`` is the initials of consecutive words of ``text`` ('UNAMI' for 'United Nations
    Assistance Mission for Iraq': function words may be skipped)."""
    every = re.findall(r"[a-z]+", _fold(text).lower())
    content = [w for w in every if w not in FUNCTION_WORDS]
    return len(word) >= 2 and any(
        len(ws) > 1 and word in "".join(w[0] for w in ws) and (len(word) > 2 or len(ws) == 2)
        for ws in (every, content)
    )


@functools.lru_cache(maxsize=8)
def _article_words(article: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", _fold(article).lower()))


def name_mismatch(name: str, evidence: str, article: str) -> str | None:
    """Why ``evidence`` does not support ``name`` (None when it does).

    The evidence supports the name when they share a word or its stem, or name the same country
    (by name, alias or demonym: 'United States' ~ 'US warplanes' ~ 'two Americans'), or one is
    the acronym of the other ('UNAMI'), and do not name different countries. Evidence that only
    describes ('the general', 'CENTCOM Commander', 'he'; :data:`ROLE_WORDS`, acronyms, countries)
    supports a name the article gives elsewhere: which one it refers to takes coreference, so a
    wrong name that occurs in the article passes there.
    """
    said, cited = countries(name), countries(evidence)
    if said and cited and not said & cited:
        return (
            f"{name!r} is of {'/'.join(sorted(said))} but its evidence {evidence!r} names "
            f"{'/'.join(sorted(cited))}"
        )
    own, ev = _words(name), _words(evidence)
    if not own:  # the name is a country, or only function words
        supported = bool(said & cited) or not said
    else:
        supported = (
            (not ev and bool(said & cited))  # 'US Army' for 'US'
            or any(_same_word(a, b) for a in own for b in ev)
            or any(_acronym(w, evidence) for w in own)
            or any(_acronym(w, name) for w in ev)
        )
    if supported:
        return None
    capitals = {w.lower() for w in re.findall(r"\b[A-Z]{2,}\b", evidence)}
    describes = any(w in ROLE_WORDS for w in ev) or not (ev or cited)  # 'he', not 'US'
    if (
        own
        and describes
        and all(w in ROLE_WORDS or w in capitals for w in ev)
        and max(own, key=len) in _article_words(article)  # not just the 'al' of 'al-Muhandis'
    ):
        return None
    return f"{name!r} is not what its evidence {evidence!r} names"


@functools.lru_cache(maxsize=8)
def _support_numbers(support: str) -> frozenset[str]:
    """:func:`numbers` of a support text, kept for the last few (one article backs many claims)."""
    return frozenset(numbers(support))


def _dates(text: str) -> set[str]:
    return {w.lower() for w in _CAPITALISED.findall(text) if w.lower() in MONTHS + WEEKDAYS}


def _date_supported(word: str, folded: str) -> bool:
    return re.search(rf"\b(?:{word}|{word[:3]})\b", folded) is not None


def names(text: str) -> set[str]:
    """Capitalised words that may be names (not function words, months, weekdays or numbers)."""
    return {
        token
        for token in _CAPITALISED.findall(text)
        if token.lower() not in FUNCTION_WORDS
        and token.lower() not in MONTHS + WEEKDAYS
        and not numbers(token)
    }


def _stem_supported(word: str, folded: str) -> bool:
    """``word`` (or its stem: 'Iranian' ~ 'Iran', 'Americans' ~ 'American') occurs in ``folded``."""
    stem = word.lower()
    key = stem[: max(4, len(stem) - 2)] if len(stem) > 4 else stem
    return re.search(rf"\b{re.escape(key)}", folded) is not None


def quotes(text: str) -> list[str]:
    """Phrases the claim puts in quotation marks."""
    return [q.strip(" ,.;:") for q in _QUOTED.findall(text) if q.strip(" ,.;:")]


def unsupported(claim: str, support: str, allowed: Iterable[str] = ()) -> list[Finding]:
    """What ``claim`` states that ``support`` does not: numbers, dates, names, quoted phrases.

    ``allowed`` holds lower-case words and digit strings accepted without support (for example
    the parts of the publication date).
    """
    allowed = {a.lower() for a in allowed}
    support_aligner = aligner(support)
    folded = support_aligner.folded
    found = [
        Finding("number", n)
        for n in sorted(numbers(claim) - _support_numbers(support) - allowed, key=_numeric)
    ]
    found += [
        Finding("date", d)
        for d in sorted(_dates(claim))
        if d not in allowed and not _date_supported(d, folded)
    ]
    missing = {n for n in names(claim) if n.lower() not in allowed}
    missing = {n for n in missing if not _stem_supported(n, folded)}
    if missing:  # a country the support names by another form: 'Iranian' ~ 'Iran'
        named = countries(support)
        missing -= {w for words, codes in country_mentions(claim) if codes & named for w in words}
    found += [Finding("name", n) for n in sorted(missing)]
    found += [Finding("quote", q) for q in quotes(claim) if support_aligner.align(q) is None]
    return found


def _numeric(token: str) -> tuple[float, str]:
    try:
        return float(token), token
    except ValueError:
        return float("inf"), token


def negation_flip(claim: str, support: str) -> Finding | None:
    """A negation in the claim that the support lacks. (The reverse, a negated support under a
    positive claim, is mostly paraphrase: 'denied that X' for 'X did not happen'.)"""
    said = _NEGATION.search(claim.lower())
    if said and not _NEGATION.search(aligner(support).folded):
        return Finding("negation", said.group(0))
    return None


def date_words(dates: Iterable[dt.date]) -> set[str]:
    """Numbers and names a summary may use for a known date (publication or resolved event)."""
    words: set[str] = set()
    for d in dates:
        words |= {str(d.day), str(d.year), d.strftime("%B").lower(), d.strftime("%A").lower()}
    return words


def novel_words(claim: str, support: str, *, min_letters: int = 3) -> list[str]:
    """Content words of ``claim`` whose stem ``support`` lacks: a lexical signal for lower-cased
    text, where names cannot be recognised. Paraphrase also produces novel words, so the product
    checks do not use it; the faithfulness benchmark measures it."""
    folded = normalize(support)[0]
    found: list[str] = []
    for word in _WORD.findall(normalize(claim)[0]):
        word = word.split("'")[0]
        if len(word) < min_letters or word in FUNCTION_WORDS or word in _STOP_VERBS:
            continue
        if word not in found and not _stem_supported(word, folded):
            found.append(word)
    return found


_STOP_VERBS = frozenset(
    "is are was were be been being has have had do does did will would can could may might must "
    "shall should said says say told unk".split()
)
