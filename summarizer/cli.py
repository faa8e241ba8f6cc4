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
from summarizer import evaluate as evaluate_module
from summarizer import export as export_module
from summarizer import records as records_module
from summarizer import report as report_module
from summarizer import validate as validate_module
from summarizer import verify as verify_module
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
RecordsArg = Annotated[Path, typer.Argument(help="RECORD.json (one or a list) or OUT.jsonl")]
SourceOpt = Annotated[Path | None, typer.Option(help="the article text the record was made from")]
ArticlesOpt = Annotated[
    Path | None,
    typer.Option(help="the batch input (JSONL with 'text') or a folder of .txt articles"),
]
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
    verify: Annotated[
        bool, typer.Option("--verify", help="a second model call judges each summary bullet")
    ] = False,
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
        if verify:
            result = verify_module.apply(result, *verify_module.verify(result, settings))
    except SummarizerError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    _emit([result], fmt, output)
    if not result.validation.ok:
        errors = sum(i.is_error for i in result.validation.issues)
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


class ReportFormat(StrEnum):
    text = "text"
    json = "json"


class StrictnessOpt(StrEnum):
    strict = "strict"
    lenient = "lenient"


@app.command()
def validate(
    records: RecordsArg,
    source: SourceOpt = None,
    articles: ArticlesOpt = None,
    strictness: Annotated[
        StrictnessOpt,
        typer.Option(help="strict: any error fails; lenient: only errors a record hides"),
    ] = StrictnessOpt.strict,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.text,
) -> None:
    """Re-check stored records against their source texts with the pipeline's rules.

    Exit 0 when no record fails, 1 when one does, 2 on bad input.
    """
    if (source is None) == (articles is None):
        raise _fail("give exactly one of --source ARTICLE or --articles INPUT", EXIT_USAGE)
    try:
        texts = records_module.load_texts(source or articles)  # type: ignore[arg-type]
        loaded = records_module.load_records(records)
    except SummarizerError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    verdicts = validate_module.recheck_all(loaded, texts)
    if fmt is ReportFormat.json:
        shown = validate_module.as_json(verdicts, strictness.value)
        typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(validate_module.report(verdicts, strictness.value))
    if any(v.failed(strictness.value) for v in verdicts):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- export, report, eval


def _records(path: Path) -> list[ArticleAnalysis]:
    try:
        return records_module.load_records(path)
    except SummarizerError as exc:
        raise _fail(str(exc), exc.exit_code) from None


@app.command()
def export(
    records: RecordsArg,
    fmt: Annotated[export_module.ExportFormat, typer.Option("--format", "-f")],
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
) -> None:
    """Write every event as ACLED-style CSV, PLOVER JSONL, a flat CSV or Parquet (one row each);
    an events.duckdb data set (from ``resolve``) as ACLED CSV, one row per resolved event."""
    if records.suffix == ".duckdb":
        try:
            count = export_module.export_events(records, fmt, output)
        except SummarizerError as exc:
            raise _fail(str(exc), exc.exit_code) from None
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE) from None
        typer.echo(f"{count} resolved event(s) -> {output} ({fmt})", err=True)
        return
    loaded = _records(records)
    try:
        count = export_module.export(loaded, fmt, output)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE) from None
    typer.echo(f"{count} event(s) from {len(loaded)} record(s) -> {output} ({fmt})", err=True)


@app.command("eval")
def eval_(
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="mucsum-dev, or a MUCSUM-format JSON file")
    ] = "mucsum-dev",
    output: Annotated[Path, typer.Option("--output", "-o", help="scores as JSON")] = Path(
        "eval.json"
    ),
    records: Annotated[
        Path | None, typer.Option(help="score these records instead of running the model")
    ] = None,
    save_records: Annotated[
        Path | None, typer.Option(help="also write the records made (JSONL)")
    ] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
) -> None:
    """Run the pipeline over a gold data set; score event types, slots and summaries.

    Exit 0 when every document got a record, 1 when some failed (they are listed in the JSON and
    scored as missed), 2 on bad input or configuration.
    """
    _quiet_libraries()
    try:
        data = evaluate_module.load_dataset(dataset)
        if records is not None:
            run = evaluate_module.Run(records=records_module.load_records(records))
        else:
            run = evaluate_module.run_pipeline(
                data, _settings(model=model, base_url=base_url, mode=mode)
            )
    except SummarizerError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    if save_records is not None:
        save_records.write_text(
            "".join(r.model_dump_json() + "\n" for r in run.records), encoding="utf-8"
        )
    scores = evaluate_module.score(data, run.records)
    result = {"dataset": dataset, **scores, "errors": run.errors}
    if run.records:
        result["model"] = run.records[0].provenance.model
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    typer.echo(evaluate_module.table(scores))
    for error in run.errors:
        typer.echo(f"error: {error['id']}: {error['message']}", err=True)
    if run.errors:
        raise typer.Exit(1)


# ------------------------------------------------------------------------------------ batch jobs


class Engine(StrEnum):
    realtime = "realtime"
    openai_batch = "openai-batch"


@app.command()
def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(help="JSONL or CSV files, directories of .txt/.md/.html, or - (JSONL)"),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="results, one JSON per line")],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    concurrency: Annotated[int, typer.Option(min=1, help="articles in flight")] = 8,
    rpm: Annotated[float | None, typer.Option(help="requests per minute (client side)")] = None,
    tpm: Annotated[float | None, typer.Option(help="tokens per minute (client side)")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="neither read nor fill")] = False,
    cache: Annotated[Path | None, typer.Option(help="cache file (SQLite)")] = None,
    max_cost: Annotated[float | None, typer.Option(help="stop before spending more USD")] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="stop before using more tokens (this run)")
    ] = None,
    prices: Annotated[Path | None, typer.Option(help="JSON price table (USD/1M tokens)")] = None,
    engine: Annotated[Engine, typer.Option(help="realtime or the OpenAI Batch API")] = (
        Engine.realtime
    ),
    restart: Annotated[bool, typer.Option("--restart", help="discard OUTPUT, start over")] = False,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="analyse again the model/provider failures")
    ] = False,
    poll: Annotated[float, typer.Option(hidden=True, help="Batch API poll interval (s)")] = 30.0,
) -> None:
    """Analyse many articles; run the same command again to resume where it stopped."""
    import asyncio

    from summarizer.batch import inputs as batch_inputs
    from summarizer.batch.cost import load_prices
    from summarizer.batch.engine import Job, Options
    from summarizer.batch.journal import errors_path
    from summarizer.batch.progress import Reporter

    _quiet_libraries()
    settings = _settings(model=model, base_url=base_url, mode=mode)

    async def drain(job: Job, names: list[str]) -> None:
        async for _ in job.run(batch_inputs.read(names)):
            pass

    try:
        names = batch_inputs.check(inputs)
        options = Options(
            concurrency=concurrency,
            rpm=rpm,
            tpm=tpm,
            cache=False if no_cache else (cache or True),
            max_cost=max_cost,
            max_tokens=max_tokens,
            prices=load_prices(prices),
            output=output,
            restart=restart,
            retry_errors=retry_errors,
            engine=engine.value,
            poll_s=poll,
        )
        job = Job(settings, options)
        job.stats.total = batch_inputs.count(names)
        reporter = Reporter(job.stats)
        job.on_record = reporter.on_record
        with reporter:
            asyncio.run(drain(job, names))
    except SummarizerError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; run the same command again to resume", 1) from None
    reporter.console.print(reporter.summary())
    stats = job.stats
    if stats.stopped:
        raise _fail(
            f"stopped: {stats.stopped}; {stats.left} article(s) left, run the same command "
            "again to resume",
            1,
        )
    failed = job.journal.error_count if job.journal else stats.failed
    if failed:
        typer.echo(f"warning: {failed} error record(s) in {errors_path(output)}", err=True)
        raise typer.Exit(1)


@app.command()
def report(
    records: RecordsArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")] = Path(
        "report.html"
    ),
    source: SourceOpt = None,
    articles: ArticlesOpt = None,
) -> None:
    """Write a self-contained HTML evidence report: the article with every span highlighted and
    linked to the events, quotes and bullets it supports (an index for several records)."""
    loaded = _records(records)
    texts: dict[str, str] = {}
    try:
        for path in (source, articles):
            if path is not None:
                texts |= records_module.load_texts(path)
        missing = report_module.write(loaded, texts, output)
    except SummarizerError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE) from None
    typer.echo(f"{len(loaded)} record(s) -> {output}", err=True)
    if missing:
        typer.echo(
            f"warning: no article text for {missing} record(s) (matched by text_sha256); "
            "they are shown without it",
            err=True,
        )


@app.command("resolve")
def resolve_events(
    records: Annotated[
        list[Path] | None, typer.Argument(help="records (OUT.jsonl from batch, or JSON)")
    ] = None,
    output: Annotated[
        list[Path] | None,
        typer.Option("--output", "-o", help="events.duckdb, events.parquet or events.jsonl"),
    ] = None,
    into: Annotated[
        Path | None, typer.Option("--into", help="events.duckdb data set to add the records to")
    ] = None,
) -> None:
    """Group event records that report the same real-world event: one row per event, with its
    sources, merged fields and why they were joined. Exit 2 on bad input (nothing is written)."""
    from summarizer.resolve import run as resolve_records  # (cli's `resolve` is llm's)

    if not records:
        raise _fail("give at least one records file", EXIT_USAGE)
    if not output and into is None:
        raise _fail("give -o events.duckdb|events.parquet|events.jsonl or --into", EXIT_USAGE)
    try:
        count, _ = resolve_records(records, into=into, outputs=output or [])
    except SummarizerError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    except OSError as exc:
        raise _fail(f"cannot write: {exc.strerror or exc}", EXIT_USAGE) from None
    written = ", ".join(str(p) for p in ([into] if into else []) + (output or []))
    typer.echo(f"{count} event(s) -> {written}", err=True)
