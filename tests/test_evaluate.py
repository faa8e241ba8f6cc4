"""``summarizer eval``: gold-derived answers score perfectly, and perturbed records score exactly
what each perturbation predicts under the documented matching rules."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import TEST_KEY, mucsum_documents, one_line_error
from scripted_records import replaying, scripted_records
from typer.testing import CliRunner

from summarizer import calllog, llm
from summarizer.batch import engine
from summarizer.cli import app
from summarizer.evaluate import (
    SLOTS,
    assign,
    job,
    load_dataset,
    muc_type,
    quality,
    run_pipeline,
    score,
)
from summarizer.records import load_records
from summarizer.schema import Actor, ArticleAnalysis, Event, Place
from summarizer.settings import Settings

runner = CliRunner()
GOLD = mucsum_documents()
GOLD_EVENTS = sum(len(examples) for examples in GOLD.values())


def _gold_fills(template: dict[str, Any]) -> dict[str, int]:
    """Gold fills per slot of one template, counted straight from the data."""
    return {
        "perpetrator": len(template["perpind"]) + len(template["perporg"]),
        "target": len(template["target"]),
        "victim": len(template["victim"]),
        "weapon": len(template["weapon"]),
        "location": int(bool(template["location"])),
        "date": int(bool(template["date"])),
    }


GOLD_FILLS = {
    slot: sum(_gold_fills(ex["template"])[slot] for exs in GOLD.values() for ex in exs)
    for slot in SLOTS
}


def _env(log: Path) -> dict[str, str | None]:
    unset = {k: None for k in os.environ if k.startswith(("SUMMARIZER_", "OPENAI_", "AZURE_"))}
    return unset | {
        "OPENAI_API_KEY": TEST_KEY,
        "SUMMARIZER_TRANSPORT_RETRIES": "0",
        "SUMMARIZER_LOG_PATH": str(log),
    }


@pytest.fixture(scope="module")
def cli_run(
    request: pytest.FixtureRequest, scripted_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, dict[str, Any], list[ArticleAnalysis]]:
    """``summarizer eval --dataset mucsum-dev`` run once against the scripted answers."""
    scripted_records(request.config, scripted_url)  # records the shared cassette if asked to
    out = tmp_path_factory.mktemp("eval")
    args = ["eval", "--dataset", "mucsum-dev", "-o", str(out / "eval.json")]
    args += ["--save-records", str(out / "records.jsonl"), "--base-url", scripted_url]
    with pytest.MonkeyPatch.context() as mp, replaying():
        mp.chdir(out)  # no .env of the machine
        result = runner.invoke(app, args, env=_env(out / "logs.db"))
    scores = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    return result, scores, load_records(out / "records.jsonl")


@pytest.fixture
def records(cli_run: tuple[Any, dict[str, Any], list[ArticleAnalysis]]) -> list[ArticleAnalysis]:
    return [r.model_copy(deep=True) for r in cli_run[2]]


def test_gold_derived_answers_score_perfectly(cli_run: Any) -> None:
    result, scores, records = cli_run
    assert result.exit_code == 0, result.output
    assert len(records) == len(GOLD) == scores["documents_scored"] == 12
    assert (
        scores["events"]
        == {"gold": 25, "predicted": 25, "aligned": 25}
        == {
            "gold": GOLD_EVENTS,
            "predicted": GOLD_EVENTS,
            "aligned": GOLD_EVENTS,
        }
    )
    assert scores["type_accuracy"] == 1.0
    for slot in SLOTS:
        s = scores["slots"][slot]
        assert (s["precision"], s["recall"], s["f1"]) == (1.0, 1.0, 1.0), slot
        assert s["gold"] == s["tp"] == GOLD_FILLS[slot], slot
    assert scores["slots"]["all"]["f1"] == 1.0
    # Event summaries are the first human sentence: ROUGE below 1 where the human summary has more.
    assert all(0.5 < v < 1.0 for v in scores["rouge"].values()), scores["rouge"]
    assert scores["errors"] == [] and scores["model"] == "openai/gpt-4.1-mini"
    assert "12/12 done" in result.stderr  # the batch engine's progress, on stderr
    table = result.stdout
    assert "type accuracy 1.000" in table
    assert "all           1.000  1.000  1.000" in table


def _event(records: list[ArticleAnalysis], doc: str, index: int) -> Event:
    record = next(r for r in records if r.article.id == f"mucsum-{doc}")
    return record.events[index]


def _template(doc: str, index: int) -> dict[str, Any]:
    return GOLD[doc][index]["template"]


Perturbation = Callable[[list[ArticleAnalysis]], dict[str, Any]]


def drop_an_actor(records: list[ArticleAnalysis]) -> dict[str, Any]:
    _event(records, "TST1-MUC3-0001", 0).actors.pop(0)
    return {"perpetrator": (-1, -1)}


def add_a_stranger(records: list[ArticleAnalysis]) -> dict[str, Any]:
    stranger = Actor(name="ministry of fisheries", country=None, sector=None)
    _event(records, "TST1-MUC3-0036", 0).actors.append(stranger)
    return {"perpetrator": (0, +1)}


def misname_a_victim(records: list[ArticleAnalysis]) -> dict[str, Any]:
    # TST1-MUC3-0036 has one victim ("soldiers") and no target: the renamed target matches no
    # gold string, so it is a false victim and a false target.
    event = _event(records, "TST1-MUC3-0036", 0)
    assert _template("TST1-MUC3-0036", 0)["target"] == []
    event.targets[0].name, event.targets[0].evidence = "tourists", None
    return {"victim": (-1, 0), "target": (0, +1)}


def wrong_place(records: list[ArticleAnalysis]) -> dict[str, Any]:
    event = _event(records, "TST1-MUC3-0075", 0)
    event.location = Place(text="tegucigalpa", country="HND", admin1=None)
    return {"location": (-1, 0)}


def no_date(records: list[ArticleAnalysis]) -> dict[str, Any]:
    _event(records, "TST1-MUC3-0036", 0).date.text = None
    return {"date": (-1, -1)}


def drop_a_weapon(records: list[ArticleAnalysis]) -> dict[str, Any]:
    event = _event(records, "TST1-MUC3-0004", 0)
    assert len(event.weapons) == 3
    event.weapons.pop()
    return {"weapon": (-1, -1)}


def wrong_type(records: list[ArticleAnalysis]) -> dict[str, Any]:
    event = _event(records, "TST1-MUC3-0036", 0)  # a bombing, alone in its document
    event.plover_mode, event.acled_sub_event_type = "abduct", "Abduction/forced disappearance"
    return {"type_accuracy": (GOLD_EVENTS - 1) / GOLD_EVENTS}


def drop_an_event(records: list[ArticleAnalysis]) -> dict[str, Any]:
    record = next(r for r in records if r.article.id == "mucsum-TST1-MUC3-0099")
    record.events.pop(2)  # the arson: every gold fill of it is missed, nothing else changes
    fills = _gold_fills(_template("TST1-MUC3-0099", 2))
    return {slot: (-n, -n) for slot, n in fills.items() if n} | {
        "type_accuracy": (GOLD_EVENTS - 1) / GOLD_EVENTS,
        "aligned": GOLD_EVENTS - 1,
    }


def drop_a_document(records: list[ArticleAnalysis]) -> dict[str, Any]:
    gone = next(r for r in records if r.article.id == "mucsum-TST2-MUC4-0013")
    records.remove(gone)
    lost: dict[str, list[int]] = {slot: [0, 0] for slot in SLOTS}
    for example in GOLD["TST2-MUC4-0013"]:
        for slot, n in _gold_fills(example["template"]).items():
            lost[slot][0] -= n
            lost[slot][1] -= n
    return {slot: tuple(d) for slot, d in lost.items() if d[0]} | {
        "type_accuracy": (GOLD_EVENTS - 2) / GOLD_EVENTS,
        "aligned": GOLD_EVENTS - 2,
    }


@pytest.mark.parametrize(
    "perturb",
    [
        drop_an_actor,
        add_a_stranger,
        misname_a_victim,
        wrong_place,
        no_date,
        drop_a_weapon,
        wrong_type,
        drop_an_event,
        drop_a_document,
    ],
)
def test_perturbed_records_score_what_the_perturbation_predicts(
    records: list[ArticleAnalysis], perturb: Perturbation
) -> None:
    predicted = perturb(records)
    scores = score(load_dataset("mucsum-dev"), records)
    for slot in SLOTS:
        tp_change, pred_change = predicted.get(slot, (0, 0))
        s = scores["slots"][slot]
        assert (s["tp"], s["predicted"], s["gold"]) == (
            GOLD_FILLS[slot] + tp_change,
            GOLD_FILLS[slot] + pred_change,
            GOLD_FILLS[slot],
        ), slot
        tp, pred, gold = s["tp"], s["predicted"], s["gold"]
        assert s["precision"] == pytest.approx(tp / pred)
        assert s["recall"] == pytest.approx(tp / gold)
    assert scores["type_accuracy"] == pytest.approx(predicted.get("type_accuracy", 1.0))
    assert scores["events"]["aligned"] == predicted.get("aligned", GOLD_EVENTS)


def test_rouge_follows_the_summaries(records: list[ArticleAnalysis]) -> None:
    dataset = load_dataset("mucsum-dev")
    by_id = {r.article.id: r for r in records}
    for doc_id, examples in GOLD.items():
        for event, example in zip(by_id[f"mucsum-{doc_id}"].events, examples, strict=True):
            event.summary = " ".join(example["summary"])
    assert score(dataset, records)["rouge"] == pytest.approx(
        {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
    )
    for record in records:
        for event in record.events:
            event.summary = "qqq zzz"
    assert score(dataset, records)["rouge"] == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}


@pytest.mark.parametrize(
    ("predicted", "gold", "expected"),
    [
        ("The FMLN", "fmln", 2),
        ("Pérez", "perez", 2),
        ("president cerezo", "cerezo", 1),
        ("gas station", "gas station owners", 1),
        ("station owners gas", "gas station owners", 0),
        ("the", "the", 0),
    ],
)
def test_string_matching(predicted: str, gold: str, expected: int) -> None:
    assert quality(predicted, gold) == expected


def test_assignment_prefers_exact_pairs() -> None:
    # A greedy containment match would give "gas station" to "gas station owners".
    assert assign(
        [["gas station"], ["gas station owners"]], ["gas station owners", "gas station"]
    ) == {
        0: 1,
        1: 0,
    }


def test_muc_types_follow_the_codes(records: list[ArticleAnalysis]) -> None:
    event = _event(records, "TST1-MUC3-0036", 0).model_copy(deep=True)
    assert muc_type(event) == "bombing"
    event.plover_mode = None
    assert muc_type(event) == "bombing"  # the ACLED sub-type decides
    event.acled_sub_event_type = "Attack"
    assert muc_type(event) == "attack"
    event.plover, event.plover_mode = "THREATEN", "arrest"
    assert muc_type(event) is None
    event.plover = "ACCUSE"
    assert muc_type(event) is None


def test_eval_refuses_bad_datasets(tmp_path: Path) -> None:
    one_line_error(runner.invoke(app, ["eval", "--dataset", "nope"]), 2, "no data set 'nope'")
    bad = tmp_path / "bad.json"
    bad.write_text('{"D1": [{"document": ["x"], "template": {}, "summary": []}]}', encoding="utf-8")
    one_line_error(runner.invoke(app, ["eval", "-d", str(bad)]), 2, "template or summary")
    bad.write_text("[1, 2]", encoding="utf-8")
    one_line_error(runner.invoke(app, ["eval", "-d", str(bad)]), 2, "expected a non-empty")


def test_eval_without_a_model_exits_2() -> None:
    one_line_error(runner.invoke(app, ["eval"]), 2, "no model configured")


def test_eval_scores_given_records_without_a_model(
    records: list[ArticleAnalysis], tmp_path: Path
) -> None:
    drop_an_actor(records)
    saved = tmp_path / "records.jsonl"
    saved.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    result = runner.invoke(app, ["eval", "--records", str(saved), "-o", str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output
    shown = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert shown["slots"]["perpetrator"]["tp"] == GOLD_FILLS["perpetrator"] - 1


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_failed_documents_are_listed_and_scored_as_missed(
    tmp_path: Path, scripted_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("SUMMARIZER_TRANSPORT_RETRIES", "0")
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"TST1-MUC3-0036": GOLD["TST1-MUC3-0036"]}), encoding="utf-8")
    args = ["eval", "-d", str(one), "-o", str(tmp_path / "e.json"), "--base-url", scripted_url]
    result = runner.invoke(app, [*args, "--model", "openai/broken-json"])

    assert result.exit_code == 1, result.output
    shown = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert [e["id"] for e in shown["errors"]] == ["mucsum-TST1-MUC3-0036"]
    assert shown["errors"][0]["code"] == "invalid_answer"
    assert shown["documents_scored"] == 0 and shown["events"]["aligned"] == 0
    assert shown["slots"]["all"]["recall"] == 0.0
    assert "error: mucsum-TST1-MUC3-0036:" in result.stderr
    assert TEST_KEY not in result.output + json.dumps(shown)


def test_records_and_eval_json_name_the_endpoint(cli_run: Any, scripted_url: str) -> None:
    _, scores, records = cli_run
    parts = urlsplit(scripted_url)
    host = f"{parts.scheme}://{parts.hostname}:{parts.port}"  # no path, no credentials
    assert scores["endpoint"] == host
    assert {r.provenance.endpoint for r in records} == {host}


def test_records_made_before_the_endpoint_was_kept_still_load(
    records: list[ArticleAnalysis],
) -> None:
    old = records[0].model_dump(mode="json")
    del old["provenance"]["endpoint"]
    assert ArticleAnalysis.model_validate(old).provenance.endpoint is None


def test_the_endpoint_never_carries_credentials() -> None:
    url = "https://user:sk-secret-123456@proxy.example:8443/v1/openai?api-key=k#x"
    target = llm.Target("openai", "gpt-4.1-mini", url, "sk-secret-123456")
    assert llm.endpoint(target) == "https://proxy.example:8443"
    assert llm.endpoint(llm.Target("openai", "m", None, None)) == "https://api.openai.com"


def test_eval_logs_every_call_with_its_document(cli_run: Any, tmp_path: Path) -> None:
    _, _, records = cli_run
    log = next(tmp_path.parent.glob("eval*/logs.db"))  # cli_run wrote it there
    rows = calllog.read(log, limit=None)
    assert len(rows) == sum(r.usage.calls for r in records)
    assert sorted({r["record_id"] for r in rows}) == sorted(r.article.id for r in records)


def test_documents_run_concurrently_and_come_back_in_data_set_order(
    records: list[ArticleAnalysis], monkeypatch: pytest.MonkeyPatch
) -> None:
    by_id = {r.article.id: r for r in records}
    flight = {"now": 0, "most": 0}
    order = list(GOLD)

    async def analyse(article: Any, settings: Any, *, client: Any = None) -> ArticleAnalysis:
        flight["now"] += 1
        flight["most"] = max(flight["most"], flight["now"])
        for _ in range(len(order) - order.index(article.key.removeprefix("mucsum-"))):
            await asyncio.sleep(0)  # earlier documents finish later
        flight["now"] -= 1
        return by_id[article.key]

    monkeypatch.setattr(engine, "aanalyze", analyse)
    settings = Settings(api_key=TEST_KEY)
    run = run_pipeline(GOLD, settings, runner=job(settings, concurrency=3))
    assert flight["most"] == 3
    assert [r.article.id for r in run.records] == [f"mucsum-{d}" for d in GOLD]
    assert score(GOLD, run.records) == score(GOLD, list(reversed(run.records)))
