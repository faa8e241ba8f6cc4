"""Configuration: environment, .env, model strings -> providers, and keys kept secret."""

from __future__ import annotations

from pathlib import Path

import instructor
import openai
import pytest
from instructor.core.hooks import Hooks

from summarizer import llm
from summarizer.errors import ConfigError
from summarizer.llm import client, resolve
from summarizer.schema import Extraction
from summarizer.settings import Settings


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SUMMARIZER_MODEL=vllm/meta-llama/Llama-3.1-8B\nSUMMARIZER_MAX_RETRIES=4\n"
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-000000")
    monkeypatch.setenv("SUMMARIZER_MAX_RETRIES", "1")
    settings = Settings()
    assert settings.model == "vllm/meta-llama/Llama-3.1-8B"  # from .env
    assert settings.max_retries == 1  # environment beats .env
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "sk-from-env-000000"
    assert "sk-from-env" not in repr(settings)
    assert Settings(max_retries=0).max_retries == 0  # arguments beat both


@pytest.mark.parametrize(
    ("model", "base_url", "expected"),
    [
        ("ollama/qwen2.5:7b", None, ("ollama", "qwen2.5:7b", "http://localhost:11434/v1")),
        (
            "vllm/meta-llama/Llama-3.1-8B",
            None,
            ("vllm", "meta-llama/Llama-3.1-8B", "http://localhost:8000/v1"),
        ),
        ("llamacpp/qwen", None, ("llamacpp", "qwen", "http://localhost:8080/v1")),
        ("vllm/qwen", "http://gpu:9000/v1", ("vllm", "qwen", "http://gpu:9000/v1")),
        (
            "my-org/custom-model",
            "http://host/v1",
            ("openai", "my-org/custom-model", "http://host/v1"),
        ),
    ],
)
def test_model_strings_pick_providers(
    model: str, base_url: str | None, expected: tuple[str, str, str]
) -> None:
    target = resolve(Settings(model=model, base_url=base_url))
    assert (target.provider, target.model, target.base_url) == expected


def test_hosted_providers_need_credentials() -> None:
    with pytest.raises(ConfigError, match="no model configured"):
        resolve(Settings())
    with pytest.raises(ConfigError, match="azure models need the resource endpoint: Settings"):
        client(Settings(model="azure/my-deployment", api_key="k" * 20))
    target = resolve(Settings(api_key="sk-abc-1234567890"))
    assert (target.provider, target.model, target.base_url) == ("openai", "gpt-4.1-mini", None)
    assert "sk-abc" not in repr(target)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("tools", instructor.Mode.TOOLS),
        ("json_schema", instructor.Mode.JSON_SCHEMA),
        ("json", instructor.Mode.JSON),
    ],
)
def test_client_mode_and_transport(mode: str, expected: instructor.Mode) -> None:
    settings = Settings(model="ollama/qwen2.5:7b", mode=mode, transport_retries=3, timeout_s=30)
    made = client(settings)
    assert made.mode is expected
    raw = made.client
    assert isinstance(raw, openai.OpenAI)
    assert raw.max_retries == 3 and str(raw.base_url) == "http://localhost:11434/v1/"


def test_azure_client() -> None:
    settings = Settings(model="azure/dep", base_url="https://x.openai.azure.com", api_key="k" * 20)
    assert isinstance(client(settings).client, openai.AzureOpenAI)
    assert isinstance(client(settings, use_async=True).client, openai.AsyncAzureOpenAI)


def test_masked_shows_only_the_last_characters() -> None:
    assert Settings(api_key="sk-abcdefghijklmnop1234").masked()["api_key"] == "****1234"
    assert Settings(api_key="short").masked()["api_key"] == "****"
    assert Settings().masked()["api_key"] is None


def test_none_leaves_sampling_parameters_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER_TEMPERATURE", "none")
    monkeypatch.setenv("SUMMARIZER_MAX_TOKENS", "none")
    settings = Settings(model="ollama/qwen3")
    assert settings.temperature is None and settings.max_tokens is None
    request = llm._request(settings, resolve(settings), [], {}, Extraction, Hooks())
    assert "temperature" not in request and "max_tokens" not in request
    assert request["max_retries"] == 2 and request["token_budget"] == 60_000
    assert request["model"] == "qwen3"
