"""Errors a user can act on. Each carries the CLI exit code it maps to; messages are one line and
never contain secrets."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
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
    """No usable model configuration. The message names the settings (``Settings`` fields and
    their environment variables); ``fields`` lists those fields, so the CLI can add its flags."""

    exit_code = EXIT_USAGE
    code = "no_model"

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


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


class PromptTruncated(ModelError):
    """The provider read fewer prompt tokens than were sent: it cut the prompt without a word."""

    code = "prompt_truncated"


class ProviderUnreachable(ProviderError):
    """No connection to the provider at all (refused, unknown host): nothing was tried."""


class ChecksFailed(SummarizerError):
    """Strict mode: the record still fails checks after every re-ask (``analysis`` holds it)."""

    code = "checks_failed"

    def __init__(self, message: str, *, analysis: Any = None) -> None:
        super().__init__(message)
        self.analysis = analysis


_SECRET_PATTERNS = (re.compile(r"sk-[A-Za-z0-9_\-*]{6,}"), re.compile(r"(?i)bearer\s+\S+"))


def redact(text: str, *secrets: str | None) -> str:
    """Remove API keys (given ones, anything shaped like one, and URL credentials) from ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("***", text)
    return _URL.sub(lambda m: mask_url(m.group()), text)  # and credentials in URLs


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]+")
_USERINFO = re.compile(r"(?<=://)[^/?#]*@")
_PARAM_VALUE = re.compile(r"=[^&#;]*")


def mask_url(url: str) -> str:
    """``url`` with its credentials masked: the user info (``user:key@``) and every query or
    fragment value become ``***``. The one masking rule for any URL shown to people."""
    url = _USERINFO.sub("***@", url, count=1)
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    return url[:cut] + _PARAM_VALUE.sub("=***", url[cut:])


_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_UNPRINTABLE = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {
    c: f"\\u{c:04x}" for c in (*_BIDI, 0x2028, 0x2029)
}


_UNPRINTABLE_IN_TEXT = {c: v for c, v in _UNPRINTABLE.items() if c not in (0x09, 0x0A)}


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` safe for a terminal line: control characters (C0, DEL, C1, so no escape
    sequence), line separators and bidi overrides become visible ``\\xNN`` / ``\\uNNNN``.
    ``lines=True`` keeps tabs and newlines (multi-line text in a page)."""
    return text.translate(_UNPRINTABLE_IN_TEXT if lines else _UNPRINTABLE)


def check_output(output: Path, *inputs: Path | str | None) -> None:
    """Refuse (:class:`InputError`) an output that is one of ``inputs`` (the same file by any
    path, symlinks and hard links included) or that cannot be written: checked before any work,
    so nothing is overwritten and no paid result is lost."""
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        with contextlib.suppress(OSError):
            if Path(given).is_file() and os.path.samefile(output, given):
                raise InputError(f"the output {output} is the input {given}; write elsewhere")
    folder = output.parent
    if output.is_dir():
        raise InputError(f"cannot write {output}: it is a directory")
    if output.exists() and not os.access(output, os.W_OK):
        raise InputError(f"cannot write {output}: permission denied")
    if not output.exists() and not folder.is_dir():
        raise InputError(f"cannot write {output}: {folder} is not a directory")
    if not output.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {output}: permission denied in {folder}")
