"""What :mod:`summarizer.llm` and the checks do once instead of per request give the same results.

Cassettes match request bodies byte for byte, so they would catch a changed request; these tests
say why, mode by mode, against instructor's own uncached code.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from instructor.v2.core.providers import Provider
from instructor.v2.core.registry import mode_registry
from instructor.v2.core.response_model import prepare_response_model
from instructor.v2.validation.async_validators import async_field_validator
from pydantic import BaseModel

from summarizer import faithfulness, grounding, llm, prompts
from summarizer.checks import CheckedExtraction
from summarizer.verify import BulletVerdicts


def _prepared_request(response_model: Any, mode: str) -> str:
    handlers = mode_registry.get_handlers(Provider.OPENAI, llm.MODES[mode])
    kwargs = {"model": "m", "messages": prompts.load().messages()}
    _, prepared = handlers.request_handler(response_model=response_model, kwargs=kwargs)
    return json.dumps(prepared, sort_keys=True)


@pytest.mark.parametrize("mode", sorted(llm.MODES))
def test_prepared_model_gives_the_request_of_a_fresh_one(mode: str) -> None:
    fresh = _prepared_request(prepare_response_model(CheckedExtraction), mode)
    for _ in range(2):  # the second time from the caches
        assert _prepared_request(llm.prepared(CheckedExtraction), mode) == fresh


def test_prepared_once_per_model() -> None:
    assert llm.prepared(CheckedExtraction) is llm.prepared(CheckedExtraction)
    verdicts = llm.prepared(BulletVerdicts)
    assert verdicts is not llm.prepared(CheckedExtraction)
    assert issubclass(verdicts, BulletVerdicts)
    assert (
        verdicts.model_json_schema() == prepare_response_model(BulletVerdicts).model_json_schema()
    )


def test_prepared_schema_is_a_copy_and_other_arguments_pass_through() -> None:
    model = llm.prepared(CheckedExtraction)
    schema = model.model_json_schema()
    schema["properties"].clear()
    assert model.model_json_schema()["properties"]
    fresh = prepare_response_model(CheckedExtraction)
    assert model.model_json_schema(mode="serialization") == fresh.model_json_schema(
        mode="serialization"
    )


def test_async_validators_are_still_refused() -> None:
    class WithAsync(BaseModel):
        name: str

        @async_field_validator("name")
        async def check(self, value: str) -> str:
            return value

    with pytest.raises(ValueError, match="async validators are not supported"):
        llm.prepared(WithAsync)


def test_shared_aligner_and_numbers_follow_the_text() -> None:
    first, second = "Two people died in Basra.", "Three people died in Mosul."
    assert grounding.aligner(first) is grounding.aligner(first)
    assert grounding.aligner(second).text == second
    assert grounding.aligner(first).folded == grounding.normalize(first)[0]
    assert [str(f) for f in faithfulness.unsupported("3 died", first)] == ["3 (number)"]
    assert faithfulness.unsupported("3 died", second) == []
