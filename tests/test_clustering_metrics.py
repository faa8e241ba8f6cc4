"""The clustering scores of benchmarks/clustering_metrics.py on hand-computed textbook examples."""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from clustering_metrics import (
    _assignment,
    b_cubed,
    ceaf_e,
    muc,
    pairwise,
    scores,
)

# Pradhan et al. (2014)'s running example without its twinless mentions:
# key {a b c} {d e f g}, response {a b} {c d} {e f g}.
GOLD = dict.fromkeys("abc", "K1") | dict.fromkeys("defg", "K2")
PRED = dict.fromkeys("ab", "R1") | dict.fromkeys("cd", "R2") | dict.fromkeys("efg", "R3")


def test_muc_counts_links() -> None:
    # recall: K1 split in 2 -> 1 of 2 links, K2 split in 2 -> 2 of 3 links; precision: 3 of 4
    got = muc(GOLD, PRED)
    assert got.recall == pytest.approx(3 / 5) and got.precision == pytest.approx(3 / 4)
    # Vilain et al. (1995): key {A B C D}, response {A B} {C D}
    vilain = muc(dict.fromkeys("ABCD", 1), {"A": 1, "B": 1, "C": 2, "D": 2})
    assert vilain.recall == pytest.approx(2 / 3) and vilain.precision == 1.0


def test_b_cubed_averages_over_items() -> None:
    got = b_cubed(GOLD, PRED)
    assert got.precision == pytest.approx(6 / 7)  # 1 1 1/2 1/2 1 1 1
    assert got.recall == pytest.approx(25 / 42)  # 2/3 2/3 1/3 1/4 3/4 3/4 3/4


def test_ceaf_e_takes_the_best_one_to_one_alignment() -> None:
    got = ceaf_e(GOLD, PRED)
    best = 2 * 2 / 5 + 2 * 3 / 7  # K1-R1 and K2-R3
    assert got.recall == pytest.approx(best / 2) and got.precision == pytest.approx(best / 3)
    # greedy (0.9 first) would give 1.0; the optimum pairs the two 0.8 cells
    assert _assignment([[0.9, 0.8], [0.8, 0.1]]) == pytest.approx(1.6)
    assert _assignment([[0.1], [0.7], [0.3]]) == pytest.approx(0.7)  # more rows than columns


def test_pairwise_and_conll() -> None:
    got = pairwise(GOLD, PRED)  # together: ab ef eg fg; gold pairs 3 + 6, predicted 1 + 1 + 3
    assert got.precision == pytest.approx(4 / 5) and got.recall == pytest.approx(4 / 9)
    s = scores(GOLD, PRED)
    assert s["conll_f1"] == pytest.approx((s["muc_f1"] + s["b3_f1"] + s["ceaf_e_f1"]) / 3)
    assert s["incident_count_error"] == pytest.approx(1 / 2)  # 3 predicted for 2


def test_perfect_and_singleton_clusterings() -> None:
    perfect = scores(GOLD, dict(GOLD))
    assert all(perfect[k] == 1.0 for k in ("pairwise_f1", "muc_f1", "b3_f1", "ceaf_e_f1"))
    singletons = scores(GOLD, {i: i for i in GOLD})
    assert singletons["muc_f1"] == 0.0 and singletons["pairwise_f1"] == 0.0
    assert singletons["b3_p"] == 1.0 and singletons["b3_r"] == pytest.approx((3 / 3 + 4 / 4) / 7)
    # all in one cluster: B-cubed recall 1, precision (3*3/7 + 4*4/7) / 7
    lumped = b_cubed(GOLD, dict.fromkeys(GOLD, 0))
    assert lumped.recall == 1.0 and lumped.precision == pytest.approx(25 / 49)


def test_items_must_match() -> None:
    with pytest.raises(ValueError, match="same items"):
        b_cubed(GOLD, {"a": 1})


def test_average_linkage_is_not_single_linkage() -> None:
    from resolve_gvc import average_linkage

    # 0-1 are close, 1-2 moderately, 0-2 not at all: after 0+1 merge, 2's average link is 0.25
    labels = average_linkage(3, {(0, 1): 0.9, (1, 2): 0.5}, threshold=0.3)
    assert labels[0] == labels[1] != labels[2]
    assert len(set(average_linkage(3, {(0, 1): 0.9, (1, 2): 0.7}, threshold=0.3))) == 1
    assert average_linkage(2, {(0, 1): 0.2}, threshold=0.3) == [0, 1]
