"""The code tables (PLOVER, ACLED, CAMEO) and the rules that tie them together."""

from __future__ import annotations

import pytest

from summarizer.taxonomy import (
    ACLED,
    ACLED_SUB_TO_TYPE,
    ACLED_TO_PLOVER,
    CAMEO_ROOTS,
    CAMEO_TO_PLOVER,
    PLOVER,
    PLOVER_SECTORS,
    country_codes,
    disagreements,
)


def test_table_sizes() -> None:
    assert len(PLOVER) == 16
    assert len(PLOVER_SECTORS) == len(set(PLOVER_SECTORS)) == 25
    assert len(ACLED) == 6
    assert sum(len(subs) for subs in ACLED.values()) == 25
    assert list(CAMEO_ROOTS) == [f"{i:02d}" for i in range(1, 21)]


def test_every_code_is_mapped_to_plover_categories() -> None:
    assert set(ACLED_TO_PLOVER) == set(ACLED_SUB_TO_TYPE)
    assert set(CAMEO_TO_PLOVER) == set(CAMEO_ROOTS)
    mapped = set().union(*ACLED_TO_PLOVER.values(), *CAMEO_TO_PLOVER.values())
    assert mapped <= set(PLOVER)


def test_acled_sub_to_type_inverts_acled() -> None:
    assert len(ACLED_SUB_TO_TYPE) == 25  # no sub-type belongs to two types
    for event_type, subs in ACLED.items():
        for sub in subs:
            assert ACLED_SUB_TO_TYPE[sub] == event_type


@pytest.mark.parametrize(
    ("plover", "mode", "acled_type", "acled_sub", "cameo"),
    [
        ("ASSAULT", "aerial", "Explosions/Remote violence", "Air/drone strike", "19"),
        ("ACCUSE", "disapprove", None, None, "11"),
        ("REQUEST", None, None, None, "02"),
        ("PROTEST", "demo", "Protests", "Peaceful protest", "14"),
        ("RETREAT", "ceasefire", "Strategic developments", "Agreement", "08"),
    ],
)
def test_consistent_codings_have_no_disagreement(
    plover: str, mode: str | None, acled_type: str | None, acled_sub: str | None, cameo: str
) -> None:
    assert disagreements(plover, mode, acled_type, acled_sub, cameo) == []


@pytest.mark.parametrize(
    ("plover", "mode", "acled_type", "acled_sub", "cameo", "code"),
    [
        ("BOMB", None, None, None, "19", "plover_unknown"),
        ("ASSAULT", "demo", None, None, "19", "plover_mode_unknown"),
        ("AGREE", "visit", None, None, "03", "plover_mode_unknown"),
        ("ASSAULT", None, "Battles", None, "19", "acled_incomplete"),
        ("ASSAULT", None, None, "Armed clash", "19", "acled_incomplete"),
        ("ASSAULT", None, "Skirmish", "Armed clash", "19", "acled_unknown"),
        ("ASSAULT", None, "Battles", "Air/drone strike", "19", "acled_sub_mismatch"),
        ("ASSAULT", None, "Protests", "Peaceful protest", "19", "codes_disagree"),
        ("ASSAULT", None, None, None, "11", "codes_disagree"),
        ("ASSAULT", None, None, None, "01", "codes_disagree"),
        ("ASSAULT", None, None, None, "21", "cameo_unknown"),
        ("ASSAULT", None, None, None, "1", "cameo_unknown"),
    ],
)
def test_each_inconsistency_has_its_code(
    plover: str,
    mode: str | None,
    acled_type: str | None,
    acled_sub: str | None,
    cameo: str,
    code: str,
) -> None:
    found = disagreements(plover, mode, acled_type, acled_sub, cameo)
    assert [c for c, _ in found] == [code], found
    assert all(message for _, message in found)


def test_all_disagreements_are_reported_together() -> None:
    found = disagreements("ASSAULT", "demo", "Protests", "Peaceful protest", "11")
    assert [c for c, _ in found] == ["plover_mode_unknown", "codes_disagree", "codes_disagree"]


def test_country_codes() -> None:
    codes = country_codes()
    assert {"USA", "IRQ", "GBR", "IRN", "UNO", "IGO"} <= codes
    assert "XXX" not in codes
    assert "US" not in codes
