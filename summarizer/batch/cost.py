"""What a job spends: tokens, a dollar estimate from a price table, and the budget that stops it.

Prices are US dollars per million tokens (input, cached input, output), looked up in this order:

1. your table (``--prices FILE``, a JSON object ``{"model": {"input": …, "cached_input": …,
   "output": …}}``), which overrides everything below;
2. local providers (``ollama``, ``vllm``, ``llamacpp``) cost 0;
3. the price data bundled with ``genai-prices`` (maintained by Pydantic; read from the installed
   package, never fetched at run time), for the model's provider.

The Batch API costs half. A model found nowhere has no dollar estimate (and cannot be used with
``--max-cost``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
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


LOCAL = ("ollama", "vllm", "llamacpp")  # providers that run on your own machine: free
FREE = Price(input=0, cached_input=0, output=0)
BATCH_DISCOUNT = 0.5


class Prices(dict[str, Price]):
    """Your price table (model name -> :class:`Price`); a model missing from it is looked up
    as the module docstring says (``prices["gpt-4.1-mini"]`` works without a table)."""

    def __missing__(self, model: str) -> Price:
        found = price_for(model, self)
        if found is None:
            raise KeyError(model)
        return found


PRICES = Prices()  # no table of our own: genai-prices' data


def load_prices(path: Path | None) -> Prices:
    """The price table in ``path`` (none: an empty one), over genai-prices' data."""
    table = Prices()
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
    """The price of ``model`` (``provider/name``): from ``prices``, else 0 for a local provider,
    else genai-prices' for the provider; in ``prices`` and genai-prices alike the longest known
    name that ``name`` is or starts with followed by ``-`` (a date, a tag) counts."""
    provider, _, name = model.rpartition("/")
    table = dict(prices)  # as given: not through Prices' lookup
    matches = [m for m in table if name == m or name.startswith(m + "-")]
    if matches:
        return table[max(matches, key=len)]
    provider = provider.split("/")[0]
    if provider in LOCAL:
        return FREE
    words = name.split("-")  # a suffix genai-prices does not know (a fine-tune tag) is ignored
    for end in range(len(words), 0, -1):
        if (found := _listed(provider or "openai", "-".join(words[:end]))) is not None:
            return found
    return None


@functools.cache
def _listed(provider: str, name: str) -> Price | None:
    """genai-prices' current price of ``name`` at ``provider`` (its bundled data: no network);
    one :class:`Price` object per listed model, however it was named."""
    from genai_prices import data_snapshot

    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(name, None, provider, None)
    except LookupError:
        return None
    listed = info.get_prices(dt.datetime.now(dt.UTC))

    def per_million(key: str) -> float | None:
        value = getattr(listed, key, None)
        value = getattr(value, "base", value)  # tiered: the price below the first tier
        return float(value) if isinstance(value, Decimal | int | float) else None

    paid, answer, cached = (
        per_million(k) for k in ("input_mtok", "output_mtok", "cache_read_mtok")
    )
    if paid is None or answer is None:
        return None
    price = Price(input=paid, cached_input=paid if cached is None else cached, output=answer)
    return _BY_MODEL.setdefault((provider, info.id), price)


_BY_MODEL: dict[tuple[str, str], Price] = {}


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
