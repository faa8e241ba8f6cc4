"""Coreference-style clustering scores: pairwise, MUC, B-cubed, CEAF-e and CoNLL F1.

A clustering is a mapping item -> cluster label (``gold`` and ``predicted`` over the same items).
Definitions (Pradhan et al. 2014, "Scoring Coreference Partitions", the CoNLL-2012 scorer):

- pairwise: precision/recall over the unordered item pairs placed together.
- MUC (Vilain et al. 1995): recall = sum over gold clusters K of (|K| - |p(K)|) / sum (|K| - 1),
  where p(K) is the partition of K by the predicted clusters; precision swaps the roles.
- B-cubed (Bagga & Baldwin 1998): per item, precision = |P(i) & G(i)| / |P(i)| and recall =
  |P(i) & G(i)| / |G(i)|, averaged over items.
- CEAF-e (Luo 2005): the one-to-one alignment of gold and predicted clusters maximising
  sum phi4(K, R) = 2|K & R| / (|K| + |R|); recall = that sum / number of gold clusters,
  precision = / number of predicted clusters.
- CoNLL F1 = mean of the MUC, B-cubed and CEAF-e F1.

A score whose denominator is 0 (e.g. MUC precision of all singletons) is 0. Everything is linear
in the items except CEAF-e, which aligns each connected component of the cluster-overlap graph
separately (components are small unless a clustering lumps everything together).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

Clustering = Mapping[Hashable, Hashable]


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _clusters(labels: Clustering) -> dict[Hashable, set[Hashable]]:
    out: dict[Hashable, set[Hashable]] = defaultdict(set)
    for item, label in labels.items():
        out[label].add(item)
    return out


def _same_items(gold: Clustering, predicted: Clustering) -> None:
    if set(gold) != set(predicted):
        raise ValueError("gold and predicted must cluster the same items")


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def pairwise(gold: Clustering, predicted: Clustering) -> PRF:
    _same_items(gold, predicted)
    joint = Counter((gold[i], predicted[i]) for i in gold)
    together = sum(n * (n - 1) // 2 for n in joint.values())
    gold_pairs = sum(n * (n - 1) // 2 for n in Counter(gold.values()).values())
    pred_pairs = sum(n * (n - 1) // 2 for n in Counter(predicted.values()).values())
    return PRF(_ratio(together, pred_pairs), _ratio(together, gold_pairs))


def _muc_recall(key: Clustering, response: Clustering) -> float:
    num = den = 0
    for members in _clusters(key).values():
        parts = {response[i] for i in members}
        num += len(members) - len(parts)
        den += len(members) - 1
    return _ratio(num, den)


def muc(gold: Clustering, predicted: Clustering) -> PRF:
    _same_items(gold, predicted)
    return PRF(_muc_recall(predicted, gold), _muc_recall(gold, predicted))


def b_cubed(gold: Clustering, predicted: Clustering) -> PRF:
    _same_items(gold, predicted)
    if not gold:
        return PRF(0.0, 0.0)
    joint = Counter((gold[i], predicted[i]) for i in gold)
    gold_size, pred_size = Counter(gold.values()), Counter(predicted.values())
    # each of the n items in cell (g, p) scores n/|P| and n/|G|
    precision = sum(n * n / pred_size[p] for (g, p), n in joint.items()) / len(gold)
    recall = sum(n * n / gold_size[g] for (g, p), n in joint.items()) / len(gold)
    return PRF(precision, recall)


def _assignment(weights: list[list[float]]) -> float:
    """Maximum total weight of a one-to-one assignment (Hungarian method, rows <= columns)."""
    n, m = len(weights), len(weights[0])
    if n > m:
        return _assignment([list(col) for col in zip(*weights, strict=True)])
    inf = float("inf")
    cost = [[-w for w in row] for row in weights]
    u, v, match, way = [0.0] * (n + 1), [0.0] * (m + 1), [0] * (m + 1), [0] * (m + 1)
    for row in range(1, n + 1):
        match[0], col0 = row, 0
        minv, used = [inf] * (m + 1), [False] * (m + 1)
        while True:
            used[col0] = True
            r, delta, col1 = match[col0], inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    c = cost[r - 1][j - 1] - u[r] - v[j]
                    if c < minv[j]:
                        minv[j], way[j] = c, col0
                    if minv[j] < delta:
                        delta, col1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[match[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            col0 = col1
            if match[col0] == 0:
                break
        while col0:
            prev = way[col0]
            match[col0] = match[prev]
            col0 = prev
    return sum(weights[match[j] - 1][j - 1] for j in range(1, m + 1) if match[j])


def ceaf_e(gold: Clustering, predicted: Clustering) -> PRF:
    _same_items(gold, predicted)
    gold_c, pred_c = _clusters(gold), _clusters(predicted)
    overlap = Counter((gold[i], predicted[i]) for i in gold)
    # connected components of the bipartite overlap graph (union-find over labels)
    parent: dict[tuple[str, Hashable], tuple[str, Hashable]] = {}

    def find(x: tuple[str, Hashable]) -> tuple[str, Hashable]:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for g, p in overlap:
        parent[find(("g", g))] = find(("p", p))
    components: dict[tuple[str, Hashable], tuple[list[Hashable], list[Hashable]]] = defaultdict(
        lambda: ([], [])
    )
    for g in gold_c:
        components[find(("g", g))][0].append(g)
    for p in pred_c:
        components[find(("p", p))][1].append(p)
    total = 0.0
    for gs, ps in components.values():
        weights = [
            [2 * overlap.get((g, p), 0) / (len(gold_c[g]) + len(pred_c[p])) for p in ps] for g in gs
        ]
        total += _assignment(weights)
    return PRF(_ratio(total, len(pred_c)), _ratio(total, len(gold_c)))


def scores(gold: Clustering, predicted: Clustering) -> dict[str, float]:
    """Every score as a flat dict (``*_p``, ``*_r``, ``*_f1``, ``conll_f1``, counts)."""
    out: dict[str, float] = {}
    parts = {"pairwise": pairwise, "muc": muc, "b3": b_cubed, "ceaf_e": ceaf_e}
    for name, metric in parts.items():
        prf = metric(gold, predicted)
        out |= {f"{name}_p": prf.precision, f"{name}_r": prf.recall, f"{name}_f1": prf.f1}
    out["conll_f1"] = (out["muc_f1"] + out["b3_f1"] + out["ceaf_e_f1"]) / 3
    n_gold, n_pred = len(set(gold.values())), len(set(predicted.values()))
    out["incidents"], out["predicted_incidents"] = n_gold, n_pred
    out["incident_count_error"] = _ratio(abs(n_pred - n_gold), n_gold)
    return out
