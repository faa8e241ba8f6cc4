"""Event resolution: merge rules, same-article rule, follow-ups, stable ids, idempotence, outputs,
bad input. Records are built in code; places carry coordinates from a small table (FAKE_GAZETTEER)
so the tests do not depend on the gazetteer."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from summarizer import resolve as resolve_api
from summarizer.cli import app
from summarizer.schema import (
    Actor,
    ArticleAnalysis,
    ArticleMeta,
    DateRef,
    Event,
    Fatalities,
    Place,
    Provenance,
    Span,
    Summary,
    Usage,
    Validation,
)

runner = CliRunner()

FAKE_GAZETTEER = {
    "chicago": (41.8781, -87.6298),
    "cook county": (41.8401, -87.8168),  # its centroid, ~15 km from Chicago's
    "evanston": (42.0451, -87.6877),
    "springfield": (39.7817, -89.6501),
}


@pytest.fixture(autouse=True)
def fake_gazetteer(monkeypatch: pytest.MonkeyPatch) -> None:
    import summarizer.resolve as module  # noqa: F401 (the function shadows the module name)

    mod = __import__("sys").modules["summarizer.resolve"]

    def geocoded(place: Place, context: str | None) -> Place:
        lat, lon = FAKE_GAZETTEER.get(place.text.lower(), (None, None))
        return place.model_copy(update={"latitude": lat, "longitude": lon})

    monkeypatch.setattr(mod, "geocoded", geocoded)


def event(
    eid: str,
    text: str,
    *,
    date: str | None,
    place: str | None = "Chicago",
    names: tuple[str, ...] = (),
    plover: str = "ASSAULT",
    acled_sub: str | None = "Attack",
    killed: int | None = 1,
    summary: str = "A man was shot.",
    precision: str = "day",
) -> tuple[str, dict[str, Any]]:
    return (eid, locals())


def record(
    article_id: str, published: str, *events: tuple[str, dict[str, Any]], text: str = ""
) -> ArticleAnalysis:
    built = []
    body = text or f"Article {article_id}."
    for eid, e in events:
        ev_text = e["text"]
        if ev_text not in body:
            body += " " + ev_text
        start = body.index(ev_text)
        built.append(
            Event(
                id=eid,
                summary=e["summary"],
                plover=e["plover"],
                plover_mode=None,
                acled_event_type="Violence against civilians"
                if e["acled_sub"] == "Attack"
                else ("Strategic developments" if e["acled_sub"] == "Arrests" else None),
                acled_sub_event_type=e["acled_sub"],
                cameo_root="18" if e["plover"] == "ASSAULT" else "17",
                actors=[],
                targets=[Actor(name=n, country="USA", sector="CVL") for n in e["names"]],
                date=DateRef(
                    text=None,
                    resolved=dt.date.fromisoformat(e["date"]) if e["date"] else None,
                    precision=e["precision"] if e["date"] else "unknown",
                ),
                location=Place(text=e["place"], country="USA", admin1="Illinois")
                if e["place"]
                else None,
                fatalities=Fatalities(
                    min=e["killed"] or 0,
                    max=e["killed"] or 0,
                    estimated=False,
                    text=f"{e['killed']} killed" if e["killed"] is not None else None,
                ),
                weapons=[],
                factuality="asserted",
                evidence=[Span(text=ev_text, start=start, end=start + len(ev_text))],
            )
        )
    return ArticleAnalysis(
        article=ArticleMeta(
            id=article_id,
            title=None,
            source=f"outlet-{article_id}",
            published=dt.date.fromisoformat(published),
            text_sha256=hashlib.sha256(body.encode()).hexdigest(),
        ),
        events=built,
        quotes=[],
        summary=Summary(headline="h", one_sentence="s", bullets=[]),
        validation=Validation(ok=True),
        usage=Usage(),
        provenance=Provenance(
            summarizer_version="0",
            prompt_version="0",
            model="test",
            created_at=dt.datetime(2020, 1, 1),
        ),
    )


def groups(events: list[dict[str, Any]]) -> set[frozenset[tuple[str, str]]]:
    return {frozenset((m["article_id"], m["event_id"]) for m in e["members"]) for e in events}


def test_smoke() -> None:
    a = record(
        "a",
        "2020-05-02",
        event(
            "e1", "Joe Doe, 22, was shot on Maple Street.", date="2020-05-01", names=("Joe Doe",)
        ),
    )
    b = record(
        "b",
        "2020-05-03",
        event(
            "e1",
            "Police said Joe Doe died after the Maple Street shooting.",
            date="2020-05-01",
            names=("Joe Doe",),
        ),
    )
    c = record(
        "c",
        "2020-05-03",
        event("e1", "A woman was shot in Evanston.", date="2020-05-01", place="Evanston"),
    )
    events = resolve_api([a, b, c])
    print(json.dumps(events, indent=1, default=str)[:3000])
    assert groups(events) == {frozenset({("a", "e1"), ("b", "e1")}), frozenset({("c", "e1")})}
