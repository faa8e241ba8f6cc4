"""A persistent, content-addressed cache of analyses (one SQLite file).

The key is a hash of everything that decides the answer: the model, the prompt version, the
extraction schema, the summarizer version, the article text and the metadata the prompt shows
(publication date, title, source), and the request options (mode, temperature, max_tokens,
re-asks). The article id is not part of it: the same text under another id is a hit, and the
record is re-labelled with the new id. Only analyses are cached, never failures.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import zlib
from pathlib import Path

from summarizer import llm, prompts
from summarizer.batch.journal import make_folder
from summarizer.checks import CheckedExtraction
from summarizer.errors import InputError
from summarizer.resources import __version__
from summarizer.schema import ArticleAnalysis
from summarizer.settings import Settings
from summarizer.source import Article


def default_path() -> Path:
    """``$SUMMARIZER_CACHE``, else ``$XDG_CACHE_HOME/summarizer/analyses.sqlite``."""
    if os.environ.get("SUMMARIZER_CACHE"):
        return Path(os.environ["SUMMARIZER_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "summarizer" / "analyses.sqlite"


@functools.cache
def _schema_hash() -> str:
    schema = json.dumps(CheckedExtraction.model_json_schema(), sort_keys=True)
    return hashlib.sha256(schema.encode()).hexdigest()[:16]


def key(article: Article, settings: Settings) -> str:
    """The cache key of ``article`` analysed with ``settings``."""
    parts = {
        "model": str(llm.resolve(settings)),
        "base_url": settings.base_url,
        "prompt": prompts.load().version,
        "schema": _schema_hash(),
        "summarizer": __version__,
        "options": settings.model_dump(
            include={"mode", "temperature", "max_tokens", "max_retries", "token_budget"}
        ),
        "published": article.published.isoformat() if article.published else None,
        "title": article.title,
        "source": article.source,
        "language": article.language,
        "text": article.sha256,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class Cache:
    """Analyses by key; safe to share between processes (WAL, busy timeout).

    A path that cannot hold the cache (a folder, a file that is not one, no write permission) is
    an :class:`InputError`; a stored entry that no longer reads back is a miss."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            make_folder(path)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._unusable(exc) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS analyses (key TEXT PRIMARY KEY, record BLOB NOT NULL)"
            )
            self._db.execute("BEGIN IMMEDIATE")  # can we write? (a read-only file says no here)
            self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            self._db.close()
            raise self._unusable(exc) from None

    def _unusable(self, exc: BaseException) -> InputError:
        reason = getattr(exc, "strerror", None) or str(exc)
        return InputError(f"cannot use {self.path} as the cache: {reason} (see --cache)")

    def get(self, key: str, article: Article) -> ArticleAnalysis | None:
        """The cached analysis for ``key``, labelled with ``article``'s id and metadata."""
        row = self._db.execute("SELECT record FROM analyses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            analysis = ArticleAnalysis.model_validate_json(zlib.decompress(row[0]))
        except (zlib.error, TypeError, ValueError):  # damaged: analyse again and overwrite it
            return None
        meta = analysis.article.model_copy(update={"id": article.key, "url": article.url})
        return analysis.model_copy(update={"article": meta})

    def put(self, key: str, analysis: ArticleAnalysis) -> None:
        blob = zlib.compress(analysis.model_dump_json().encode("utf-8"), 1)
        try:
            self._db.execute("INSERT OR REPLACE INTO analyses VALUES (?, ?)", (key, blob))
        except sqlite3.Error as exc:
            raise self._unusable(exc) from None

    def close(self) -> None:
        self._db.close()
