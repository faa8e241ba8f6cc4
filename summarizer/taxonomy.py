"""Event-coding vocabularies (PLOVER, ACLED, CAMEO) and the one table that ties them together.

Sources: PLOVER manual draft 2.0 (16 categories, modes, sectors, actor codes), ACLED codebook
(6 event types / 25 sub-event types), CAMEO root codes and the CAMEO-to-PLOVER mapping. The notes
in ``shared/reference/event-standards.md`` summarise them.

Every agreement rule between the three vocabularies lives in :data:`ACLED_TO_PLOVER` and
:data:`CAMEO_TO_PLOVER`; :func:`disagreements` is the only function that reads them.
"""

from __future__ import annotations

import functools

import pycountry

# PLOVER category -> modes (manual draft 2.0). Order follows the four quads.
# fmt: off
PLOVER: dict[str, tuple[str, ...]] = {
    "AGREE": (),
    "CONSULT": ("visit", "third-party", "multilateral", "phone"),
    "SUPPORT": (),
    "CONCEDE": (),
    "COOPERATE": (),
    "AID": (),
    "RETREAT": ("withdraw", "release", "disarm", "ceasefire", "access", "resign"),
    "REQUEST": ("assist", "change", "yield", "meet"),
    "REJECT": ("assist", "change", "yield", "meet"),
    "ACCUSE": ("disapprove", "investigate", "allege"),
    "THREATEN": ("restrict", "arrest", "relations", "expel", "territory", "violence"),
    "PROTEST": ("demo", "riot", "strike", "hunger", "boycott", "obstruct", "vandalize"),
    "SANCTION": ("convict", "expel", "withdraw", "discontinue"),
    "MOBILIZE": ("troops", "weapons", "police", "militia"),
    "COERCE": (
        "seize", "restrict", "censor", "curfew", "martial-law", "arrest", "deport", "withhold",
        "misinformation", "cyber",
    ),
    "ASSAULT": (
        "abduct", "beat", "torture", "sexual", "targeted", "destroy", "primitive", "firearms",
        "explosives", "suicide-attack", "aerial", "drone", "heavy-weapons", "crowd-control",
        "unconventional",
    ),
}
# fmt: on

# fmt: off
PLOVER_SECTORS: tuple[str, ...] = (
    "COP", "GOV", "JUD", "LEG", "MIL", "PRM", "PTY", "REB", "SPY", "UAF", "UNK", "AGR", "BUS",
    "CRM", "CVL", "EDU", "ELI", "JRN", "LAB", "MED", "REF", "OPP", "PRE", "REL", "SOC",
)
# fmt: on

# PLOVER actor codes for actors that are not states.
IGO_CODES: dict[str, str] = {
    "IGO": "intergovernmental organisation",
    "UNO": "United Nations",
    "EUR": "European Union",
    "NGO": "non-governmental organisation",
    "ISM": "international militant / transnational armed group",
    "IMG": "international media group",
    "MNC": "multinational corporation",
    "KOS": "Kosovo (PLOVER code)",
}

# fmt: off
CAMEO_ROOTS: dict[str, str] = {
    "01": "Make public statement", "02": "Appeal", "03": "Express intent to cooperate",
    "04": "Consult", "05": "Engage in diplomatic cooperation",
    "06": "Engage in material cooperation", "07": "Provide aid", "08": "Yield",
    "09": "Investigate", "10": "Demand", "11": "Disapprove", "12": "Reject", "13": "Threaten",
    "14": "Protest", "15": "Exhibit force posture", "16": "Reduce relations", "17": "Coerce",
    "18": "Assault", "19": "Fight", "20": "Use unconventional mass violence",
}
# fmt: on

# fmt: off
ACLED: dict[str, tuple[str, ...]] = {
    "Battles": (
        "Armed clash", "Government regains territory", "Non-state actor overtakes territory",
    ),
    "Explosions/Remote violence": (
        "Chemical weapon", "Air/drone strike", "Suicide bomb", "Shelling/artillery/missile attack",
        "Remote explosive/landmine/IED", "Grenade",
    ),
    "Violence against civilians": (
        "Sexual violence", "Attack", "Abduction/forced disappearance",
    ),
    "Protests": (
        "Peaceful protest", "Protest with intervention", "Excessive force against protesters",
    ),
    "Riots": (
        "Violent demonstration", "Mob violence",
    ),
    "Strategic developments": (
        "Agreement", "Arrests", "Change to group/activity", "Disrupted weapons use",
        "Headquarters or base established", "Looting/property destruction",
        "Non-violent transfer of territory", "Other",
    ),
}
# fmt: on

_ANY = frozenset(PLOVER)

# The one mapping table. ACLED sub-event type -> PLOVER categories it can be coded as.
ACLED_TO_PLOVER: dict[str, frozenset[str]] = {
    "Armed clash": frozenset({"ASSAULT"}),
    "Government regains territory": frozenset({"ASSAULT", "COERCE"}),
    "Non-state actor overtakes territory": frozenset({"ASSAULT", "COERCE"}),
    **dict.fromkeys(ACLED["Explosions/Remote violence"], frozenset({"ASSAULT"})),
    "Sexual violence": frozenset({"ASSAULT"}),
    "Attack": frozenset({"ASSAULT"}),
    "Abduction/forced disappearance": frozenset({"ASSAULT", "COERCE"}),
    "Peaceful protest": frozenset({"PROTEST"}),
    "Protest with intervention": frozenset({"PROTEST", "COERCE"}),
    "Excessive force against protesters": frozenset({"ASSAULT", "COERCE"}),
    "Violent demonstration": frozenset({"PROTEST", "ASSAULT"}),
    "Mob violence": frozenset({"ASSAULT", "PROTEST"}),
    "Agreement": frozenset({"AGREE", "RETREAT", "CONCEDE", "COOPERATE"}),
    "Arrests": frozenset({"COERCE"}),
    "Change to group/activity": _ANY,
    "Disrupted weapons use": frozenset({"ASSAULT", "COERCE", "MOBILIZE"}),
    "Headquarters or base established": frozenset({"MOBILIZE"}),
    "Looting/property destruction": frozenset({"ASSAULT", "COERCE", "PROTEST"}),
    "Non-violent transfer of territory": frozenset({"RETREAT", "CONCEDE"}),
    "Other": _ANY,
}

# CAMEO root -> PLOVER categories (CAMEO2PLOVER; 08 splits into CONCEDE 081-083 and RETREAT
# 084-087). PLOVER drops 01 (statements); we keep 02 (appeals) under REQUEST, which PLOVER's
# REQUEST category absorbed from CAMEO's appeal/demand pair.
CAMEO_TO_PLOVER: dict[str, frozenset[str]] = {
    "01": frozenset(),
    "02": frozenset({"REQUEST"}),
    "03": frozenset({"AGREE"}),
    "04": frozenset({"CONSULT"}),
    "05": frozenset({"SUPPORT"}),
    "06": frozenset({"COOPERATE"}),
    "07": frozenset({"AID"}),
    "08": frozenset({"CONCEDE", "RETREAT"}),
    "09": frozenset({"ACCUSE"}),
    "10": frozenset({"REQUEST"}),
    "11": frozenset({"ACCUSE"}),
    "12": frozenset({"REJECT"}),
    "13": frozenset({"THREATEN"}),
    "14": frozenset({"PROTEST"}),
    "15": frozenset({"MOBILIZE"}),
    "16": frozenset({"SANCTION"}),
    "17": frozenset({"COERCE"}),
    "18": frozenset({"ASSAULT"}),
    "19": frozenset({"ASSAULT"}),
    "20": frozenset({"ASSAULT"}),
}

ACLED_SUB_TO_TYPE: dict[str, str] = {sub: t for t, subs in ACLED.items() for sub in subs}


@functools.cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-3 codes plus PLOVER's supranational codes."""
    return frozenset(c.alpha_3 for c in pycountry.countries) | frozenset(IGO_CODES)


def disagreements(
    plover: str,
    plover_mode: str | None,
    acled_type: str | None,
    acled_sub: str | None,
    cameo_root: str,
) -> list[tuple[str, str]]:
    """Return ``(code, message)`` pairs for every way the three codings contradict each other."""
    problems: list[tuple[str, str]] = []
    if plover not in PLOVER:
        problems.append(("plover_unknown", f"{plover!r} is not one of PLOVER's 16 categories"))
    elif plover_mode is not None and plover_mode not in PLOVER[plover]:
        modes = ", ".join(PLOVER[plover]) or "none"
        problems.append(
            ("plover_mode_unknown", f"mode {plover_mode!r} is not a mode of {plover} ({modes})")
        )
    if (acled_type is None) != (acled_sub is None):
        problems.append(
            (
                "acled_incomplete",
                "acled_event_type and acled_sub_event_type must both be set or both null",
            )
        )
    elif acled_type is not None and acled_sub is not None:
        if acled_type not in ACLED:
            problems.append(("acled_unknown", f"{acled_type!r} is not an ACLED event type"))
        elif acled_sub not in ACLED[acled_type]:
            problems.append(
                (
                    "acled_sub_mismatch",
                    f"{acled_sub!r} is not a sub-event type of {acled_type!r} "
                    f"({'; '.join(ACLED[acled_type])})",
                )
            )
        elif plover in PLOVER and plover not in ACLED_TO_PLOVER[acled_sub]:
            allowed = ", ".join(sorted(ACLED_TO_PLOVER[acled_sub]))
            problems.append(
                (
                    "codes_disagree",
                    f"ACLED {acled_sub!r} is coded in PLOVER as {allowed}, not {plover}",
                )
            )
    if cameo_root not in CAMEO_ROOTS:
        problems.append(("cameo_unknown", f"{cameo_root!r} is not a CAMEO root code (01-20)"))
    elif plover in PLOVER and plover not in CAMEO_TO_PLOVER[cameo_root]:
        allowed = ", ".join(sorted(CAMEO_TO_PLOVER[cameo_root])) or "no PLOVER category"
        problems.append(
            (
                "codes_disagree",
                f"CAMEO {cameo_root} ({CAMEO_ROOTS[cameo_root]}) maps to {allowed}, not {plover}",
            )
        )
    return problems
