"""summarizer: news reports in, validated and source-grounded event records out.

>>> from summarizer import summarize
>>> analysis = summarize(text, published="2020-03-13")  # doctest: +SKIP
"""

from summarizer.batch import ErrorRecord, asummarize_many, summarize_many
from summarizer.errors import (
    ChecksFailed,
    ConfigError,
    InputError,
    ModelError,
    ProviderError,
    SummarizerError,
)
from summarizer.pipeline import __version__, aanalyze, analyze, asummarize, summarize
from summarizer.resolve import resolve
from summarizer.schema import ArticleAnalysis, Event, Quote, Span
from summarizer.settings import Settings
from summarizer.source import Article

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
    "resolve",
    "summarize",
    "summarize_many",
]
