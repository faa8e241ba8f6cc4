"""``summarizer batch`` -> ``summarizer resolve`` end to end on the GVC sample (tests/data/gvc).

The batch replays the cassette of ``test_gvc_pipeline``; resolve makes no model call. Written
against the CLI contract of issue 12 (notes/ISSUE12-CONTRACT.md); ``pyproject.toml`` leaves this
file out (``--ignore``) until ``summarizer resolve`` is merged.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import vcr
from conftest import REPLAY_URL, ROOT
from test_gvc_pipeline import run_batch, runner, sample

from summarizer.cli import app
from summarizer.demo import vcr_config

sys.path.insert(0, str(ROOT / "benchmarks"))
from clustering_metrics import scores

CASSETTE = (
    ROOT
    / "cassettes"
    / "test_gvc_pipeline"
    / "test_batch_over_the_gvc_sample_gives_valid_exact_records.yaml"
)


def _resolve(records: Path, events: Path) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["resolve", str(records), "-o", str(events)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]


def test_resolve_groups_the_sample_by_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with vcr.VCR(**vcr_config()).use_cassette(str(CASSETTE), record_mode="none"):
        records = run_batch(tmp_path, REPLAY_URL, monkeypatch)
    events = _resolve(tmp_path / "records.jsonl", tmp_path / "events.jsonl")

    members = Counter((m["article_id"], m["event_id"]) for e in events for m in e["members"])
    expected = {(r.article.id, ev.id) for r in records for ev in r.events}
    assert set(members) == expected and set(members.values()) == {1}  # each event once
    for event in events:  # two events of one article are never merged
        articles = [m["article_id"] for m in event["members"]]
        assert len(articles) == len(set(articles)), event["event_uid"]
        assert event["n_sources"] == len(articles)

    uid = {(m["article_id"], m["event_id"]): e["event_uid"] for e in events for m in e["members"]}
    gold = {a["id"]: a["incident_id"] for a in sample()}
    predicted = {a: uid[(a, "e1")] for a in gold}
    got = scores(gold, predicted)
    assert got["b3_f1"] >= 0.9, got
    # same day, other place; same city, other date (Bronx, Little Rock, Toledo): never merged
    for x, y in (("583177", "583179"), ("562315", "446569"), ("449691", "728026"),
                 ("491937", "718272")):  # fmt: skip
        assert not {predicted[a] for a in gold if gold[a] == x} & {
            predicted[a] for a in gold if gold[a] == y
        }, (x, y)
    incident_uid = {e["event_uid"]: e for e in events}
    for record in records:  # a follow-up links to the incident it follows, as its own event
        if len(record.events) == 2:
            follow_up = incident_uid[uid[(record.article.id, "e2")]]
            assert follow_up["event_uid"] != predicted[record.article.id]
            assert follow_up["follow_up_of"] == predicted[record.article.id]

    again = _resolve(tmp_path / "records.jsonl", tmp_path / "again.jsonl")  # same grouping
    assert sorted(json.dumps(e["members"], sort_keys=True) for e in again) == (
        sorted(json.dumps(e["members"], sort_keys=True) for e in events)
    )
