"""summarizer: news reports in, validated and source-grounded event records out.

>>> from summarizer import summarize
>>> analysis = summarize(text, published="2020-03-13")  # doctest: +SKIP

Names are imported on first use (PEP 562), so ``import summarizer`` and the CLI's ``--help`` do
not load openai, instructor, rouge-score or pyarrow. ``summarizer.export`` is the export module
and, called, writes an export (:func:`_export`); ``summarizer.write_report`` writes the HTML
report.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from summarizer.batch import ErrorRecord, asummarize_many, summarize_many
    from summarizer.errors import (
        ChecksFailed,
        ConfigError,
        InputError,
        ModelError,
        ProviderError,
        SummarizerError,
    )
    from summarizer.export import ExportFormat
    from summarizer.pipeline import aanalyze, analyze, asummarize, summarize
    from summarizer.resolution import resolve
    from summarizer.resources import __version__
    from summarizer.schema import ArticleAnalysis, Event, Quote, Span
    from summarizer.settings import Settings
    from summarizer.source import Article

_LAZY = {
    "summarizer.batch": ("ErrorRecord", "asummarize_many", "summarize_many"),
    "summarizer.errors": (
        "ChecksFailed",
        "ConfigError",
        "InputError",
        "ModelError",
        "ProviderError",
        "SummarizerError",
    ),
    "summarizer.pipeline": ("aanalyze", "analyze", "asummarize", "summarize"),
    "summarizer.resolution": ("resolve",),
    "summarizer.resources": ("__version__",),
    "summarizer.schema": ("ArticleAnalysis", "Event", "Quote", "Span"),
    "summarizer.settings": ("Settings",),
    "summarizer.source": ("Article",),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    if name == "export":
        return importlib.import_module("summarizer.export")  # callable, see _Package
    if name not in _WHERE:
        raise AttributeError(f"module 'summarizer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE, "export"])


def write_report(
    records: list[ArticleAnalysis] | ArticleAnalysis,
    path: str | Path,
    texts: list[str] | dict[str, str] | None = None,
    *,
    events: str | Path | list[dict[str, Any]] | None = None,
) -> int:
    """Write the self-contained HTML evidence report of ``records`` to ``path`` (what
    ``summarizer report`` writes). ``texts`` are the article texts (a list, or the dict
    ``{text_sha256: text}``), matched to records by hash; return how many records had none.

    With ``events`` (an ``events.duckdb`` or ``events.jsonl`` from :func:`resolve`, or the
    events it returned), the page is the event report instead: the events' index and map, and
    each event's reports (taken from ``records``) side by side; return how many of those
    reports had no record or no text."""
    from summarizer.records import sha256
    from summarizer.report import write, write_events
    from summarizer.resolution import load_events

    if not isinstance(records, list):
        records = [records]
    if not isinstance(texts, dict):
        texts = {sha256(text): text for text in texts or ()}
    if events is None:
        return write(records, texts, Path(path))
    if not isinstance(events, list):
        events = load_events(Path(events))
    return sum(write_events(events, records, texts, Path(path)))


def _export(
    records: list[ArticleAnalysis] | ArticleAnalysis,
    path: str | Path,
    format: ExportFormat | str = "acled-csv",
) -> int:
    """Write every event of ``records`` to ``path`` as ``acled-csv``, ``plover-jsonl``, ``csv``
    or ``parquet`` (what ``summarizer export`` writes); return the number of rows."""
    from summarizer.export import ExportFormat
    from summarizer.export import export as write

    if not isinstance(records, list):
        records = [records]
    return write(records, ExportFormat(format), Path(path))


class _CallableModule(ModuleType):
    """``summarizer.export`` is the export module, and calling it calls :func:`_export`."""

    def __call__(self, *args: Any, **kwargs: Any) -> int:
        return _export(*args, **kwargs)


class _Package(ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "export" and isinstance(value, ModuleType):  # the import system, once
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "Article",
    "ArticleAnalysis",
    "ChecksFailed",
    "ConfigError",
    "ErrorRecord",
    "Event",
    "InputError",
    "ModelError",
    "ProviderError",
    "Quote",
    "Settings",
    "Span",
    "SummarizerError",
    "__version__",
    "aanalyze",
    "analyze",
    "asummarize",
    "asummarize_many",
    "export",
    "resolve",
    "summarize",
    "summarize_many",
    "write_report",
]
