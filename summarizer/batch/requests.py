"""The one model request of an article as data, and its answer read back, without sending it.

Built with instructor's own request handler and templating for the configured mode, so the body
is byte-for-byte what :func:`summarizer.pipeline.analyze` sends first (the Batch API engine uploads
it; the realtime engine estimates its tokens). Answers are parsed by the same handler with the
article as validation context, so every check of :class:`~summarizer.checks.CheckedExtraction`
runs exactly as in a realtime call.
"""

from __future__ import annotations

from typing import Any

from instructor.v2.core.providers import Provider
from instructor.v2.core.registry import mode_registry
from instructor.v2.core.templating import handle_templating
from openai.types.chat import ChatCompletion

from summarizer import llm, prompts
from summarizer.checks import CheckedExtraction
from summarizer.settings import Settings
from summarizer.source import Article


def _response_model() -> Any:
    return llm.prepared(CheckedExtraction)


def _handlers(settings: Settings) -> Any:
    return mode_registry.get_handlers(Provider.OPENAI, llm.MODES[settings.mode])


def body(article: Article, settings: Settings) -> dict[str, Any]:
    """The chat-completions request body of ``article``'s first attempt."""
    kwargs: dict[str, Any] = {
        "model": llm.resolve(settings).model,
        "messages": prompts.load().messages(),
    }
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if settings.max_tokens is not None:
        kwargs["max_tokens"] = settings.max_tokens
    _, prepared = _handlers(settings).request_handler(
        response_model=_response_model(), kwargs=kwargs
    )
    mode = llm.MODES[settings.mode]
    return handle_templating(
        prepared, mode=mode, provider=Provider.OPENAI, context=prompts.context(article)
    )


def parse(completion: ChatCompletion, article: Article, settings: Settings) -> CheckedExtraction:
    """Validate an answer with every check; raises pydantic's ValidationError (or instructor's
    errors for a cut-off or unreadable answer) when it fails."""
    return _handlers(settings).response_parser(
        response=completion,
        response_model=_response_model(),
        validation_context=prompts.context(article),
        strict=True,
    )
