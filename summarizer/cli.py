"""``summarizer``: analyse news reports from the shell.

Exit codes: 0 success; 1 the model or provider failed (no record); 2 bad input or configuration
(flags, settings, an output that is an input or cannot be written). Errors are one line on
stderr, control characters escaped, never a traceback.

Startup stays fast: this module imports only typer and the standard library at the top; each
command imports the stages it needs (openai, instructor, rouge-score, pyarrow load only where
used; ``tests/test_cli_conventions.py`` checks it, ``benchmarks/startup.py`` measures it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from summarizer import calllog
from summarizer.errors import (
    EXIT_USAGE,
    ConfigError,
    SummarizerError,
    check_output,
    mask_url,
    printable,
)

if TYPE_CHECKING:
    from summarizer.schema import ArticleAnalysis
    from summarizer.settings import Settings

_UsageError = typer.BadParameter.__base__  # click's UsageError (typer may vendor click)


def _plain_metavars(params: list[Any]) -> None:
    """Help shows no type placeholders (``<bool>``, ``<str>``, ``{file}``): a flag shows
    nothing, a choice ``[a|b]``, any other value its metavar (else its name in capitals), and
    an argument is ``NAME`` in usage (``[NAME]`` when optional)."""
    for param in params:
        if param.metavar is None:
            if getattr(param, "is_flag", False):
                param.metavar = ""
            elif getattr(param.type_descriptor, "is_choice", False):
                choices = param.type_descriptor.choices or ()
                param.metavar = "[" + "|".join(str(getattr(c, "value", c)) for c in choices) + "]"
            else:
                param.metavar = (param.name or "value").upper()
        if param.param_type_name == "argument":
            usage = param.metavar if param.required else f"[{param.metavar}]"
            param.display_type_rich = lambda ctx: None
            param._usage_display_name = lambda usage=usage: usage


class _OneLineErrors(TyperGroup):
    """A bad flag or argument is one ``error:`` line too (exit 2), not a usage box."""

    def invoke(self, ctx: typer.Context) -> object:
        try:
            return super().invoke(ctx)
        except _UsageError as exc:  # type: ignore[misc]
            where = exc.ctx.command_path if exc.ctx else ctx.command_path
            raise _fail(f"{exc.format_message()} (see {where} --help)", EXIT_USAGE) from None

    def get_params(self, ctx: typer.Context) -> list[Any]:
        params = super().get_params(ctx)
        _plain_metavars(params)
        return params

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_metavars(command.get_params(ctx))
        return command


app = typer.Typer(
    cls=_OneLineErrors,
    no_args_is_help=True,
    add_completion=True,
    epilog="Example: summarizer run article.txt --published 2020-03-13 > record.json",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(show: bool) -> None:
    if show:
        from summarizer.resources import __version__

        typer.echo(f"summarizer {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Turn news reports into validated, source-grounded event records and summaries.

    Settings come from flags, then SUMMARIZER_* environment variables (OPENAI_API_KEY and
    OPENAI_BASE_URL too), then a .env file. Exit codes: 0 ok, 1 model or provider failure,
    2 bad input or configuration.
    """


class Format(StrEnum):
    json = "json"
    markdown = "markdown"


ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="PROVIDER/MODEL",
        help="e.g. openai/gpt-4.1-mini, ollama/qwen2.5:7b [env: SUMMARIZER_MODEL]",
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        metavar="URL",
        help="OpenAI-compatible endpoint [env: SUMMARIZER_BASE_URL, OPENAI_BASE_URL]",
    ),
]
RecordsArg = Annotated[
    Path,
    typer.Argument(metavar="RECORDS", help="RECORD.json (one or a list) or OUT.jsonl"),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        metavar="FILE|URL",
        help="the article the record was made from (.txt/.html file or http(s) URL)",
    ),
]
ArticlesOpt = Annotated[
    str | None,
    typer.Option(
        metavar="INPUT",
        help="the articles: a batch input (.jsonl/.csv), a folder, a file or a URL",
    ),
]
NoLogOpt = Annotated[
    bool,
    typer.Option(
        "--no-log", help="keep no call log (also SUMMARIZER_LOG=0); see `summarizer logs`"
    ),
]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--mode",
        metavar="MODE",
        help="tools (default), json_schema, json or md_json [env: SUMMARIZER_MODE]",
    ),
]
FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="json (one record) or markdown (to read)")
]
MaxCharsOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        metavar="N",
        help="longest document accepted, in characters (default 5,000,000) "
        "[env: SUMMARIZER_MAX_CHARS]",
    ),
]
STDOUT = Path("-")
"""``-o -``: write to stdout."""


def _examples(*lines: str) -> str:
    """An epilog that help shows verbatim (click keeps a paragraph that starts with \\b)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {printable(message)}", err=True)
    return typer.Exit(code)


def _failed(exc: SummarizerError) -> typer.Exit:
    """The one line for a library error; a configuration error also names the flags that set
    the settings it names (the library's message names the settings and their variables)."""
    message = str(exc)
    fields = getattr(exc, "fields", ())
    if isinstance(exc, ConfigError) and fields:
        flags = " or ".join("--" + f.replace("_", "-") for f in fields)
        message += f"; on the command line: {flags}"
    return _fail(message, exc.exit_code)


def _settings(**flags: object) -> Settings:
    """Settings from ``flags`` over the environment; a bad value is one line naming its flag or
    environment variable."""
    from pydantic import ValidationError

    from summarizer.settings import Settings, env_names

    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        if flags.get(name) is not None:
            origin = "--" + name.replace("_", "-")
        else:
            envs = env_names(name) if name in Settings.model_fields else ["?"]
            origin = " or ".join(envs) + " (environment or .env)"
        message = first["msg"].removeprefix("Value error, ")
        raise _fail(f"invalid setting {name} from {origin}: {message}", EXIT_USAGE) from None


def _out(text: str | bytes) -> None:
    """Write ``text`` to stdout now; a closed or full stdout is an OSError (and Python's own
    flush at exit is sent to /dev/null, so it adds no traceback)."""
    if sys.stdout is None:
        raise OSError("stdout is closed")
    try:
        if isinstance(text, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(text)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    except OSError:
        with contextlib.suppress(OSError, ValueError):  # ValueError: no descriptor (tests)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise


def _stdout(output: Path | None) -> bool:
    return output is None or output == STDOUT


def _deliver(text: str, output: Path | None, *, keep: str | None = None) -> None:
    """Write ``text`` to ``output`` (None or ``-``: stdout). If that fails, one line says so;
    with ``keep`` (what the text is) the text is first saved to a recovery file the line names."""
    where = "stdout" if _stdout(output) else str(output)
    try:
        if output is None or _stdout(output):
            _out(text)
        else:
            output.write_text(text, encoding="utf-8")
        return
    except OSError as exc:
        problem = f"cannot write {where}: {exc.strerror or exc}"
    if keep:
        suffix = output.suffix if output is not None and not _stdout(output) else ".out"
        try:
            fd, saved = tempfile.mkstemp(prefix="summarizer-", suffix=suffix)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
            problem += f"; the {keep} is saved in {saved}"
        except OSError as exc:
            problem += f"; the {keep} could not be saved either ({exc.strerror or exc})"
    raise _fail(problem, EXIT_USAGE)


@contextlib.contextmanager
def _file_or_stdout(output: Path, suffix: str) -> Iterator[Path]:
    """A path to write: ``output`` itself, or for ``-`` a temporary file copied to stdout."""
    if not _stdout(output):
        yield output
        return
    with tempfile.TemporaryDirectory(prefix="summarizer-") as folder:
        path = Path(folder) / f"out{suffix}"
        yield path
        try:
            _out(path.read_bytes())
        except OSError as exc:
            raise _fail(f"cannot write stdout: {exc.strerror or exc}", EXIT_USAGE) from None


def _checked(output: Path | None, *inputs: Path | str | None) -> None:
    """Refuse, before any work, an output that is an input or cannot be written."""
    if output is not None and not _stdout(output):
        try:
            check_output(output, *inputs)
        except SummarizerError as exc:
            raise _failed(exc) from None


def _emit(
    results: list[ArticleAnalysis], fmt: Format, output: Path | None, *, keep: str | None = None
) -> None:
    from summarizer.output import to_json, to_markdown

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
    _deliver(text, output, keep=keep)


def _quiet_libraries() -> None:
    # instructor logs every failed attempt at ERROR; re-asks are reported in validation.issues.
    logging.getLogger("instructor").setLevel(logging.CRITICAL)


def _plan_text(plan: Any, settings: Settings) -> str:
    """What a run will do and cost, before it starts (``run --dry-run`` prints only this)."""
    from summarizer.batch.cost import COMPLETION_GUESS, PRICES, dollars, price_for
    from summarizer.schema import Usage

    answers = plan.calls * COMPLETION_GUESS
    usage = Usage(prompt_tokens=plan.prompt_tokens, completion_tokens=answers)
    cost = dollars(usage, price_for(settings.model, PRICES))
    money = "unknown (no price for this model)" if cost is None else f"about ${cost:,.4f}"
    return (
        f"plan: {plan.describe()}\n"
        f"estimated cost: {money} ({answers:,} answer tokens assumed, list prices, no re-asks)\n"
    )


class StrictnessOpt(StrEnum):
    strict = "strict"
    lenient = "lenient"


@app.command(
    epilog=_examples(
        "summarizer run article.txt --published 2020-03-13 > record.json",
        "cat article.txt | summarizer run --format markdown -o -",
        "summarizer run a.txt -m ollama/qwen2.5:7b --context-window 32768 --strictness strict",
    )
)
def run(
    ctx: typer.Context,
    file: Annotated[
        str | None,
        typer.Argument(
            metavar="FILE",
            help="article: .txt/.md/.html file, one-record .jsonl/.csv, http(s):// URL; - or "
            "nothing reads text on stdin (when it is not a terminal)",
        ),
    ] = None,
    published: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="publication date, YYYY-MM-DD (anchors 'Friday')"),
    ] = None,
    title: Annotated[
        str | None, typer.Option(metavar="TEXT", help="headline (shown to the model)")
    ] = None,
    source: Annotated[
        str | None, typer.Option(metavar="TEXT", help="outlet name (shown to the model)")
    ] = None,
    url: Annotated[
        str | None, typer.Option(metavar="URL", help="article URL (kept in the record)")
    ] = None,
    id: Annotated[
        str | None,
        typer.Option(
            "--id",
            metavar="ID",
            help="article id (default: the input's id or file name, else hash)",
        ),
    ] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    strictness: Annotated[
        StrictnessOpt | None,
        typer.Option(
            help="lenient (default): a record still failing checks after the re-asks is written, "
            "flagged, exit 0 with a warning; strict: no record, exit 1 "
            "[env: SUMMARIZER_STRICTNESS]",
        ),
    ] = None,
    fmt: FormatOpt = Format.json,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="write here (- or none: stdout)"),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="a second model call judges each summary bullet")
    ] = False,
    context_window: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="TOKENS",
            help="tokens the model's context holds (Ollama: its num_ctx); default: the "
            "provider's [env: SUMMARIZER_CONTEXT_WINDOW]",
        ),
    ] = None,
    max_chars: MaxCharsOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="print the plan (chunks, tokens, calls, cost); no call"),
    ] = False,
    no_log: NoLogOpt = False,
) -> None:
    """Analyse one article: events, quotes and a summary, every span checked against the text."""
    from summarizer import chunking
    from summarizer import inputs as inputs_module
    from summarizer import verify as verify_module
    from summarizer.pipeline import analyze
    from summarizer.source import parse_date

    if file is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise _fail("give an article FILE, or pipe the text on stdin", EXIT_USAGE)
        file = "-"
    _quiet_libraries()
    _checked(output, file)
    settings = _settings(
        model=model,
        base_url=base_url,
        mode=mode,
        strictness=strictness and strictness.value,
        context_window=context_window,
        max_chars=max_chars,
    )
    try:
        ctx.with_resource(calllog.recording(on=not no_log))
        article = inputs_module.read_one(
            file,
            max_chars=settings.max_chars,
            published=parse_date(published, "--published"),
            title=title,
            source=source,
            url=url,
            id=id,
        )
        plan = chunking.plan(article, settings)
        if dry_run:
            _out(_plan_text(plan, settings))
            return
        if plan.chunked:
            typer.echo(printable(_plan_text(plan, settings).rstrip("\n")), err=True)
        result = analyze(article, settings)
        if verify:
            result = verify_module.apply(result, *verify_module.verify(result, settings))
    except SummarizerError as exc:
        raise _failed(exc) from None
    _emit([result], fmt, output, keep="result")
    if not result.validation.ok:
        errors = sum(i.is_error for i in result.validation.issues)
        typer.echo(f"warning: {errors} check(s) failed; see validation.issues", err=True)


@app.command(
    epilog=_examples(
        "summarizer config",
        "summarizer config --model ollama/qwen2.5:7b",
        "OPENAI_BASE_URL=http://localhost:8000/v1 summarizer config",
    )
)
def config(
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
) -> None:
    """Show the resolved settings (API key masked) and where calls would go.

    The JSON goes to stdout; a configuration that cannot make a call also prints its problem on
    stderr and exits 2.
    """
    from summarizer.llm import resolve

    settings = _settings(model=model, base_url=base_url, mode=mode)
    shown = settings.masked()
    problem: SummarizerError | None = None
    try:
        target = resolve(settings)
        shown["resolved"] = {
            "provider": target.provider,
            "model": target.model,
            "base_url": target.base_url and mask_url(target.base_url),
        }
    except SummarizerError as exc:
        shown["resolved"] = None
        shown["problem"] = str(exc)
        problem = exc
    _deliver(json.dumps(shown, indent=2, default=str) + "\n", None)
    if problem is not None:
        raise _failed(problem)


@app.command(
    epilog=_examples("summarizer demo", "summarizer demo --format json | jq '.[0].events'")
)
def demo(
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="json (a list of records) or markdown")
    ] = Format.markdown,
    record: Annotated[
        str | None,
        typer.Option(
            hidden=True, metavar="URL", help="re-record the demo cassettes from this server URL"
        ),
    ] = None,
) -> None:
    """Run the bundled example articles through the full pipeline, replaying recorded responses."""
    from summarizer import demo as demo_module

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


@app.command(
    epilog=_examples(
        "summarizer validate out.jsonl --articles input.jsonl",
        "summarizer validate record.json --source article.txt --strictness lenient",
        "summarizer validate out.jsonl --articles examples/ --format json",
    )
)
def validate(
    records: RecordsArg,
    source: SourceOpt = None,
    articles: ArticlesOpt = None,
    strictness: Annotated[
        StrictnessOpt,
        typer.Option(help="strict: any error fails; lenient: only errors a record hides"),
    ] = StrictnessOpt.strict,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="text (one line per record) or json")
    ] = ReportFormat.text,
    max_chars: MaxCharsOpt = None,
) -> None:
    """Re-check stored records against their source texts with the pipeline's rules.

    Exit 0 when no record fails, 1 when one does, 2 on bad input.
    """
    from summarizer import records as records_module
    from summarizer import validate as validate_module

    if (source is None) == (articles is None):
        raise _fail("give exactly one of --source ARTICLE or --articles INPUT", EXIT_USAGE)
    try:
        ceiling = _settings(max_chars=max_chars).max_chars
        texts = records_module.load_texts(source or articles, ceiling)  # type: ignore[arg-type]
        loaded = records_module.load_records(records)
    except SummarizerError as exc:
        raise _failed(exc) from None
    verdicts = validate_module.recheck_all(loaded, texts)
    if fmt is ReportFormat.json:
        shown = validate_module.as_json(verdicts, strictness.value)
        _deliver(json.dumps(shown, indent=2, ensure_ascii=False) + "\n", None)
    else:
        _deliver(validate_module.report(verdicts, strictness.value), None)
    if any(v.failed(strictness.value) for v in verdicts):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- export, report, eval


def _records(path: Path) -> list[ArticleAnalysis]:
    from summarizer import records as records_module

    try:
        return records_module.load_records(path)
    except SummarizerError as exc:
        raise _failed(exc) from None


@app.command(
    epilog=_examples(
        "summarizer export out.jsonl --format acled-csv -o events.csv",
        "summarizer export record.json -f plover-jsonl -o - | head -1",
    )
)
def export(
    records: RecordsArg,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", metavar="FORMAT", help="acled-csv, plover-jsonl, csv or parquet"
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="file to write (-: stdout)")
    ],
) -> None:
    """Write every event as ACLED-style CSV, PLOVER JSONL, a flat CSV or Parquet (one row each);
    an events.duckdb data set (from ``resolve``) as ACLED CSV, one row per resolved event."""
    from summarizer import export as export_module

    try:
        chosen = export_module.ExportFormat(fmt)
    except ValueError:
        names = ", ".join(f.value for f in export_module.ExportFormat)
        raise _fail(f"unknown --format {fmt!r}; use one of {names}", EXIT_USAGE) from None
    _checked(output, records)
    if records.suffix == ".duckdb":
        try:
            with _file_or_stdout(output, ".csv") as path:
                count = export_module.export_events(records, chosen, path)
        except SummarizerError as exc:
            raise _failed(exc) from None
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE) from None
        typer.echo(printable(f"{count} resolved event(s) -> {output} ({chosen})"), err=True)
        return
    loaded = _records(records)
    suffix = "." + chosen.value.rsplit("-", 1)[-1]
    try:
        with _file_or_stdout(output, suffix) as path:
            count = export_module.export(loaded, chosen, path)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE) from None
    shown = "stdout" if _stdout(output) else output
    left_out = sum(len(r.events) for r in loaded) - count
    note = f"; {left_out} without an ACLED type left out" if left_out else ""
    typer.echo(
        printable(f"{count} event(s) from {len(loaded)} record(s) -> {shown} ({chosen}){note}"),
        err=True,
    )


@app.command(
    "eval",
    epilog=_examples(
        "summarizer eval --dataset mucsum-dev -o eval.json",
        "summarizer eval --records out.jsonl -d gold.json -o scores.json",
    ),
)
def eval_(
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset", "-d", metavar="NAME|FILE", help="mucsum-dev, or a MUCSUM-format JSON file"
        ),
    ] = "mucsum-dev",
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="scores as JSON")
    ] = Path("eval.json"),
    records: Annotated[
        Path | None,
        typer.Option(metavar="RECORDS", help="score these records instead of running the model"),
    ] = None,
    save_records: Annotated[
        Path | None, typer.Option(metavar="FILE", help="also write the records made (JSONL)")
    ] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    concurrency: Annotated[int, typer.Option(min=1, help="documents in flight")] = 8,
    rpm: Annotated[float | None, typer.Option(help="requests per minute (client side)")] = None,
    tpm: Annotated[float | None, typer.Option(help="tokens per minute (client side)")] = None,
    no_log: NoLogOpt = False,
) -> None:
    """Run the pipeline over a gold data set; score event types, slots and summaries.

    Documents are analysed as `batch` does (--concurrency, --rpm, --tpm; progress on stderr).
    Exit 0 when every document got a record, 1 when some failed (they are listed in the JSON and
    scored as missed), 2 on bad input or configuration.
    """
    from summarizer import evaluate as evaluate_module
    from summarizer import records as records_module
    from summarizer.batch.progress import Reporter

    _quiet_libraries()
    _checked(output, records, dataset)
    _checked(save_records, records, dataset, output)
    try:
        data = evaluate_module.load_dataset(dataset)
        if records is not None:
            run = evaluate_module.Run(records=records_module.load_records(records))
        else:
            settings = _settings(model=model, base_url=base_url, mode=mode)
            job = evaluate_module.job(settings, concurrency=concurrency, rpm=rpm, tpm=tpm)
            job.stats.total = len(data)
            reporter = Reporter(job.stats)
            job.on_record = reporter.on_record
            with calllog.recording(on=not no_log), reporter:
                run = evaluate_module.run_pipeline(data, settings, runner=job)
    except SummarizerError as exc:
        raise _failed(exc) from None
    if save_records is not None:
        lines = "".join(r.model_dump_json() + "\n" for r in run.records)
        _deliver(lines, save_records, keep="records")
    scores = evaluate_module.score(data, run.records)
    result = {"dataset": dataset, **scores, "errors": run.errors}
    if run.records:
        result["model"] = run.records[0].provenance.model
        result["endpoint"] = run.records[0].provenance.endpoint
    _deliver(json.dumps(result, indent=2) + "\n", output, keep="scores")
    table = evaluate_module.table(scores).splitlines()
    _deliver("".join(printable(line) + "\n" for line in table), None)
    for error in run.errors:
        typer.echo(printable(f"error: {error['id']}: {error['message']}"), err=True)
    if run.errors:
        raise typer.Exit(1)


# ------------------------------------------------------------------------------------ batch jobs


class Engine(StrEnum):
    realtime = "realtime"
    openai_batch = "openai-batch"


@app.command(
    epilog=_examples(
        "summarizer batch wire.jsonl -o out.jsonl --rpm 500 --concurrency 16",
        "cat day.jsonl | summarizer batch - -o out.jsonl --engine openai-batch --poll 60",
    )
)
def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT...",
            help="JSONL or CSV files, directories of .txt/.md/.html, or - (JSONL)",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="OUT.jsonl", help="results, one JSON per line")
    ],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    concurrency: Annotated[int, typer.Option(min=1, metavar="N", help="articles in flight")] = 8,
    rpm: Annotated[
        float | None, typer.Option(metavar="N", help="requests per minute (client side)")
    ] = None,
    tpm: Annotated[
        float | None, typer.Option(metavar="N", help="tokens per minute (client side)")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="neither read nor fill")] = False,
    cache: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="cache file (SQLite) [env: SUMMARIZER_CACHE; default "
            "~/.cache/summarizer/analyses.sqlite]",
        ),
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option(metavar="USD", help="stop before spending more USD")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(metavar="N", help="stop before using more tokens (this run)")
    ] = None,
    prices: Annotated[
        Path | None, typer.Option(metavar="FILE", help="JSON price table (USD/1M tokens)")
    ] = None,
    engine: Annotated[Engine, typer.Option(help="realtime or the OpenAI Batch API")] = (
        Engine.realtime
    ),
    restart: Annotated[bool, typer.Option("--restart", help="discard OUTPUT, start over")] = False,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="analyse again the model/provider failures")
    ] = False,
    poll: Annotated[
        float, typer.Option(metavar="SECONDS", help="Batch API poll interval (s)")
    ] = 30.0,
    wait: Annotated[
        bool, typer.Option("--wait", help="wait for another job on OUTPUT instead of refusing")
    ] = False,
    log: Annotated[
        bool, typer.Option("--log", help="keep the call log (off for batch; see `summarizer logs`)")
    ] = False,
    max_chars: MaxCharsOpt = None,
) -> None:
    """Analyse many articles; run the same command again to resume where it stopped.

    One job at a time per OUTPUT: a second one exits 2 naming the first one's pid (or waits).
    """
    import asyncio

    from summarizer.batch import inputs as batch_inputs
    from summarizer.batch.cost import load_prices
    from summarizer.batch.engine import Job, Options
    from summarizer.batch.journal import errors_path
    from summarizer.batch.progress import Reporter

    _quiet_libraries()
    settings = _settings(model=model, base_url=base_url, mode=mode, max_chars=max_chars)
    ceiling = settings.max_chars

    async def drain(job: Job, names: list[str]) -> None:
        async for _ in job.run(batch_inputs.read(names, max_chars=ceiling)):
            pass

    try:
        names = batch_inputs.check(inputs, output, max_chars=ceiling)
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
            wait=wait,
            engine=engine.value,
            poll_s=poll,
        )
        job = Job(settings, options)
        job.stats.total = batch_inputs.count(names, max_chars=ceiling)
        reporter = Reporter(job.stats)
        job.on_record = reporter.on_record
        with calllog.recording(on=log), reporter:
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


@app.command(
    epilog=_examples(
        "summarizer report out.jsonl --articles input.jsonl -o report.html",
        "summarizer report record.json --source article.txt -o - > page.html",
        "summarizer report events.duckdb --records out.jsonl --articles input.jsonl -o events.html",
    )
)
def report(
    records: Annotated[
        Path,
        typer.Argument(
            metavar="RECORDS|EVENTS",
            help="RECORD.json (one or a list) or OUT.jsonl; or an events data set from `resolve` "
            "(events.duckdb or events.parquet, or events.jsonl with --records)",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="HTML file to write (-: stdout)")
    ] = Path("report.html"),
    source: SourceOpt = None,
    articles: ArticlesOpt = None,
    members: Annotated[
        Path | None,
        typer.Option(
            "--records",
            metavar="OUT.jsonl",
            help="for an events data set: the records it was resolved from",
        ),
    ] = None,
    max_chars: MaxCharsOpt = None,
) -> None:
    """Write a self-contained HTML evidence report: the article with every span highlighted and
    linked to the events, quotes and bullets it supports (an index for several records). For an
    events data set: the events' index and map, and each event's reports side by side."""
    from summarizer import records as records_module
    from summarizer import report as report_module
    from summarizer import resolution

    dataset = records.suffix in (".duckdb", ".parquet") or members is not None
    if dataset and members is None:
        raise _fail(
            f"{records} is an events data set: give --records OUT.jsonl, the records it was "
            "resolved from",
            EXIT_USAGE,
        )
    _checked(output, records, source, articles, members)
    try:
        events = resolution.load_events(records) if dataset else []
    except SummarizerError as exc:
        raise _failed(exc) from None
    loaded = _records(members if members is not None else records)
    texts: dict[str, str] = {}
    try:
        for path in (source, articles):
            if path is not None:
                texts |= records_module.load_texts(path, _settings(max_chars=max_chars).max_chars)
        with _file_or_stdout(output, ".html") as page:
            if dataset:
                unknown, missing = report_module.write_events(events, loaded, texts, page)
            else:
                unknown, missing = 0, report_module.write(loaded, texts, page)
    except SummarizerError as exc:
        raise _failed(exc) from None
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE) from None
    shown = "stdout" if _stdout(output) else output
    what = f"{len(events)} event(s) from " if dataset else ""
    typer.echo(printable(f"{what}{len(loaded)} record(s) -> {shown}"), err=True)
    if unknown:
        typer.echo(
            f"warning: {unknown} report(s) of the data set are not in the records given "
            "(matched by article id); their stored evidence is shown",
            err=True,
        )
    if missing:
        typer.echo(
            f"warning: no article text for {missing} {'report' if dataset else 'record'}(s) "
            "(matched by text_sha256); they are shown without it",
            err=True,
        )


@app.command()
def logs(
    count: Annotated[int, typer.Option("-n", "--count", min=0, help="last N calls; 0: all")] = 3,
    id: Annotated[str | None, typer.Option("--id", help="only this record's calls")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON list of the rows")] = False,
    path: Annotated[
        bool, typer.Option("--path", help="print where the log is, and nothing else")
    ] = False,
) -> None:
    """Show the call log: each model request and answer (re-asks included), oldest first.

    The log is $SUMMARIZER_LOG_PATH (default: logs.db in the user data folder); `run` and `eval`
    write it unless --no-log or SUMMARIZER_LOG=0, `batch` with --log.
    """
    where = calllog.default_path()
    if path:
        _deliver(printable(str(where)) + "\n", None)
        return
    try:
        rows = calllog.read(where, limit=count or None, record_id=id)
    except SummarizerError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    if as_json:
        _deliver(calllog.as_json(rows), None)
    else:
        _deliver(printable(calllog.as_text(rows), lines=True), None)


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
    adjudicate: Annotated[
        bool,
        typer.Option("--adjudicate", help="the model judges borderline pairs (cached, counted)"),
    ] = False,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    mode: ModeOpt = None,
    cache: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="adjudication cache, SQLite (default: beside --cache's)"),
    ] = None,
) -> None:
    """Group event records that report the same real-world event: one row per event, with its
    sources, merged fields and why they were joined. Exit 2 on bad input (nothing is written),
    1 when the model's provider fails under --adjudicate."""
    from summarizer.resolution import run as resolve_records

    if not records:
        raise _fail("give at least one records file", EXIT_USAGE)
    if not output and into is None:
        raise _fail("give -o events.duckdb|events.parquet|events.jsonl or --into", EXIT_USAGE)
    adjudicator = None
    if adjudicate:
        from summarizer.adjudicate import Adjudicator

        adjudicator = Adjudicator(_settings(model=model, base_url=base_url, mode=mode), cache)
    try:
        count, _ = resolve_records(
            records, into=into, outputs=output or [], adjudicator=adjudicator
        )
    except SummarizerError as exc:
        raise _failed(exc) from None
    except OSError as exc:
        raise _fail(f"cannot write: {exc.strerror or exc}", EXIT_USAGE) from None
    finally:
        if adjudicator is not None:
            adjudicator.close()
    written = ", ".join(str(p) for p in ([into] if into else []) + (output or []))
    typer.echo(f"{count} event(s) -> {written}", err=True)
    if adjudicator is not None:
        s = adjudicator.summary()
        cost = "cost unknown" if s["cost_usd"] is None else f"${s['cost_usd']:.4f}"
        typer.echo(
            f"adjudicated {s['pairs']} pair(s) ({s['from_cache']} from the cache): "
            f"{s['calls']} call(s), {s['prompt_tokens']} prompt + {s['completion_tokens']} "
            f"completion tokens, {cost}",
            err=True,
        )
