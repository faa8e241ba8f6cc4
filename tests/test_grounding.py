"""Alignment of quoted text to article spans, and the records ground() builds from an answer."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import all_spans

from summarizer.grounding import Aligner, clean_quote, ground, normalize
from summarizer.schema import Extraction, Span

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
ARTICLE = (ROOT / "examples" / "centcom-strikes-iraq.txt").read_text(encoding="utf-8")
ANSWER: dict[str, Any] = json.loads(
    (TESTS / "responses" / "centcom-strikes-iraq.json").read_text(encoding="utf-8")
)
PUBLISHED = dt.date(2020, 3, 13)
ALIGNER = Aligner(ARTICLE)
INVENTED = "Iranian drones attacked the US embassy in Kuwait on Sunday."


def _answer() -> dict[str, Any]:
    return copy.deepcopy(ANSWER)


# --------------------------------------------------------------------------- normalize, clean_quote


def test_normalize_folds_and_keeps_original_indices() -> None:
    assert normalize("  A \t “B’s” –\nC\n") == (
        'a "b\'s" - c',
        [2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14],
    )
    assert normalize(" \n ") == ("", [])


@pytest.mark.parametrize(
    ("quote", "cleaned"),
    [
        ("“will not tolerate”", "will not tolerate"),
        ('  "directed"  ', "directed"),
        ("'immediate deescalation'", "immediate deescalation"),
        ("«“nested”»", "nested"),
        ("Iraq’s strength", "Iraq’s strength"),  # only one side: not enclosing
        ("“Daesh,” the statement said", "“Daesh,” the statement said"),
        ('"', '"'),
        ("“”", ""),
    ],
)
def test_clean_quote(quote: str, cleaned: str) -> None:
    assert clean_quote(quote) == cleaned


# --------------------------------------------------------------------------- Aligner


def test_exact_match_offsets() -> None:
    found = ALIGNER.align("Taji military base")
    assert found is not None
    start = ARTICLE.index("Taji military base")
    assert found.span == Span(text="Taji military base", start=start, end=start + 18)
    assert (found.method, found.score) == ("exact", 100.0)


def test_enclosing_quote_marks_are_ignored() -> None:
    found = ALIGNER.align("“immediate deescalation”")
    assert found is not None and found.method == "exact"
    assert found.span.text == "immediate deescalation"


@pytest.mark.parametrize(
    ("quote", "original"),
    [
        ("Wednesday's rocket attack on Iraq's Taji", "Wednesday’s rocket attack on Iraq’s Taji"),
        ('will "not tolerate" direct', "will “not tolerate” direct"),
        ("Baghdad.\nUS warplanes   launched", "Baghdad.\nUS warplanes launched"),
        ("coalition\n forces  following Friday", "coalition forces following Friday"),
        ("kataib HEZBOLLAH militia", "Kataib Hezbollah militia"),
        ("Kurdistan Region - US officials", "Kurdistan Region – US officials"),
    ],
)
def test_normalized_match_returns_the_original_slice(quote: str, original: str) -> None:
    found = ALIGNER.align(quote)
    assert found is not None
    assert found.method == "normalized"
    assert found.span.text == original
    assert ARTICLE[found.span.start : found.span.end] == original
    assert found.span.start == ARTICLE.index(original)


def test_fuzzy_match_with_one_word_changed() -> None:
    original = "US warplanes launched retaliatory strikes against the Iran-backed Kataib Hezbollah"
    found = ALIGNER.align(original.replace("launched", "started"))
    assert found is not None
    assert found.method == "fuzzy"
    assert 90 <= found.score < 100
    assert found.span.text == ARTICLE[found.span.start : found.span.end]
    start = ARTICLE.index(original)
    assert abs(found.span.start - start) <= 3 and abs(found.span.end - (start + len(original))) <= 3


def test_fuzzy_needs_twenty_characters() -> None:
    start = ARTICLE.index("relative quiet since the US")
    twenty = ARTICLE[start : start + 20]
    assert len(twenty) == 20
    one_typo = twenty.replace("quiet", "quiat")
    found = ALIGNER.align(one_typo)
    assert found is not None and found.method == "fuzzy"
    assert ALIGNER.align(one_typo[:-1]) is None  # 19 characters: too short to match fuzzily
    assert ALIGNER.align("Kataib Hezbolah") is None


@pytest.mark.parametrize(
    "quote",
    [
        "US warplanes launched punitive raids against the Iran-backed Hashd al-Shaabi forces",
        INVENTED,
        "",
        "   ",
    ],
)
def test_unmatched_text_gives_none(quote: str) -> None:
    assert ALIGNER.align(quote) is None


def test_longer_than_the_article_gives_none() -> None:
    assert Aligner("Short text.").align("Short text, and then a good deal more besides.") is None


def test_near_picks_the_nearest_occurrence() -> None:
    hits = [m.start() for m in re.finditer("Friday", ARTICLE)]
    assert len(hits) >= 4
    found = ALIGNER.align("Friday")
    assert found is not None and found.span.start == hits[0]
    for target in hits:
        found = ALIGNER.align("Friday", near=target + 10)
        assert found is not None and found.span.start == target
        normalized = ALIGNER.align("FRIDAY", near=target - 10)
        assert normalized is not None and normalized.method == "normalized"
        assert normalized.span == Span(text="Friday", start=target, end=target + 6)


def _substrings(count: int) -> list[str]:
    rng = random.Random(0)
    out = []
    for _ in range(count):
        start = rng.randrange(len(ARTICLE) - 1)
        out.append(ARTICLE[start : rng.randrange(start + 1, min(len(ARTICLE), start + 200) + 1)])
    return out


SUBSTRINGS = _substrings(300)
_SWAP = str.maketrans({"’": "'", "'": "’", "“": '"', "”": '"', '"': "“"})


def test_every_substring_aligns_exactly() -> None:
    for sub in SUBSTRINGS:
        needle = clean_quote(sub)
        found = ALIGNER.align(sub)
        if not needle:
            assert found is None, repr(sub)
            continue
        assert found is not None, repr(sub)
        assert found.method == "exact", repr(sub)
        assert found.span.text == needle == ARTICLE[found.span.start : found.span.end]


def test_every_substring_with_changed_quotes_spaces_and_case_aligns() -> None:
    rng = random.Random(0)
    checked = 0
    for sub in SUBSTRINGS:
        changed = re.sub(r"\s+", lambda _: rng.choice([" ", "  ", "\n", " \t "]), sub)
        changed = changed.translate(_SWAP).swapcase()
        needle = clean_quote(changed)
        if not needle:
            continue
        found = ALIGNER.align(changed)
        assert found is not None, repr(changed)
        assert found.method == ("exact" if needle in ARTICLE else "normalized"), repr(changed)
        assert found.span.text == ARTICLE[found.span.start : found.span.end]
        assert normalize(found.span.text)[0] == normalize(needle)[0], repr(changed)
        checked += found.method == "normalized"
    assert checked > 250


# --------------------------------------------------------------------------- ground


def test_ground_seed_answer() -> None:
    grounded = ground(Extraction.model_validate(ANSWER), ARTICLE, PUBLISHED)

    assert grounded.issues == []
    assert set(grounded.alignment) == {"exact"}
    spans = all_spans([grounded.events, grounded.quotes, grounded.summary])
    assert sum(grounded.alignment.values()) == len(spans) == 79  # 76 + 3 weapons
    for span in spans:
        assert ARTICLE[span.start : span.end] == span.text
    assert [e.id for e in grounded.events] == [f"e{i}" for i in range(1, 8)]
    assert all(e.date.anchor == PUBLISHED for e in grounded.events)
    assert len(grounded.quotes) == len(ANSWER["quotes"])
    assert [a.name for a in grounded.events[0].actors] == ["United States"]


def test_ground_without_publication_date_leaves_anchor_empty() -> None:
    grounded = ground(Extraction.model_validate(ANSWER), ARTICLE, None)
    assert all(e.date.anchor is None for e in grounded.events)


def test_normalized_evidence_keeps_the_article_text() -> None:
    answer = _answer()
    evidence = answer["events"][1]["evidence"]
    evidence[0] = evidence[0].replace("’", "'")
    grounded = ground(Extraction.model_validate(answer), ARTICLE, PUBLISHED)

    assert grounded.issues == []
    assert grounded.alignment["normalized"] == 1
    assert "Wednesday’s rocket attack on Iraq’s" in grounded.events[1].evidence[0].text


def test_unaligned_evidence_is_left_out_and_reported() -> None:
    answer = _answer()
    answer["events"][0]["evidence"][1] = INVENTED
    grounded = ground(Extraction.model_validate(answer), ARTICLE, PUBLISHED)

    assert [s.text for s in grounded.events[0].evidence] == [
        ANSWER["events"][0]["evidence"][0],
        ANSWER["events"][0]["evidence"][2],
    ]
    assert [(i.severity, i.code, i.path) for i in grounded.issues] == [
        ("error", "span_unaligned", "events[0].evidence[1]")
    ]
    assert INVENTED in grounded.issues[0].message
    assert grounded.alignment["unaligned"] == 1


def test_unaligned_actor_is_dropped() -> None:
    answer = _answer()
    answer["events"][1]["targets"][0]["evidence"] = "three Canadians"
    grounded = ground(Extraction.model_validate(answer), ARTICLE, PUBLISHED)

    assert [t.name for t in grounded.events[1].targets] == ["United Kingdom"]
    assert [(i.code, i.path) for i in grounded.issues] == [
        ("span_unaligned", "events[1].targets[0].evidence")
    ]


def test_unaligned_quote_is_dropped() -> None:
    answer = _answer()
    answer["quotes"][1]["text"] = "We demand an immediate ceasefire"
    grounded = ground(Extraction.model_validate(answer), ARTICLE, PUBLISHED)

    texts = [q.text for q in grounded.quotes]
    assert len(texts) == len(ANSWER["quotes"]) - 1
    assert "We demand an immediate ceasefire" not in texts
    assert [(i.code, i.path) for i in grounded.issues] == [("span_unaligned", "quotes[1].text")]


def test_unaligned_date_place_and_fatalities_keep_the_event_without_evidence() -> None:
    answer = _answer()
    event = answer["events"][1]
    event["date"]["text"] = "last Tuesday"
    event["location"]["text"] = "Camp Victory"
    event["fatalities"]["text"] = "killed four soldiers"
    grounded = ground(Extraction.model_validate(answer), ARTICLE, PUBLISHED)

    built = grounded.events[1]
    assert built.date.evidence is None and built.date.text == "last Tuesday"
    assert built.location is not None and built.location.evidence is None
    assert built.fatalities.evidence is None
    assert [i.path for i in grounded.issues] == [
        "events[1].date.text",
        "events[1].location.text",
        "events[1].fatalities.text",
    ]
    assert grounded.alignment["unaligned"] == 3


def test_actor_evidence_is_aligned_near_the_event() -> None:
    grounded = ground(Extraction.model_validate(ANSWER), ARTICLE, PUBLISHED)
    ministry = grounded.events[2]
    near = ministry.evidence[0].start
    uk = ministry.targets[0].evidence
    assert uk is not None and uk.text == "UK"
    hits = [m.start() for m in re.finditer("UK", ARTICLE)]
    assert uk.start == min(hits, key=lambda h: abs(h - near))


def test_whole_word_occurrences_are_preferred() -> None:
    text = "The Iranian-backed militia fired. Iran denied it; USA and US officials spoke."
    found = Aligner(text).align("Iran")
    assert found is not None and found.span.start == text.index("Iran denied")
    found = Aligner(text).align("us")  # normalized match, still a whole word
    assert found is not None and found.span.text == "US" and found.method == "normalized"
    inside = Aligner("Iranian").align("Iran")  # no whole-word occurrence: the substring is kept
    assert inside is not None and inside.span.start == 0


def test_an_event_quoting_words_printed_twice_takes_the_copy_no_earlier_event_holds() -> None:
    """A digest that prints one wire story twice: each copy's event gets its own copy's words
    (before: both landed on the first copy, and the second copy had no event)."""
    story = "A woman was fatally shot in a hunting accident on Sunday."
    text = f"1. Wire story\n{story}\n\n2. Wire story again\n{story}\n"
    first, second = (e.evidence[0].start for e in ground(_twice(story), text, None).events)
    assert (first, second) == (text.index(story), text.rindex(story))
    # a sentence printed once still serves every event that cites it
    once = f"{story} Police arrested her brother."
    assert {e.evidence[0].start for e in ground(_twice(story), once, None).events} == {0}


def _twice(evidence: str) -> Extraction:
    """Two events citing ``evidence`` and nothing else that needs aligning."""
    answer = _answer()
    ev = answer["events"][0]
    ev.update(evidence=[evidence], actors=[], targets=[], location=None, weapons=[])
    ev["date"]["text"] = None
    ev["fatalities"]["text"] = None
    answer.update(events=[ev, copy.deepcopy(ev)], quotes=[])  # bullets: unaligned, not needed
    return Extraction.model_validate(answer)
