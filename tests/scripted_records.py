"""Records made by the real pipeline from the scripted answers, shared by the report, export and
evaluation tests: the seed article and the 12 MUCSUM dev documents, each analysed once per
session from one cassette (``cassettes/scripted_records/``, recorded against the scripted server).

``replaying()`` opens the same cassette for code that repeats those exact requests (the ``eval``
command), so they need no second copy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import vcr
from conftest import ROOT, SCRIPTED, TEST_KEY, load_example, mucsum_documents

from summarizer import analyze
from summarizer.demo import vcr_config
from summarizer.schema import ArticleAnalysis
from summarizer.settings import Settings
from summarizer.source import make_article

CASSETTE = ROOT / "cassettes" / "scripted_records" / "seed-and-mucsum-dev.yaml"
_made: list[ArticleAnalysis] = []


def settings(url: str) -> Settings:
    values: dict[str, Any] = SCRIPTED | {"base_url": url, "api_key": TEST_KEY}
    return Settings(_env_file=None, transport_retries=0, **values)  # type: ignore[call-arg]


def replaying() -> contextlib.AbstractContextManager[Any]:
    return vcr.VCR(**vcr_config()).use_cassette(
        str(CASSETTE), record_mode="none", allow_playback_repeats=True
    )


def scripted_records(config: pytest.Config, url: str) -> list[ArticleAnalysis]:
    """Fresh copies of the 13 records (seed first, then MUCSUM in document order)."""
    if not _made:
        recording = config.getoption("--record-mode") not in (None, "none")
        if recording:
            CASSETTE.unlink(missing_ok=True)
        mode = "all" if recording else "none"
        with vcr.VCR(**vcr_config()).use_cassette(str(CASSETTE), record_mode=mode):
            _made.extend(analyse(settings(url)))
    return [r.model_copy(deep=True) for r in _made]


def analyse(s: Settings) -> Iterator[ArticleAnalysis]:
    text, meta = load_example("centcom-strikes-iraq")
    fields = {k: meta[k] for k in ("id", "title", "published", "language")}
    yield analyze(make_article(text, **fields), s)
    for doc_id, examples in mucsum_documents().items():
        article = make_article(" ".join(examples[0]["document"]), id=f"mucsum-{doc_id}")
        yield analyze(article, s)


def texts() -> dict[str, str]:
    """The articles' texts by record id."""
    seed, _ = load_example("centcom-strikes-iraq")
    docs = {f"mucsum-{d}": " ".join(ex[0]["document"]) for d, ex in mucsum_documents().items()}
    return {"centcom-strikes-iraq": seed} | docs
