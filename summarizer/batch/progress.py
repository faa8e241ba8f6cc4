"""Where a batch job is, for people: a rich progress bar on a terminal, plain periodic lines
otherwise, and a summary table at the end (all on stderr; what may quote a provider or an input,
such as the reason a job stopped, is shown with control characters escaped, never as markup)."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from summarizer.batch.engine import Stats
from summarizer.batch.journal import Record
from summarizer.errors import printable


def _money(cost: float | None) -> str:
    return "n/a" if cost is None else f"${cost:.4f}"


def _rate(stats: Stats) -> float:
    return stats.written / stats.elapsed if stats.elapsed > 0 else 0.0


class Reporter:
    """Shows a job's :class:`Stats` while it runs; ``interval`` seconds between plain lines."""

    def __init__(self, stats: Stats, *, console: Console | None = None, interval: float = 10.0):
        self.stats = stats
        self.console = console or Console(stderr=True)
        self.interval = interval
        self._last = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Reporter:
        if self.console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f}/s"),
                TimeRemainingColumn(),
                TextColumn("errors {task.fields[errors]} · {task.fields[spend]}"),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                "batch", total=self.stats.total, rate=0.0, errors=0, spend=_money(None)
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.update()
        if self._bar is not None:
            self._bar.stop()

    def on_record(self, record: Record | None = None, stats: Stats | None = None) -> None:
        now = time.monotonic()
        if self._bar is not None or now - self._last >= self.interval:
            self._last = now
            self.update()

    def update(self) -> None:
        s = self.stats
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task,
                completed=s.done,
                rate=_rate(s),
                errors=s.failed,
                spend=_money(s.cost),
            )
            return
        total = f"/{s.total}" if s.total is not None else ""
        eta = ""
        if s.total is not None and _rate(s) > 0:
            eta = f", ETA {max(0, s.total - s.done) / _rate(s):.0f}s"
        line = (
            f"batch: {s.done}{total} done ({s.cached} cached, {s.failed} errors), "
            f"{_rate(s):.1f}/s{eta}, {_money(s.cost)}"
        )
        self.console.print(Text(printable(line)), highlight=False)

    def summary(self) -> Table:
        s, u = self.stats, self.stats.usage
        table = Table(title="batch summary", show_header=False)
        rows = [
            ("input records", "?" if s.total is None else f"{s.total:,}"),
            ("already done (resumed)", f"{s.skipped:,}"),
            ("analysed", f"{s.analysed:,} ({s.cached:,} from the cache)"),
            ("error records", f"{s.failed:,}"),
            ("left for the next run", f"{s.left:,}"),
            ("model calls", f"{u.calls:,}"),
            ("tokens", f"{u.prompt_tokens:,} prompt ({u.cached_tokens:,} cached) + "
             f"{u.completion_tokens:,} completion"),
            ("cost estimate", _money(s.cost)),
            ("429 answers", f"{s.rate_limited:,} ({s.rate_cuts:,} cut the request rate)"),
            ("time", f"{s.elapsed:.1f}s ({_rate(s):.2f} records/s)"),
        ]  # fmt: skip
        if s.learned:
            stated = ", ".join(f"{name.upper()} {value:,.0f}" for name, value in s.learned.items())
            rows.append(("limits stated by the provider", stated))
        if s.retried:
            rows.append(("error records retried", f"{s.retried:,}"))
        if s.reasked:
            rows.append(("Batch API answers re-asked", f"{s.reasked:,}"))
        if s.stopped:
            rows.append(("stopped", s.stopped))
        for name, value in rows:  # Text: shown as it is (no rich markup), control chars escaped
            table.add_row(name, Text(printable(value)))
        return table
