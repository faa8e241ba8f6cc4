"""Settings from (highest first) keyword arguments or CLI flags, ``SUMMARIZER_*`` environment
variables (``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` too) and a ``.env`` file."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from summarizer.errors import mask_url

DEFAULT_MODEL = "openai/gpt-4.1-mini"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUMMARIZER_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        env_parse_none_str="none",
        allow_inf_nan=False,
        hide_input_in_errors=True,  # a base URL may carry a key: no value in any error text
    )

    model: str = Field(
        DEFAULT_MODEL,
        description="provider/model, e.g. openai/gpt-4.1-mini, azure/<deployment>, "
        "ollama/qwen2.5:7b, vllm/<model>, llamacpp/<model>; a bare name uses the OpenAI protocol",
    )
    base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("base_url", "SUMMARIZER_BASE_URL", "OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint (Azure: the resource endpoint)",
    )
    api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("api_key", "SUMMARIZER_API_KEY", "OPENAI_API_KEY")
    )
    mode: Literal["tools", "json_schema", "json", "md_json"] = Field(
        "tools",
        description="how instructor asks for structure; json_schema/json for servers "
        "without tool calling",
    )
    max_retries: int = Field(2, ge=0, le=10, description="validation re-asks after the first try")
    token_budget: int | None = Field(
        60_000, gt=0, description="tokens one article may use across its re-asks"
    )
    transport_retries: int = Field(
        4,
        ge=0,
        description="retries on 408/409/429/5xx/timeouts (openai client; honours Retry-After)",
    )
    timeout_s: float = Field(120.0, gt=0)
    temperature: float | None = Field(0.0, description="null to omit (reasoning models)")
    max_tokens: int | None = Field(8192, gt=0, description="answer length cap; null to omit")
    azure_api_version: str = "2024-10-21"
    strictness: Literal["strict", "lenient"] = Field(
        "lenient",
        description="lenient keeps a record that still fails checks after the re-asks (flagged: "
        "validation.ok false); strict fails the article instead (ChecksFailed, exit 1)",
    )

    context_window: int | None = Field(
        None,
        gt=0,
        description="tokens the model's context holds (Ollama: the num_ctx it runs with); "
        "default: the provider's, see summarizer.llm.context_window",
    )
    max_chars: int | None = Field(
        None,
        gt=0,
        description="longest document accepted, in characters (default "
        "summarizer.source.MAX_CHARS, 5,000,000); long ones are chunked to the context window",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if not url:
            return None
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises for a bad port)
        except ValueError:  # its text may quote a key (http://user:key read as host:port)
            raise ValueError("not a URL (a malformed host or port)") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL with a host, e.g. http://localhost:8000/v1")
        return url

    def masked(self) -> dict[str, object]:
        """The settings as a dict with the API key and URL credentials masked, for display."""
        data = self.model_dump()
        data["base_url"] = self.base_url and mask_url(self.base_url)
        key = self.api_key.get_secret_value() if self.api_key else None
        data["api_key"] = None if not key else ("****" + key[-4:] if len(key) > 12 else "****")
        return data


def env_names(field: str) -> list[str]:
    """The environment variables (also read from ``.env``) that set the setting ``field``."""
    alias = Settings.model_fields[field].validation_alias
    names = [c for c in getattr(alias, "choices", ()) if isinstance(c, str) and c.isupper()]
    return names or [f"SUMMARIZER_{field.upper()}"]


def how_to_set(field: str, example: str) -> str:
    """``Settings(field='example')`` and the variables that set it: the one way a message tells
    a Python caller how to set a setting (the CLI adds its flag)."""
    return f"Settings({field}={example!r}) or {' / '.join(env_names(field))}"
