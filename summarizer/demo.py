"""The bundled example articles, run through the full pipeline with recorded model responses.

The responses are vcrpy cassettes in ``cassettes/demo/``, recorded from the project's scripted
OpenAI-compatible test server (hand-checked answers, see ``cassettes/README.md``). The cassette
settings here are the project's one definition, used by the tests as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import vcr
from pydantic import SecretStr

from summarizer.errors import ModelError
from summarizer.pipeline import analyze
from summarizer.resources import data_dir
from summarizer.schema import ArticleAnalysis
from summarizer.settings import Settings
from summarizer.source import Article, make_article


def demo_settings() -> Settings:
    """Fixed demo settings: the environment and .env are not consulted (so a bad value there
    cannot break the demo, nor, as settings built at import did, every command's ``--help``)."""
    return Settings.model_construct(
        model="openai/gpt-4.1-mini",
        base_url="http://127.0.0.1:8321/v1",
        api_key=SecretStr("recorded-demo"),
        mode="tools",
        max_retries=2,
        token_budget=60_000,
        transport_retries=0,
        temperature=0.0,
        max_tokens=8192,
    )


def __getattr__(name: str) -> Settings:  # ``DEMO_SETTINGS``, built when first asked for
    if name == "DEMO_SETTINGS":
        return demo_settings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_SCRUBBED_REQUEST_HEADERS = [
    "authorization",
    "api-key",
    "openai-organization",
    "openai-project",
    "cookie",
]
_SCRUBBED_RESPONSE_HEADERS = {"openai-organization", "openai-project", "set-cookie", "x-request-id"}


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in _SCRUBBED_RESPONSE_HEADERS:
            del headers[name]
    return response


def vcr_config() -> dict[str, Any]:
    """How cassettes are matched and scrubbed: by method, path and body, never by host or port,
    with credentials and account headers removed before anything is written."""
    return {
        "match_on": ["method", "path", "query", "body"],
        "filter_headers": _SCRUBBED_REQUEST_HEADERS,
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
    }


def examples() -> Iterator[Article]:
    """The example articles: ``examples/<id>.txt`` with metadata in ``examples/<id>.json``."""
    folder = data_dir("examples")
    for path in sorted(folder.glob("*.txt")):
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        fields = {k: meta.get(k) for k in ("title", "source", "url", "published", "language")}
        yield make_article(path.read_text(encoding="utf-8"), id=meta.get("id", path.stem), **fields)


def cassette_path(article: Article) -> Path:
    return data_dir("cassettes/demo") / f"{article.key}.yaml"


def run(*, record: str | None = None) -> list[ArticleAnalysis]:
    """Analyse every example, replaying its cassette (or, with ``record=URL``, recording anew
    from the OpenAI-compatible server at URL)."""
    settings = demo_settings().model_copy(update={"base_url": record} if record else {})
    results = []
    for article in examples():
        path = cassette_path(article) if not record else _record_path(article)
        if record:  # vcrpy's "all" keeps old interactions: start from an empty cassette
            path.unlink(missing_ok=True)
        mode = "all" if record else "none"
        with vcr.VCR(**vcr_config()).use_cassette(str(path), record_mode=mode):
            try:
                results.append(analyze(article, settings))
            except ModelError as exc:
                raise ModelError(
                    f"demo {article.key}: {exc} (do the cassettes match the prompts? "
                    "re-record with `make cassettes`)",
                    usage=exc.usage,
                ) from None
    return results


def _record_path(article: Article) -> Path:
    try:
        folder = data_dir("cassettes/demo")
    except FileNotFoundError:
        folder = data_dir("cassettes") / "demo"
        folder.mkdir()
    return folder / f"{article.key}.yaml"
