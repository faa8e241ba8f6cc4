"""``summarizer``: analyse news reports from the shell.

Exit codes: 0 success; 1 the model or provider failed (no record); 2 bad input or configuration.
Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from summarizer import demo as demo_module
from summarizer.errors import EXIT_USAGE, SummarizerError
from summarizer.llm import resolve
from summarizer.output import to_json, to_markdown
from summarizer.pipeline import analyze
from summarizer.schema import ArticleAnalysis
from summarizer.settings import Settings
from summarizer.source import make_article, parse_date, read_text

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Turn news reports into validated, source-grounded event records and summaries.",
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    json = "json"
    markdown = "markdown"


ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="provider/model, e.g. ollama/qwen2.5:7b")
]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint")]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", help="tools (default), json_schema, json or md_json")
]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings(**flags: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _fail(f"invalid setting {where}: {first['msg']}", EXIT_USAGE) from None


def _emit(results: list[ArticleAnalysis], fmt: Format, output: Path | None) -> None:
    if fmt is Format.json:
        text = (
            to_json(results[0])
            if len(results) == 1
            else json.dumps(
                [r.model_dump(mode="json") for r in results], indent=2, ensure_ascii=False
            )
        )
        text += "\n"
    else:
        text = "\n".join(to_markdown(r) for r in results)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _quiet_libraries() -> None:
    # instructor logs every failed attempt at ERROR; re-asks are reported in validation.issues.
    logging.getLogger("instructor").setLevel(logging.CRITICAL)


@app.command()
def run(
    file: Annotated[str, typer.Argument(help="article text file, or - for stdin")],
    published: Annotated[
        str | None, typer.Option(help="publication date, YYYY-MM-DD (anchors 'Friday')")
    ] = None,
    title: Annotated[str | None, typer.Option()] = None,
    source: Annotated[str | None, typer.Option(help="outlet name")] = None,
    url: Annotated[str | None, typer.Option()] = None,
    id: Annotated[
        str | None, typer.Option("--id", help="article id (default: content hash)")
    ] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.json,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here")] = None,
) -> None:
    """Analyse one article: events, quotes and a summary, every span checked against the text."""
    _quiet_libraries()
    settings = _settings(model=model, base_url=base_url, mode=mode)
    try:
        article = make_article(
            read_text(file),
            published=parse_date(published, "--published"),
            title=title,
            source=source,
            url=url,
            id=id,
        )
        result = analyze(article, settings)
    except SummarizerError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    _emit([result], fmt, output)
    if not result.validation.ok:
        errors = sum(i.severity == "error" for i in result.validation.issues)
        typer.echo(f"warning: {errors} check(s) failed; see validation.issues", err=True)


@app.command()
def config(
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
) -> None:
    """Show the resolved settings (API key masked) and where calls would go."""
    settings = _settings(model=model, base_url=base_url, mode=mode)
    shown = settings.masked()
    try:
        target = resolve(settings)
        shown["resolved"] = {
            "provider": target.provider,
            "model": target.model,
            "base_url": target.base_url,
        }
    except SummarizerError as exc:
        shown["resolved"] = None
        shown["problem"] = str(exc)
    typer.echo(json.dumps(shown, indent=2, default=str))


@app.command()
def demo(
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.markdown,
    record: Annotated[
        str | None,
        typer.Option(hidden=True, help="re-record the demo cassettes from this server URL"),
    ] = None,
) -> None:
    """Run the bundled example articles through the full pipeline, replaying recorded responses."""
    _quiet_libraries()
    typer.echo(
        "summarizer demo: replaying RECORDED model responses (cassettes/demo/), recorded from the "
        "project's scripted test server with hand-checked answers; no model is called.",
        err=True,
    )
    try:
        results = demo_module.run(record=record)
    except (SummarizerError, FileNotFoundError) as exc:
        code = exc.exit_code if isinstance(exc, SummarizerError) else EXIT_USAGE
        raise _fail(str(exc), code) from None
    _emit(results, fmt, None)
