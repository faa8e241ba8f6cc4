"""Every check rule, each on an answer with one fault injected, plus the validator around them."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from summarizer.checks import (
    CheckedExtraction,
    DateReading,
    Review,
    check,
    check_date,
    check_quote,
    read_date,
    reask_message,
    review,
)
from summarizer.grounding import Aligner, ground
from summarizer.schema import Actor, Event, Extraction, Issue, Quote, Summary

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
RESPONSES = TESTS / "responses"
SEED = "centcom-strikes-iraq"
PUBLISHED = dt.date(2020, 3, 13)


def _article(article_id: str) -> str:
    path = ROOT / "examples" / f"{article_id}.txt"
    if not path.exists():
        path = TESTS / "data" / "articles" / f"{article_id}.txt"
    return path.read_text(encoding="utf-8")


def _published(article_id: str) -> dt.date | None:
    meta = ROOT / "examples" / f"{article_id}.json"
    published = (
        json.loads(meta.read_text(encoding="utf-8")).get("published") if meta.exists() else None
    )
    return dt.date.fromisoformat(published) if published else None


ARTICLE = _article(SEED)
ANSWER: dict[str, Any] = json.loads((RESPONSES / f"{SEED}.json").read_text(encoding="utf-8"))


def _review(answer: dict[str, Any], published: dt.date | None = PUBLISHED) -> Review:
    return review(Extraction.model_validate(answer), ARTICLE, published)


def _found(result: Review) -> list[tuple[str, str, str]]:
    return sorted((i.severity, i.code, i.path) for i in result.issues)


def _inject(faults: dict[str, Any]) -> dict[str, Any]:
    """A copy of the seed answer with ``{"events.0.date.resolved": value, ...}`` set."""
    answer = copy.deepcopy(ANSWER)
    for dotted, value in faults.items():
        *parents, last = (int(k) if k.isdigit() else k for k in dotted.split("."))
        target: Any = answer
        for key in parents:
            target = target[key]
        target[last] = value
    return answer


# --------------------------------------------------------------------------- read_date


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("Friday", DateReading("day", weekday=4)),
        ("early hours of Friday", DateReading("day", weekday=4)),
        ("January 3", DateReading("day", day=3, month=1)),
        ("3 february", DateReading("day", day=3, month=2)),
        ("March 2020", DateReading("month", month=3, year=2020)),
        ("2019", DateReading("year", year=2019)),
        ("last week", DateReading("week")),
        ("this month", DateReading("month")),
        ("yesterday", DateReading("day", offset=-1)),
        ("today", DateReading("day", offset=0)),
        ("in the last six months", DateReading()),
        ("Jan. 3, 2020", DateReading("day", day=3, month=1, year=2020)),
        ("Friday, 13 March 2020", DateReading("day", weekday=4, day=13, month=3, year=2020)),
        ("the 3rd of Sept.", DateReading("day", day=3, month=9)),
    ],
)
def test_read_date(text: str, reading: DateReading) -> None:
    assert read_date(text) == reading


# --------------------------------------------------------------------------- review on faults


def test_seed_answer_has_no_issue() -> None:
    result = _review(ANSWER)
    assert result.issues == [] and result.errors == []


FAULTS: dict[str, tuple[dict[str, Any], list[tuple[str, str, str]]]] = {
    "weekday": (
        {"events.0.date.resolved": "2020-03-12"},
        [("error", "date_weekday", "events[0].date")],
    ),
    "future": (
        {"events.0.date.resolved": "2020-03-20"},
        [("error", "date_future", "events[0].date")],
    ),
    "future-planned": (
        {"events.0.date.resolved": "2020-03-20", "events.0.factuality": "planned"},
        [],
    ),
    "future-hypothetical": (
        {"events.0.date.resolved": "2020-03-20", "events.0.factuality": "hypothetical"},
        [],
    ),
    "month-for-friday": (
        {"events.0.date.precision": "month"},
        [("error", "date_precision", "events[0].date")],
    ),
    "null-with-day": (
        {"events.0.date.resolved": None},
        [("error", "date_precision", "events[0].date")],
    ),
    "date-with-unknown": (
        {"events.0.date.precision": "unknown"},
        [("error", "date_precision", "events[0].date")] * 2,  # resolved set; 'Friday' is a day
    ),
    "january-3-as-4": (
        {"events.4.date.resolved": "2020-01-04"},
        [("error", "date_mismatch", "events[4].date")],
    ),
    "weekday-three-weeks-back": (
        {"events.0.date.resolved": "2020-02-21"},
        [("error", "date_far", "events[0].date")],
    ),
    "weekday-a-week-back": ({"events.0.date.resolved": "2020-03-06"}, []),
    "country-xxx": (
        {"events.0.actors.0.country": "XXX"},
        [("error", "country_unknown", "events[0].actors[0].country")],
    ),
    "country-two-letters": (
        {"events.2.targets.1.country": "US"},
        [("error", "country_unknown", "events[2].targets[1].country")],
    ),
    "place-country-xxx": (
        {"events.0.location.country": "XXX"},
        [("error", "country_unknown", "events[0].location.country")],
    ),
    "speaker-country-xxx": (
        {"quotes.1.speaker.country": "XXX"},
        [("error", "country_unknown", "quotes[1].speaker.country")],
    ),
    "country-uno": ({"events.0.actors.0.country": "UNO"}, []),
    "country-igo": ({"events.0.targets.0.country": "IGO"}, []),
    "cameo-disagrees": (
        {"events.0.cameo_root": "11"},
        [("error", "codes_disagree", "events[0]")],
    ),
    "acled-disagrees": (
        {
            "events.2.acled_event_type": "Explosions/Remote violence",
            "events.2.acled_sub_event_type": "Air/drone strike",
        },
        [("error", "codes_disagree", "events[2]")],
    ),
    "acled-sub-of-other-type": (
        {"events.0.acled_sub_event_type": "Armed clash"},
        [("error", "acled_sub_mismatch", "events[0]")],
    ),
    "acled-type-only": (
        {"events.0.acled_sub_event_type": None},
        [("error", "acled_incomplete", "events[0]")],
    ),
    "acled-sub-only": (
        {"events.0.acled_event_type": None},
        [("error", "acled_incomplete", "events[0]")],
    ),
    "mode-of-other-category": (
        {"events.0.plover_mode": "demo"},
        [("error", "plover_mode_unknown", "events[0]")],
    ),
    "fatalities-min-over-max": (
        {"events.1.fatalities.min": 4},
        [
            ("error", "fatalities_range", "events[1].fatalities"),
            ("error", "fatalities_unsupported", "events[1].fatalities"),  # text states 3
        ],
    ),
    "headline-16-words": (
        {
            "summary.headline": "US strikes Kataib Hezbollah weapons sites in Iraq after deadly "
            "Taji rocket attack on Wednesday night"
        },
        [("error", "headline_too_long", "summary.headline")],
    ),
    "headline-15-words": (
        {
            "summary.headline": "US strikes Kataib Hezbollah weapons sites in Iraq after deadly "
            "Taji rocket attack on Wednesday"
        },
        [],
    ),
    "sentence-names-tehran": (
        {"summary.one_sentence": "US warplanes struck Kataib Hezbollah in Iraq, angering Tehran."},
        [("error", "summary_unsupported", "summary.one_sentence")],
    ),
    "bullet-number": (
        {
            "summary.bullets.0.text": "US warplanes struck seven Kataib Hezbollah weapons "
            "facilities across Iraq in the early hours of Friday."
        },
        [("error", "bullet_unsupported", "summary.bullets[0]")],
    ),
    "bullet-name-not-in-evidence": (
        {
            "summary.bullets.0.text": "US warplanes struck five Kataib Hezbollah weapons "
            "facilities across Iraq in the early hours of Friday, after Soleimani's killing."
        },
        [("error", "bullet_evidence_mismatch", "summary.bullets[0]")],
    ),
    "quote-word-changed": (
        {
            "quotes.4.text": "We assessed that each location stored weapons that would enable "
            "deadly operations against US and coalition forces in Iraq"
        },
        [("warning", "span_fuzzy", "quotes[4].text"), ("error", "quote_not_verbatim", "quotes[4]")],
    ),
    "quote-straight-apostrophe": (
        {"quotes.5.text": "The illusion of normality is just that: it's an illusion"},
        [],
    ),
    "speaker-far": (
        {"quotes.9.speaker.evidence": "Pentagon officials"},
        [
            ("error", "speaker_far", "quotes[9].speaker"),
            ("error", "name_unsupported", "quotes[9].speaker.name"),  # McKenzie is not named
        ],
    ),
    "speaker-paragraph-before": ({"quotes.10.speaker.evidence": "he said, adding"}, []),
    "speaker-named-by-other-words": (  # the paragraph before names Kataib Hezbollah, not him
        {"quotes.10.speaker.evidence": "Kataib Hezbollah"},
        [("error", "name_unsupported", "quotes[10].speaker.name")],
    ),
    "speaker-paragraph-after": (
        {"quotes.9.speaker.evidence": "the general"},
        [("error", "speaker_far", "quotes[9].speaker")],
    ),
    "actor-renamed": (
        {"events.0.targets.0.name": "Shining Path"},  # evidence still 'Kataib Hezbollah'
        [("error", "name_unsupported", "events[0].targets[0].name")],
    ),
    "actor-other-country": (
        {"events.0.actors.0.name": "United Kingdom"},  # evidence 'US warplanes'
        [("error", "name_unsupported", "events[0].actors[0].name")],
    ),
    "actor-other-country-same-words": (
        {"events.2.actors.0.name": "Iranian Ministry of Foreign Affairs"},  # 'Iraq's Foreign ...'
        [("error", "name_unsupported", "events[2].actors[0].name")],
    ),
    "actor-by-its-acronym": ({"events.3.actors.0.name": "UNAMI"}, []),
    "actor-by-demonym": ({"events.1.targets.0.name": "Americans"}, []),  # 'two Americans'
    "speaker-renamed": (
        {"quotes.6.speaker.name": "Kenneth F. McKenzie Jr."},  # evidence 'Ahmed al-Sahaf'
        [("error", "name_unsupported", "quotes[6].speaker.name")],
    ),
    "speaker-described-renamed": (  # 'CENTCOM Commander' refers to a name the text must give
        {"quotes.0.speaker.name": "Abu Mahdi al-Muhandis"},
        [("error", "name_unsupported", "quotes[0].speaker.name")],
    ),
    "evidence-invented": (
        {"events.0.evidence.1": "Iranian drones attacked the US embassy in Kuwait on Sunday."},
        [("error", "span_unaligned", "events[0].evidence[1]")],
    ),
    "language-xx": ({"language": "xx"}, [("warning", "language_unknown", "language")]),
    "language-upper-case": ({"language": "EN"}, []),
    "no-events": ({"events": []}, [("warning", "no_events", "events")]),
}


@pytest.mark.parametrize(("faults", "expected"), FAULTS.values(), ids=FAULTS.keys())
def test_injected_fault_gives_exactly_its_issue(
    faults: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    result = _review(_inject(faults))
    assert _found(result) == sorted(expected), [i.message for i in result.issues]
    assert all(i.message for i in result.issues)


def test_seed_answer_without_publication_date_has_no_issue() -> None:
    assert _review(ANSWER, None).issues == []


# --------------------------------------------------------------------------- check_date directly


def _event(text: str | None, resolved: str | None, precision: str) -> Event:
    event = ground(Extraction.model_validate(ANSWER), ARTICLE, PUBLISHED).events[0]
    date = event.date.model_copy(
        update={
            "text": text,
            "resolved": None if resolved is None else dt.date.fromisoformat(resolved),
            "precision": precision,
        }
    )
    return event.model_copy(update={"date": date})


@pytest.mark.parametrize(
    ("text", "resolved", "precision", "codes"),
    [
        ("yesterday", "2020-03-12", "day", []),
        ("yesterday", "2020-03-13", "day", ["date_mismatch"]),
        ("today", "2020-03-13", "day", []),
        ("today", "2020-03-11", "day", ["date_mismatch"]),
        ("March 2020", "2020-03-01", "month", []),
        ("March 2020", "2020-03-01", "day", ["date_precision"]),
        ("March 2020", "2019-03-01", "month", ["date_mismatch"]),
        ("2019", "2019-01-01", "year", []),
        ("2019", "2020-01-01", "year", ["date_mismatch"]),
        ("last week", "2020-03-02", "week", []),
        ("last week", "2020-03-02", "day", ["date_precision"]),
        ("this month", "2020-03-01", "month", []),
        ("Jan. 3, 2020", "2020-01-03", "day", []),
        ("Friday, 3 January", "2020-01-03", "day", []),
        ("Thursday, 3 January", "2020-01-03", "day", ["date_weekday"]),
        ("in the last six months", "2019-09-13", "month", []),
        ("in the last six months", None, "unknown", []),
        (None, "2020-03-10", "day", []),
        (None, None, "day", ["date_precision"]),
    ],
)
def test_check_date(
    text: str | None, resolved: str | None, precision: str, codes: list[str]
) -> None:
    issues = list(check_date(_event(text, resolved, precision), "events[0]", PUBLISHED))
    assert [i.code for i in issues] == codes, [i.message for i in issues]
    assert all(i.path == "events[0].date" for i in issues)


def test_date_anchor_must_be_the_publication_date() -> None:
    event = _event("Friday", "2020-03-13", "day")
    assert list(check_date(event, "events[0]", PUBLISHED)) == []
    codes = [i.code for i in check_date(event, "events[0]", dt.date(2020, 3, 14))]
    assert codes == ["date_anchor"]


# --------------------------------------------------------------------------- every answer passes


@pytest.mark.parametrize("article_id", sorted(p.stem for p in RESPONSES.glob("*.json")))
def test_hand_checked_answer_has_no_error(article_id: str) -> None:
    answer = Extraction.model_validate_json((RESPONSES / f"{article_id}.json").read_bytes())
    result = review(answer, _article(article_id), _published(article_id))
    warnings = [f"{i.path}: {i.code}: {i.message}" for i in result.issues]
    assert result.errors == [], warnings


# --------------------------------------------------------------------------- check() on records


def _grounded() -> tuple[list[Event], list[Quote], Summary]:
    grounded = ground(Extraction.model_validate(ANSWER), ARTICLE, PUBLISHED)
    return grounded.events, grounded.quotes, grounded.summary


def test_altered_span_text_is_a_span_mismatch() -> None:
    events, quotes, summary = _grounded()
    assert check(events, quotes, summary, ARTICLE, PUBLISHED) == []
    span = events[0].evidence[1]
    events[0].evidence[1] = span.model_copy(update={"text": span.text.upper()})
    issues = check(events, quotes, summary, ARTICLE, PUBLISHED)
    assert [(i.severity, i.code) for i in issues] == [("error", "span_mismatch")]


def test_reversed_span_is_a_span_mismatch() -> None:
    events, quotes, summary = _grounded()
    quotes[0].span.start, quotes[0].span.end = quotes[0].span.end, quotes[0].span.start
    quotes[0].span.text = ""
    issues = check(events, quotes, summary, ARTICLE, PUBLISHED)
    assert "span_mismatch" in [i.code for i in issues]  # text[5:2] == "" == span.text


@pytest.mark.parametrize(
    "path",
    ["events[0].evidence[1]", "quotes[1].span", "summary.bullets[0].evidence[0]"],
)
def test_span_mismatch_names_the_record_path(path: str) -> None:
    events, quotes, summary = _grounded()
    if path.startswith("events"):
        events[0].evidence[1].start += 1
    elif path.startswith("quotes"):
        quotes[1].span.start += 1
    else:
        summary.bullets[0].evidence[0].start += 1
    issues = check(events, quotes, summary, ARTICLE, PUBLISHED)
    assert [(i.code, i.path) for i in issues] == [("span_mismatch", path)]


# --------------------------------------------------------------------------- speaker paragraphs


def _speaker_issues(text: str, quote: str, speaker: str) -> list[str]:
    aligner = Aligner(text)
    quoted, named = aligner.align(quote), aligner.align(speaker)
    assert quoted is not None and named is not None
    record = Quote(
        text=quote,
        speaker=Actor(name=speaker, country="USA", sector="MIL", evidence=named.span),
        span=quoted.span,
    )
    return [i.code for i in check_quote(record, "quotes[0]", text)]


LINES = [
    "General Jane Roe briefed reporters at the base.",
    "“We will stay as long as we are needed,” she said.",
    "Other officials declined to comment.",
    "Mayor John Doe said the town was calm.",
]


@pytest.mark.parametrize(
    ("speaker", "codes"),
    [("General Jane Roe", []), ("Mayor John Doe", ["speaker_far"])],
)
@pytest.mark.parametrize("separator", ["\n", "\n\n"], ids=["lines", "blank-lines"])
def test_speaker_in_paragraph_before_the_quote(
    separator: str, speaker: str, codes: list[str]
) -> None:
    text = separator.join(LINES)
    assert _speaker_issues(text, "We will stay as long as we are needed", speaker) == codes


def test_speaker_named_in_paragraph_before_and_also_later() -> None:
    text = "\n".join(
        [
            "General Jane Roe spent the morning touring the northern positions with her staff.",
            "“We will stay,” a spokesman said.",
            "General Jane Roe left.",
        ]
    )
    extraction = copy.deepcopy(ANSWER)
    extraction["quotes"] = [
        {
            "text": "We will stay",
            "speaker": {
                "name": "Jane Roe",
                "country": "USA",
                "sector": "MIL",
                "evidence": "General Jane Roe",
            },
        }
    ]
    quote = ground(Extraction.model_validate(extraction), text, None).quotes[0]
    assert [i.code for i in check_quote(quote, "quotes[0]", text)] == []


# --------------------------------------------------------------------------- CheckedExtraction


CONTEXT = {"article": ARTICLE, "published": "2020-03-13"}


def test_checked_extraction_stores_its_review() -> None:
    checked = CheckedExtraction.model_validate(ANSWER, context=CONTEXT)
    assert isinstance(checked._review, Review)
    assert checked._review.issues == []
    assert all(e.date.anchor == PUBLISHED for e in checked._review.grounded.events)


def test_checked_extraction_raises_with_the_reask_message() -> None:
    answer = _inject({"quotes.1.text": "We demand an immediate ceasefire"})
    with pytest.raises(pydantic.ValidationError) as raised:
        CheckedExtraction.model_validate(answer, context=CONTEXT)
    message = str(raised.value)
    assert "- quotes[1].text: 'We demand an immediate ceasefire' does not occur" in message
    assert "[span_unaligned]" in message


def test_checked_extraction_keeps_warnings() -> None:
    checked = CheckedExtraction.model_validate(_inject({"language": "xx"}), context=CONTEXT)
    assert checked._review is not None
    assert [i.code for i in checked._review.issues] == ["language_unknown"]


def test_checked_extraction_without_context_checks_structure_only() -> None:
    answer = _inject({"quotes.1.text": "We demand an immediate ceasefire"})
    checked = CheckedExtraction.model_validate(answer)
    assert checked._review is None
    assert checked.quotes[1].text == "We demand an immediate ceasefire"
    with pytest.raises(pydantic.ValidationError, match="plover"):
        CheckedExtraction.model_validate(_inject({"events.0.plover": "BOMB"}))


def test_checked_extraction_without_publication_date() -> None:
    context = {"article": ARTICLE, "published": None}
    checked = CheckedExtraction.model_validate(ANSWER, context=context)
    assert checked._review is not None
    assert all(e.date.anchor is None for e in checked._review.grounded.events)


def test_reask_message_lists_each_error() -> None:
    errors = [
        Issue(severity="error", path="quotes[1].text", code="span_unaligned", message="not found"),
        Issue(severity="error", path="events[0].date", code="date_far", message="too far"),
    ]
    lines = reask_message(errors).splitlines()
    assert lines[0].startswith("2 problem(s)")
    assert lines[1:] == [
        "- quotes[1].text: not found [span_unaligned]",
        "- events[0].date: too far [date_far]",
    ]
