"""The model-free faithfulness checker scored against human labels: FRANK and MUCSUM.

FRANK (valid split, 671 system summaries of 149 CNN/DM and XSum articles): a summary is faithful
when its human ``Factuality`` is 1.0. The checker flags a summary when
:func:`summarizer.faithfulness.unsupported` finds anything in it against the article (the same
function the pipeline's ``summary_unsupported`` / ``bullet_unsupported`` checks call). Reported:
precision and recall of the flags for "unfaithful", balanced accuracy, per dataset, per finding
kind, and recall per FRANK error type. For comparison, the lexical fallback
:func:`~summarizer.faithfulness.novel_words` (content words absent from the article, >= 2), which
the product does not use.

MUCSUM (dev split, 191 human event summaries): all are taken as faithful to their own document;
the same summary checked against another document of the split is the unfaithful case (a
synthetic "wrong source" label, not a human one).

    python benchmarks/faithfulness_frank.py   # prints tables, writes results/faithfulness.json
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from summarizer.faithfulness import novel_words, unsupported

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ERROR_TYPES = ["EntE", "CircE", "OutE", "RelE", "GramE", "CorefE", "LinkE", "Other"]
MIN_NOVEL = 2


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def detokenize(summary: str) -> str:
    """Undo FRANK's tokenisation (``\\'``, `` 's``, ``-lrb-``, PTB and backtick quotes); drop
    the systems' unknown-word tokens (``UNK``, ``[UNK]``, ``<unk>``), which carry no claim."""
    text = summary.replace("\\'", "'").replace("-lrb-", "(").replace("-rrb-", ")")
    text = re.sub(r"\[UNK\]|<unk>|\bUNK\b", "", text)
    text = re.sub(r"``\s*(.+?)\s*''", r'"\1"', text)  # PTB quotes
    text = re.sub(r"`\s*(.+?)\s*'(?=\s|$|[.,;:])", r'"\1"', text)
    return re.sub(r" (['’](?:s|re|ve|ll|d|m)\b|n't|[.,;:!?)])", r"\1", text)


Flagger = Callable[[str, str], list[str]]


def checker(claim: str, support: str) -> list[str]:
    return [str(f) for f in unsupported(claim, support)]


def lexical(claim: str, support: str) -> list[str]:
    words = novel_words(claim, support)
    return words if len(words) >= MIN_NOVEL else []


def scores(labels: list[bool], flags: list[bool]) -> dict[str, Any]:
    """Precision/recall for the positive class (unfaithful), and balanced accuracy."""
    tp = sum(y and f for y, f in zip(labels, flags, strict=True))
    fp = sum(f and not y for y, f in zip(labels, flags, strict=True))
    pos, neg = sum(labels), len(labels) - sum(labels)
    recall = tp / pos if pos else 0.0
    specificity = (neg - fp) / neg if neg else 0.0
    return {
        "n": len(labels),
        "unfaithful": pos,
        "flagged": tp + fp,
        "tp": tp,
        "fp": fp,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(recall, 4),
        "balanced_accuracy": round((recall + specificity) / 2, 4),
    }


def frank() -> dict[str, Any]:
    articles = {a["hash"]: a["article"] for a in _jsonl(DATA / "frank" / "valid_articles.jsonl")}
    rows = _jsonl(DATA / "frank" / "valid_summaries.jsonl")
    out: dict[str, Any] = {}
    for name, flag in (("checker", checker), (f"novel words >= {MIN_NOVEL}", lexical)):
        found = [flag(detokenize(r["summary"]), articles[r["hash"]]) for r in rows]
        flags = [bool(f) for f in found]
        labels = [r["Factuality"] < 1.0 for r in rows]
        result: dict[str, Any] = {"all": scores(labels, flags)}
        for ds in ("cnndm", "xsum"):
            pick = [i for i, r in enumerate(rows) if r["dataset"] == ds]
            result[ds] = scores([labels[i] for i in pick], [flags[i] for i in pick])
        result["error_types"] = {
            t: {
                "with_error": (n := sum(r[t] < 1.0 for r in rows)),
                "flagged": (k := sum(f for r, f in zip(rows, flags, strict=True) if r[t] < 1.0)),
                "recall": round(k / n, 4) if n else None,
            }
            for t in ERROR_TYPES
        }
        if name == "checker":
            kinds: dict[str, Counter[bool]] = {}
            for r, f in zip(rows, found, strict=True):
                for kind in {x.rsplit("(", 1)[1].rstrip(")") for x in f}:
                    kinds.setdefault(kind, Counter())[r["Factuality"] < 1.0] += 1
            result["by_kind"] = {
                k: {"flagged": c[True] + c[False], "precision": round(c[True] / sum(c.values()), 4)}
                for k, c in sorted(kinds.items())
            }
            result["examples"] = [
                {"model": r["model_name"], "unfaithful": r["Factuality"] < 1.0, "found": f}
                for r, f in zip(rows, found, strict=True)
                if f
            ][:8]
        out[name] = result
    return out


def mucsum() -> dict[str, Any]:
    rows = _jsonl(DATA / "mucsum" / "dev_summaries.jsonl")
    docs = list(dict.fromkeys(r["doc_id"] for r in rows))
    text = {r["doc_id"]: r["document"] for r in rows}
    out: dict[str, Any] = {}
    for name, flag in (("checker", checker), (f"novel words >= {MIN_NOVEL}", lexical)):
        labels, flags = [], []
        for r in rows:
            other = docs[(docs.index(r["doc_id"]) + 1) % len(docs)]
            for support, wrong in ((r["document"], False), (text[other], True)):
                labels.append(wrong)
                flags.append(bool(flag(r["summary"], support)))
        out[name] = scores(labels, flags)
    return out


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def main() -> int:
    started = time.perf_counter()
    result = {"frank_valid": frank(), "mucsum_dev": mucsum()}
    result["seconds"] = round(time.perf_counter() - started, 1)
    print("FRANK valid (671 summaries; positive = unfaithful, Factuality < 1)\n")
    print("| flagger | subset | n | unfaithful | flagged | precision | recall | bal. acc. |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, r in result["frank_valid"].items():
        for subset in ("all", "cnndm", "xsum"):
            s = r[subset]
            print(
                f"| {name} | {subset} | {s['n']} | {s['unfaithful']} | {s['flagged']} | "
                f"{_pct(s['precision'])} | {_pct(s['recall'])} | {_pct(s['balanced_accuracy'])} |"
            )
    print("\nRecall per FRANK error type (summaries with that error that get flagged)\n")
    names = list(result["frank_valid"])
    print("| error type | summaries | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for t in ERROR_TYPES:
        cells = [result["frank_valid"][n]["error_types"][t] for n in names]
        print(
            f"| {t} | {cells[0]['with_error']} | "
            + " | ".join(_pct(c["recall"]) for c in cells)
            + " |"
        )
    print("\nChecker findings by kind (FRANK)\n")
    print("| kind | summaries flagged | precision |\n|---|---:|---:|")
    for kind, k in result["frank_valid"]["checker"]["by_kind"].items():
        print(f"| {kind} | {k['flagged']} | {_pct(k['precision'])} |")
    print("\nMUCSUM dev (191 human event summaries vs own document / another document)\n")
    print("| flagger | pairs | flagged | precision | recall | bal. acc. |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in result["mucsum_dev"].items():
        print(
            f"| {name} | {s['n']} | {s['flagged']} | {_pct(s['precision'])} | "
            f"{_pct(s['recall'])} | {_pct(s['balanced_accuracy'])} |"
        )
    print(f"\n{result['seconds']}s")
    (HERE / "results").mkdir(exist_ok=True)
    path = HERE / "results" / "faithfulness.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
