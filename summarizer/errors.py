"""Errors a user can act on. Each carries the CLI exit code it maps to; messages are one line and
never contain secrets."""

from __future__ import annotations

import re
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1  # the model or the provider failed for this article
EXIT_USAGE = 2  # bad input or configuration


class SummarizerError(Exception):
    exit_code = EXIT_FAILED
    code = "error"


class InputError(SummarizerError, ValueError):
    """Input the pipeline refuses: empty, undecodable, too long, malformed metadata."""

    exit_code = EXIT_USAGE
    code = "bad_input"


class ConfigError(SummarizerError):
    """No usable model configuration."""

    exit_code = EXIT_USAGE
    code = "no_model"


class ModelError(SummarizerError):
    """The model gave no usable answer after every re-ask (``usage`` counts every attempt)."""

    code = "invalid_answer"

    def __init__(self, message: str, *, usage: Any = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.usage = usage
        self.attempts = attempts


class ProviderError(ModelError):
    """The provider refused or failed the request after transport retries."""

    code = "provider_error"


class ProviderUnreachable(ProviderError):
    """No connection to the provider at all (refused, unknown host): nothing was tried."""


class ChecksFailed(SummarizerError):
    """Strict mode: the record still fails checks after every re-ask (``analysis`` holds it)."""

    code = "checks_failed"

    def __init__(self, message: str, *, analysis: Any = None) -> None:
        super().__init__(message)
        self.analysis = analysis


_SECRET_PATTERNS = (
    re.compile(r"sk-[A-Za-z0-9_\-*]{6,}"),
    re.compile(r"(?i)bearer\s+\S+"),
    re.compile(r"(?<=://)[^/@\s]+(?=@)"),  # credentials in a URL: scheme://user:key@host
)


def redact(text: str, *secrets: str | None) -> str:
    """Remove API keys (given ones, anything shaped like one, and URL credentials) from ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("***", text)
    return text
