"""The model-free faithfulness checker and the record rules added with it, each passing and
failing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import RESPONSES, load_example

from summarizer.checks import check_fatalities, check_language, review
from summarizer.faithfulness import (
    Finding,
    countries,
    date_words,
    name_mismatch,
    negation_flip,
    novel_words,
    numbers,
    unsupported,
)
from summarizer.schema import DateRef, Event, Extraction, Fatalities

SOURCE = (
    "Rockets killed two Americans and one Briton at Camp Taji on Wednesday, the Pentagon said. "
    'General McKenzie called it "a deliberate attack" and said 1,200 troops would stay in March.'
)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("two Americans and one Briton", {"2", "1"}),
        ("1,200 troops", {"1200"}),
        ("twenty-one people", {"21"}),
        ("3.5 km", {"3.5"}),
        ("dozens of people", {"12"}),
        ("no figure at all", set()),
        ("two hundred people", {"200"}),  # was {2, 100}
        ("one hundred and twenty", {"120"}),
        ("a five-year-old boy", {"5"}),  # a number word inside a hyphenated compound
        ("a thirty-five-year-old man", {"35"}),
        ("50, 000 troops", {"50000"}),  # tokenised thousands, was {50, 000}
        ("in 2019, 200 people", {"2019", "200"}),  # a year and a figure stay apart
        ("1.8 million voters", {"1800000"}),
        ("three million", {"3000000"}),
        ("hundreds of people", set()),  # vague, not a figure
        ("the first and second attacks", set()),  # ordinals spelled out are not figures
        ("the 21st attack", {"21"}),
    ],
)
def test_numbers(text: str, found: set[str]) -> None:
    assert numbers(text) == found


@pytest.mark.parametrize(
    ("claim", "findings"),
    [
        ("The Pentagon said two Americans died at Taji.", []),
        ("1200 troops will stay, McKenzie said.", []),  # digits vs the source's 1,200
        ("The Americans were killed on Wednesday in March.", []),
        ("McKenzie called it 'a deliberate attack'.", []),  # single quotes are not checked
        ('McKenzie called it "a deliberate attack".', []),
        ("Three Americans died.", [Finding("number", "3")]),
        ("1,300 troops will stay.", [Finding("number", "1300")]),
        ("The rockets struck on Thursday.", [Finding("date", "thursday")]),
        ("The rockets struck in April.", [Finding("date", "april")]),
        ("The Kremlin said two Americans died.", [Finding("name", "Kremlin")]),
        ('McKenzie called it "a cowardly attack".', [Finding("quote", "a cowardly attack")]),
        (
            'Seven Britons died in Basra, "a massacre", on Friday.',
            [
                Finding("number", "7"),
                Finding("date", "friday"),
                Finding("name", "Basra"),  # 'Britons' is supported by the stem 'Briton'
                Finding("quote", "a massacre"),
            ],
        ),
    ],
)
def test_unsupported(claim: str, findings: list[Finding]) -> None:
    assert unsupported(claim, SOURCE) == findings


@pytest.mark.parametrize(
    ("claim", "support", "missing"),
    [
        ("Iranian drones struck.", "Iran sent drones.", []),  # the README's promise
        ("Iraqi officials spoke.", "Officials in Iraq spoke.", []),
        ("The Salvadoran president spoke.", "El Salvador's president spoke.", []),
        ("Afghan forces fired.", "Forces in Afghanistan fired.", []),
        ("Two Americans died.", "Two US soldiers died.", []),
        ("US troops left.", "American troops left.", []),
        ("The United States said so.", "The U.S. said so.", []),
        ("Chinese ships sailed.", "Ships from China sailed.", []),
        ("Iranian drones struck.", "Iraq sent drones.", ["Iranian"]),
        ("Syrian troops fired.", "Troops fired.", ["Syrian"]),
        ("The United Kingdom said so.", "The U.S. said so.", ["Kingdom", "United"]),
    ],
)
def test_a_demonym_or_alias_is_supported_by_its_country(
    claim: str, support: str, missing: list[str]
) -> None:
    assert [f.words for f in unsupported(claim, support) if f.kind == "name"] == missing


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("US warplanes and two Americans", {"USA"}),
        ("let us go", set()),  # the pronoun, not the country
        ("the U.S. and the UK", {"USA", "GBR"}),
        ("Iranian General Qasem Soleimani", {"IRN"}),
        ("Lebanese, Italian and Peruvian troops", {"LBN", "ITA", "PER"}),
        ("Afghan and Kazakh officials", {"AFG", "KAZ"}),
        ("the salvadoran president", {"SLV"}),
        ("Côte d'Ivoire", {"CIV"}),
        ("power poles on the green", set()),  # no country in common words
    ],
)
def test_countries(text: str, codes: set[str]) -> None:
    assert countries(text) == codes


def test_a_number_word_in_a_hyphenated_compound_must_be_supported() -> None:
    source = "A 5-year-old boy was among the two hundred people hurt."
    assert unsupported("A five-year-old boy was hurt.", source) == []
    assert unsupported("Two hundred people were hurt.", source) == []
    assert unsupported("A six-year-old boy was hurt.", source) == [Finding("number", "6")]
    assert unsupported("Two people were hurt.", source) == [Finding("number", "2")]


def test_allowed_words_need_no_support() -> None:
    claim = "On Friday 13 March 2020 two Americans had died."
    assert [f.words for f in unsupported(claim, SOURCE)] == ["13", "2020", "friday"]
    assert unsupported(claim, SOURCE, date_words([dt.date(2020, 3, 13)])) == []


def test_quoted_phrase_with_a_corrected_typo_is_supported() -> None:
    source = 'ferreyros, alias "the kind of the machinery industry."'
    assert unsupported('"the king of the machinery industry,"', source) == []
    assert unsupported('"the king of the oil industry"', source) == [
        Finding("quote", "the king of the oil industry")
    ]


def test_lower_cased_text_checks_numbers_and_quotes_only() -> None:
    claim = "cerezo met 4 ambassadors in madrid"
    assert unsupported(claim, "cerezo met the diplomatic corps") == [Finding("number", "4")]


@pytest.mark.parametrize(
    ("claim", "support", "flip"),
    [
        ("The army did not attack the farm.", "The army attacked the farm.", "not"),
        ("The army never attacked.", "The army attacked.", "never"),
        ("The army denied the attack.", "The army attacked.", "denied"),
        ("The army didn't attack.", "The army attacked.", "n't"),
        ("The army did not attack the farm.", "The army denied attacking the farm.", None),
        ("The army attacked the farm.", "The army attacked the farm.", None),
        ("The army denied the attack.", "The attack was not against the farm.", None),
    ],
)
def test_negation_flip(claim: str, support: str, flip: str | None) -> None:
    found = negation_flip(claim, support)
    assert (found.words if found else None) == flip


def test_novel_words() -> None:
    assert novel_words("the rockets killed two americans", SOURCE) == []
    assert novel_words("mortars wounded many marines at taji", SOURCE) == [
        "mortars",
        "wounded",
        "marines",
    ]


def _event(
    lo: int, hi: int, text: str | None, estimated: bool = False
) -> Event:  # only fatalities matter here
    return Event(
        id="e1",
        summary="s",
        plover="ASSAULT",
        plover_mode=None,
        acled_event_type=None,
        acled_sub_event_type=None,
        cameo_root="18",
        actors=[],
        targets=[],
        date=DateRef(text=None, resolved=None, precision="unknown"),
        location=None,
        fatalities=Fatalities(min=lo, max=hi, estimated=estimated, text=text),
        weapons=[],
        factuality="asserted",
        evidence=[],
    )


@pytest.mark.parametrize(
    ("lo", "hi", "text", "estimated", "codes"),
    [
        (0, 0, None, False, []),
        (3, 3, "killed two Americans and one Briton", False, []),
        (2, 3, "killed two Americans and one Briton", False, []),
        (4, 4, "killed two Americans and one Briton", False, ["fatalities_unsupported"]),
        (1, 1, "the death of a civilian", False, []),
        (2, 2, "the death of a civilian", False, ["fatalities_unsupported"]),
        (3, 3, "judge diaz and two of her bodyguards were assassinated", False, []),
        (7, 7, "the assassination of six jesuits", False, ["fatalities_unsupported"]),
        (6, 6, "the assassination of six jesuits", False, []),
        (5, 5, None, False, ["fatalities_unsupported"]),
        (10, 10, None, True, []),  # ACLED estimate for deaths without a number
        (12, 12, "dozens were killed", False, []),
        (5, 3, "between three and five died", False, ["fatalities_range"]),
        (200, 200, "two hundred people were killed", False, []),
        (2, 2, "two hundred people were killed", False, ["fatalities_unsupported"]),
    ],
)
def test_check_fatalities(
    lo: int, hi: int, text: str | None, estimated: bool, codes: list[str]
) -> None:
    issues = list(check_fatalities(_event(lo, hi, text, estimated), "events[0]"))
    assert [i.code for i in issues] == codes, [i.message for i in issues]
    assert all(i.path == "events[0].fatalities" for i in issues)


@pytest.mark.parametrize(("code", "warned"), [("en", False), ("ES", False), ("xx", True)])
def test_check_language(code: str, warned: bool) -> None:
    assert [i.code for i in check_language(code)] == (["language_unknown"] if warned else [])


def test_a_bullet_negated_against_its_evidence_is_an_error() -> None:
    text, meta = load_example("centcom-strikes-iraq")
    answer = json.loads((RESPONSES / "centcom-strikes-iraq.json").read_text(encoding="utf-8"))
    published = dt.date.fromisoformat(meta["published"])
    assert review(Extraction.model_validate(answer), text, published).issues == []
    answer["summary"]["bullets"][0]["text"] = (
        "US warplanes did not strike five Kataib Hezbollah weapons facilities across Iraq."
    )
    issues = review(Extraction.model_validate(answer), text, published).issues
    assert [(i.code, i.path) for i in issues] == [("bullet_negation", "summary.bullets[0]")]
    assert issues[0].message.endswith(": not")


ARTICLE = "Gen. Kenneth McKenzie spoke. Salvadoran President José Napoleón Duarte spoke too."


@pytest.mark.parametrize(
    ("name", "evidence", "supported"),
    [
        ("Kataib Hezbollah", "Kataib Hezbollah", True),
        ("Shining Path", "Kataib Hezbollah", False),
        ("United States", "US warplanes", True),  # alias
        ("United States", "two Americans", True),  # demonym
        ("United Kingdom", "one Briton", True),
        ("United Kingdom", "US warplanes", False),  # another country
        ("Iran", "Kataib Hezbollah", False),
        ("Iranian Foreign Ministry", "Iraq's Foreign Ministry", False),  # same words, other country
        ("UNAMI", "The United Nations Assistance Mission for Iraq", True),  # acronym
        ("United Nations Assistance Mission for Iraq", "UNAMI", True),  # and back
        ("Kenneth F. McKenzie Jr.", "Gen.Kenneth F McKenzie Jr.", True),
        ("Kenneth F. McKenzie Jr.", "McKenzie", True),  # a surname
        ("Kenneth F. McKenzie Jr.", "the general", True),  # a description; he is named elsewhere
        ("Kenneth F. McKenzie Jr.", "CENTCOM Commander", True),
        ("jose napoleon duarte", "the salvadoran president", True),
        ("José Napoleón Duarte", "Duarte", True),
        ("Abu Mahdi al-Muhandis", "the general", False),  # a description of no one in the text
        ("guerrillas", "terrorists", False),
        ("man", "woman", False),
        ("Iran's proxies", "its proxies", True),
        ("US Army", "US", True),
        ("Kenneth F. McKenzie Jr.", "US", False),  # a country is no description of a person
        ("Qasem Soleimani", "one Briton", False),
        ("Iran", "the general", False),
        ("dagoberto rodriguez", "edwin rodrigo teneda parreno", False),  # not one stem
    ],
)
def test_name_mismatch(name: str, evidence: str, supported: bool) -> None:
    found = name_mismatch(name, evidence, ARTICLE)
    assert (found is None) == supported, found
