"""Prices: genai-prices' bundled data for any listed model (no network), local providers free,
``--prices FILE`` over both; a model priced nowhere cannot take ``--max-cost``."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import genai_prices
import pytest

from summarizer.batch import cost
from summarizer.batch.cost import Budget, dollars, load_prices, price_for
from summarizer.errors import ConfigError
from summarizer.schema import Usage

USAGE = Usage(prompt_tokens=1_000_000, cached_tokens=400_000, completion_tokens=100_000)


@pytest.mark.parametrize("model", ["gpt-5-mini", "o3", "gpt-4.1-mini", "gpt-4o"])
def test_listed_models_cost_what_genai_prices_says(model: str) -> None:
    price = price_for(f"openai/{model}", load_prices(None))
    assert price is not None
    listed = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=1_000_000, cache_read_tokens=400_000, output_tokens=100_000
        ),
        model,
        provider_id="openai",
    )
    assert dollars(USAGE, price) == pytest.approx(float(listed.total_price))
    assert dollars(USAGE, price, batch=True) == pytest.approx(float(listed.total_price) / 2)


def test_dated_names_and_azure_deployments_find_their_model() -> None:
    prices = load_prices(None)
    assert price_for("openai/gpt-4.1-mini-2025-04-14", prices) is prices["gpt-4.1-mini"]
    assert price_for("azure/gpt-4o", prices) is not None
    tagged = price_for("openai/gpt-4.1-mini-reask-once", prices)  # a tag genai-prices lacks
    assert tagged is prices["gpt-4.1-mini"]
    assert price_for("openai/gpt-4o-mini-2024-07-18", prices) is prices["gpt-4o-mini"]


@pytest.mark.parametrize("model", ["ollama/qwen2.5:7b", "vllm/meta-llama/Llama-3-8B", "llamacpp/x"])
def test_local_providers_are_free_and_take_max_cost(model: str) -> None:
    price = price_for(model, load_prices(None))
    assert price is not None and dollars(USAGE, price) == 0.0
    budget = Budget(price, max_cost=0.01)
    assert budget.admit(1_000_000, 100_000)


def test_a_price_file_overrides_both(tmp_path: Path) -> None:
    table = tmp_path / "prices.json"
    rates = {"input": 1.0, "cached_input": 0.5, "output": 2.0}
    table.write_text(json.dumps({"qwen2.5:7b": rates, "gpt-4.1-mini": rates}), encoding="utf-8")
    prices = load_prices(table)
    for model in ("ollama/qwen2.5:7b", "openai/gpt-4.1-mini-2025-04-14"):
        assert dollars(USAGE, price_for(model, prices)) == pytest.approx(0.6 + 0.2 + 0.2)


def test_a_model_priced_nowhere_has_no_estimate_and_no_max_cost() -> None:
    assert price_for("openai/my-finetune", load_prices(None)) is None
    with pytest.raises(ConfigError, match="--prices"):
        Budget(price_for("openai/my-finetune", load_prices(None)), max_cost=1.0)


def test_prices_come_from_the_installed_package_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a price lookup used the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    cost._listed.cache_clear()
    cost._BY_MODEL.clear()
    assert price_for("openai/gpt-4.1-nano", {}) is not None
