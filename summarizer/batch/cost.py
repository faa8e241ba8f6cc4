"""What a job spends: tokens, a dollar estimate from a price table, and the budget that stops it.

Prices are US dollars per million tokens (input, cached input, output), list prices of OpenAI's
standard tier as of 2025; the Batch API costs half. Pass your own table (``--prices FILE``, a JSON
object ``{"model": {"input": …, "cached_input": …, "output": …}}``) to override or extend it. A
model missing from the table has no dollar estimate (and cannot be used with ``--max-cost``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from summarizer.errors import ConfigError, InputError
from summarizer.schema import Usage


class Price(BaseModel):
    """US dollars per million tokens: finite, not negative."""

    model_config = ConfigDict(allow_inf_nan=False)

    input: float = Field(ge=0)
    cached_input: float = Field(ge=0)
    output: float = Field(ge=0)


PRICES: dict[str, Price] = {
    "gpt-4.1": Price(input=2.00, cached_input=0.50, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, cached_input=0.10, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, cached_input=0.025, output=0.40),
    "gpt-4o": Price(input=2.50, cached_input=1.25, output=10.00),
    "gpt-4o-mini": Price(input=0.15, cached_input=0.075, output=0.60),
}
BATCH_DISCOUNT = 0.5


def load_prices(path: Path | None) -> dict[str, Price]:
    """The built-in table updated with the one in ``path``."""
    table = dict(PRICES)
    if path is None:
        return table
    name = None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        for name, price in data.items():
            table[name] = Price.model_validate(price)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in (name, *first["loc"]))
        raise InputError(f"{path}: not a price table ({where}: {first['msg']})") from None
    except (ValueError, AttributeError, RecursionError) as exc:
        raise InputError(f"{path}: not a price table ({str(exc).split(';')[0]})") from None
    return table


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price of ``model`` (``provider/`` prefix and date suffixes ignored: longest match)."""
    name = model.rsplit("/", 1)[-1]
    matches = [m for m in prices if name == m or name.startswith(m + "-")]
    return prices[max(matches, key=len)] if matches else None


def dollars(usage: Usage, price: Price | None, *, batch: bool = False) -> float | None:
    if price is None:
        return None
    fresh = max(0, usage.prompt_tokens - usage.cached_tokens)
    total = (
        fresh * price.input
        + usage.cached_tokens * price.cached_input
        + usage.completion_tokens * price.output
    ) / 1e6
    return total * (BATCH_DISCOUNT if batch else 1.0)


COMPLETION_GUESS = 1_500  # answer tokens per call until the job has seen some


class Estimate(NamedTuple):
    """What one article is expected to spend; admitted against the budget, settled when done."""

    tokens_in: int
    tokens_out: int
    cached: int = 0  # of tokens_in, read from the provider's prompt cache (re-asks)
    first: int = 0  # the estimate of its first request's prompt alone (what is learned against)


@dataclass
class Learned:
    """Running totals over the articles finished in this run: what an article really costs."""

    articles: int = 0
    calls: int = 0
    first: int = 0  # first-request prompt estimates
    prompt: int = 0
    cached: int = 0
    completion: int = 0

    def add(self, first: int, usage: Usage) -> None:
        self.articles += 1
        self.calls += usage.calls
        self.first += first
        self.prompt += usage.prompt_tokens
        self.cached += usage.cached_tokens
        self.completion += usage.completion_tokens

    def estimate(self, first: int) -> Estimate:
        """An article whose first request has ``first`` prompt tokens: one call and a
        ``COMPLETION_GUESS`` answer until articles have finished, then their averages (calls,
        re-asks with their growing history, cached share and answer length all included)."""
        if not self.articles or not self.first:
            return Estimate(first, COMPLETION_GUESS, 0, first)
        tokens_in = round(first * self.prompt / self.first)
        cached = round(tokens_in * self.cached / self.prompt) if self.prompt else 0
        return Estimate(tokens_in, round(self.completion / self.articles), cached, first)


@dataclass
class Budget:
    """Spending so far against ``max_cost`` dollars and ``max_tokens`` tokens for one run.

    Work is admitted only while what is spent, plus the estimate of what is in flight, plus the
    estimate of the next article stays within the limits; so the run stops before it would cross
    them, up to the error of the estimates. The estimates are learned (:class:`Learned`): after
    the first articles, an article is expected to cost what the finished ones cost on average, so
    the overshoot is bounded by the articles in flight.
    """

    price: Price | None
    max_cost: float | None = None
    max_tokens: int | None = None
    cost: float = 0.0
    tokens: int = 0
    reserved_cost: float = 0.0
    reserved_tokens: int = 0
    stopped: str | None = None
    learned: Learned = field(default_factory=Learned)

    def __post_init__(self) -> None:
        if self.max_cost is not None and self.price is None:
            raise ConfigError("--max-cost needs a price for this model; pass --prices FILE")

    def estimate(self, first: int) -> Estimate:
        """The expected spend of an article whose first request has ``first`` prompt tokens."""
        return self.learned.estimate(first)

    def estimate_cost(
        self, tokens_in: int, tokens_out: int, batch: bool = False, cached: int = 0
    ) -> float:
        usage = Usage(prompt_tokens=tokens_in, completion_tokens=tokens_out, cached_tokens=cached)
        return dollars(usage, self.price, batch=batch) or 0.0

    def admit(
        self, tokens_in: int, tokens_out: int, *, batch: bool = False, cached: int = 0
    ) -> bool:
        """Reserve an article's estimated spend, or stop the run (and say why) if it won't fit.
        ``batch``: at Batch API prices."""
        if self.stopped:
            return False
        tokens = tokens_in + tokens_out
        cost = self.estimate_cost(tokens_in, tokens_out, batch, cached)
        if self.max_tokens is not None and self.tokens + self.reserved_tokens + tokens > (
            self.max_tokens
        ):
            self.stopped = f"--max-tokens {self.max_tokens:,} reached ({self.tokens:,} used)"
        elif self.max_cost is not None and self.cost + self.reserved_cost + cost > self.max_cost:
            self.stopped = f"--max-cost ${self.max_cost:g} reached (${self.cost:.4f} spent)"
        if self.stopped:
            return False
        self.reserved_tokens += tokens
        self.reserved_cost += cost
        return True

    def settle(
        self,
        tokens_in: int,
        tokens_out: int,
        usage: Usage | None,
        *,
        batch: bool = False,
        cached: int = 0,
        first: int = 0,
    ) -> None:
        """Replace an admitted article's reservation by what it really used; with ``first`` (its
        first request's estimate), learn from it."""
        self.reserved_tokens -= tokens_in + tokens_out
        self.reserved_cost -= self.estimate_cost(tokens_in, tokens_out, batch, cached)
        if usage is not None:
            self.charge(usage, batch=batch)
            if first and usage.calls:
                self.learned.add(first, usage)

    def charge(self, usage: Usage, *, batch: bool = False) -> None:
        self.tokens += usage.prompt_tokens + usage.completion_tokens
        self.cost += dollars(usage, self.price, batch=batch) or 0.0
