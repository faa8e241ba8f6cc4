"""Model-free summary faithfulness: what a summary sentence claims that its support does not state.

A *claim* (a headline, a one-sentence summary, a bullet) is checked against a *support* text (the
article, or a bullet's cited evidence). Each :class:`Finding` names the unsupported words:

- ``number``: a number or quantity (digits, or number words such as "seven", "twenty-one")
  that the support does not state, in digits or in words.
- ``date``: a capitalised month or weekday name the support does not contain (in full or
  abbreviated).
- ``name``: a capitalised word (not a function word, not sentence-initial-only common words
  that the support has in lower case) whose stem the support does not contain.
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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from summarizer.grounding import aligner, normalize

Kind = Literal["number", "date", "name", "quote", "negation"]

_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
_NUMBER_WORDS |= {"ninety": 90, "hundred": 100, "thousand": 1000, "dozen": 12, "dozens": 12}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+(?:-[a-z]+)?")
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


def numbers(text: str) -> set[str]:
    """Numbers in ``text`` as digit strings: '1,200' -> '1200', 'twenty-one' -> '21'."""
    found = set()
    for token in _NUMBER.findall(text.lower()):
        if token[0].isdigit():
            found.add(token.replace(",", ""))
            continue
        parts = token.split("-")
        if all(p in _NUMBER_WORDS for p in parts):
            found.add(str(sum(_NUMBER_WORDS[p] for p in parts)))
    return found


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
    found += [
        Finding("name", n)
        for n in sorted(names(claim))
        if n.lower() not in allowed and not _stem_supported(n, folded)
    ]
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
