"""Cassettes hold nothing stale: every interaction in a demo cassette is played by the demo (the
test cassettes are checked after each test by conftest's ``_every_interaction_played``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import vcr

from summarizer import demo


def test_the_demo_plays_every_interaction_of_its_cassettes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[Any] = []
    use_cassette = vcr.VCR.use_cassette

    @contextlib.contextmanager
    def counted(self: vcr.VCR, path: str, **kwargs: Any) -> Iterator[Any]:
        with use_cassette(self, path, **kwargs) as cassette:
            yield cassette
        opened.append(cassette)

    monkeypatch.setattr(vcr.VCR, "use_cassette", counted)
    results = demo.run()

    assert len(opened) == len(results) == len(list(demo.examples()))
    for cassette in opened:
        assert len(cassette) > 0 and cassette.all_played, (
            f"{cassette._path}: {len(cassette)} interactions, {cassette.play_count} played"
        )


def test_recording_the_demo_starts_from_an_empty_cassette(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A stale interaction left in a demo cassette does not survive a re-recording."""
    article = next(iter(demo.examples()))
    stale = tmp_path / f"{article.key}.yaml"
    stale.write_text("stale interaction\n", encoding="utf-8")
    removed: list[Any] = []

    def stop(self: vcr.VCR, path: str, **kwargs: Any) -> Any:
        removed.append(not stale.exists())
        raise RuntimeError("stop before any request")

    monkeypatch.setattr(demo, "_record_path", lambda article: stale)
    monkeypatch.setattr(vcr.VCR, "use_cassette", stop)
    with pytest.raises(RuntimeError, match="stop before any request"):
        demo.run(record="http://127.0.0.1:9/v1")
    assert removed == [True]
