"""Tests for the scripted OpenAI-compatible server, over real loopback HTTP (no vcrpy)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import instructor
import openai
import pytest
from instructor.core.exceptions import InstructorRetryException
from pydantic import BaseModel, ValidationInfo, field_validator

try:
    from tests.scripted_server import (
        FABRICATED_SENTENCE,
        Fixture,
        ScriptedServer,
        Traffic,
        corrupt,
        estimate_usage,
        load_fixtures,
    )
except ImportError:  # tests/ is not a package and the project root is not on sys.path
    from scripted_server import (  # type: ignore[no-redef]
        FABRICATED_SENTENCE,
        Fixture,
        ScriptedServer,
        Traffic,
        corrupt,
        estimate_usage,
        load_fixtures,
    )

# The project runs pytest with pytest-recording's --block-network. pytest-recording reads allowed
# hosts from its own `block_network` mark (a regex list); `allow_hosts` is pytest-socket's mark.
pytestmark = pytest.mark.block_network(allowed_hosts=[r"127\.0\.0\.1$"])

ARTICLE_A = (
    "BAGHDAD, Jan 3 (Reuters) - A drone strike near Baghdad airport killed ten people on Friday, "
    'officials said. "We will respond at a time of our choosing," a militia spokesman said.'
)
ARTICLE_B = "GENEVA - Talks between the two delegations resumed on Monday, the UN said."

ANSWER_A: dict[str, Any] = {
    "language": "en",
    "events": [
        {
            "summary": "A drone strike near Baghdad airport killed ten people.",
            "evidence": ["A drone strike near Baghdad airport killed ten people on Friday"],
        }
    ],
    "quotes": [{"text": "We will respond at a time of our choosing", "speaker": "spokesman"}],
}
ANSWER_B: dict[str, Any] = {
    "language": "en",
    "events": [
        {
            "summary": "Talks resumed in Geneva.",
            "evidence": ["Talks between the two delegations resumed on Monday"],
        }
    ],
    "quotes": [],
}

TOOL = {
    "type": "function",
    "function": {
        "name": "Extraction",
        "description": "Extract events.",
        "parameters": {"type": "object", "properties": {}},
    },
}
TOOL_CHOICE = {"type": "function", "function": {"name": "Extraction"}}


# --------------------------------------------------------------------------- helpers / fixtures


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def fixture_root(tmp_path: Path) -> Path:
    _write(tmp_path / "tests/responses/a1.json", json.dumps(ANSWER_A))
    _write(tmp_path / "examples/a1.txt", ARTICLE_A + "\n")
    _write(tmp_path / "tests/responses/b2.json", json.dumps(ANSWER_B))
    _write(tmp_path / "tests/data/articles/b2.txt", ARTICLE_B)
    _write(tmp_path / "tests/responses/orphan.json", json.dumps(ANSWER_B))  # no article
    return tmp_path


@pytest.fixture
def server(fixture_root: Path) -> Iterator[ScriptedServer]:
    with ScriptedServer(load_fixtures(fixture_root)) as srv:
        yield srv


@pytest.fixture
def client(server: ScriptedServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="test", max_retries=0)


def _messages(article: str = ARTICLE_A) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "Extract events as JSON."},
        {"role": "user", "content": f"Article:\n{article}"},
    ]


def _tools_call(client: openai.OpenAI, model: str, messages: list[dict[str, Any]]) -> Any:
    return client.chat.completions.create(
        model=model, messages=messages, tools=[TOOL], tool_choice=TOOL_CHOICE
    )  # type: ignore[call-overload]


def _args(completion: Any) -> dict[str, Any]:
    return json.loads(completion.choices[0].message.tool_calls[0].function.arguments)


def _reask(messages: list[dict[str, Any]], completion: Any) -> list[dict[str, Any]]:
    """The messages instructor sends after a failed TOOLS attempt."""
    call = completion.choices[0].message.tool_calls[0]
    return [
        *messages,
        {"role": "assistant", "content": "", "tool_calls": [call.model_dump()]},
        {
            "role": "tool",
            "tool_call_id": call.id,
            "content": "Validation Error found:\n...\nRecall the function correctly",
        },
    ]


# --------------------------------------------------------------------------- loading, corrupt()


def test_load_fixtures_searches_both_article_dirs_and_skips_orphans(fixture_root: Path) -> None:
    fixtures = load_fixtures(fixture_root)
    assert sorted(fixtures) == ["a1", "b2"]
    assert fixtures["a1"] == Fixture(id="a1", article=ARTICLE_A + "\n", answer=ANSWER_A)
    assert fixtures["b2"].article == ARTICLE_B
    assert load_fixtures(fixture_root / "nowhere") == {}


def test_load_fixtures_rejects_invalid_json(fixture_root: Path) -> None:
    _write(fixture_root / "tests/responses/a1.json", '{"language": ')
    with pytest.raises(ValueError, match=r"a1\.json"):
        load_fixtures(fixture_root)


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in _leaves(item, f"{path}/{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in _leaves(item, f"{path}/{i}").items()
        }
    return {path: value}


@pytest.mark.parametrize(
    ("answer", "changed_path"),
    [(ANSWER_A, "/quotes/0/text"), (ANSWER_B, "/events/0/evidence/0")],
)
def test_corrupt_changes_exactly_one_string(answer: dict[str, Any], changed_path: str) -> None:
    before = json.dumps(answer, sort_keys=True)
    bad = corrupt(answer)
    assert json.dumps(answer, sort_keys=True) == before  # input untouched
    old, new = _leaves(answer), _leaves(bad)
    assert old.keys() == new.keys()
    assert [p for p in old if old[p] != new[p]] == [changed_path]
    assert new[changed_path] == FABRICATED_SENTENCE
    assert FABRICATED_SENTENCE not in ARTICLE_A + ARTICLE_B


def test_corrupt_without_target_raises() -> None:
    with pytest.raises(ValueError):
        corrupt({"language": "en", "events": [], "quotes": []})


# --------------------------------------------------------------------------- answer shapes


def test_tools_answer_round_trips(server: ScriptedServer, client: openai.OpenAI) -> None:
    completion = _tools_call(client, "scripted", _messages())
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.id == "call_1" and call.type == "function"
    assert call.function.name == "Extraction"
    assert json.loads(call.function.arguments) == ANSWER_A
    assert completion.object == "chat.completion"
    assert completion.created == 1_700_000_000
    assert completion.model == "scripted"
    assert server.requests[0]["model"] == "scripted"
    assert server.requests[0]["tools"] == [TOOL]
    usage = estimate_usage(server.requests[0], call.function.arguments)
    assert completion.usage is not None
    assert completion.usage.model_dump(exclude_none=True) == usage
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    chars = sum(len(m["content"]) for m in _messages()) + len(json.dumps([TOOL]))
    assert usage["prompt_tokens"] == -(-chars // 4)
    assert usage["completion_tokens"] == -(-len(call.function.arguments) // 4)


def test_json_mode_returns_plain_content(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=_messages(ARTICLE_B),  # type: ignore[arg-type]
        response_format={"type": "json_object"},
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert json.loads(choice.message.content or "") == ANSWER_B
    assert completion.model == "gpt-4o-mini"


def test_md_json_wraps_in_fence_and_parts_content_matches(client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "Extract events."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Article:"},
                {"type": "text", "text": "  " + ARTICLE_A.replace(" ", "\n", 3)},
                {
                    "type": "text",
                    "text": "Return the correct JSON response within a ```json codeblock.",
                },
            ],
        },
    ]
    completion = client.chat.completions.create(model="scripted", messages=messages)  # type: ignore[arg-type]
    content = completion.choices[0].message.content or ""
    assert content.startswith("```json\n") and content.endswith("\n```")
    assert json.loads(content.removeprefix("```json\n").removesuffix("\n```")) == ANSWER_A


def test_unknown_article_is_bad_request(server: ScriptedServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        _tools_call(client, "scripted", _messages("An article nobody scripted."))
    assert info.value.status_code == 400
    assert info.value.body == {
        "message": info.value.body["message"],  # type: ignore[index]
        "type": "invalid_request_error",
        "code": None,
    }
    assert len(server.requests) == 1  # error requests are recorded too


def test_models_endpoint_lists_scripted(client: openai.OpenAI) -> None:
    assert "scripted" in [m.id for m in client.models.list()]


def test_authorization_is_never_echoed(server: ScriptedServer) -> None:
    secret = "sk-do-not-echo-1234"
    client = openai.OpenAI(base_url=server.url, api_key=secret, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="scripted", messages=_messages(), tools=[TOOL], tool_choice=TOOL_CHOICE
    )  # type: ignore[call-overload]
    assert secret not in raw.http_response.text
    assert secret not in str(dict(raw.http_response.headers))
    assert secret not in json.dumps(server.requests)


def test_latency_is_applied(fixture_root: Path) -> None:
    with ScriptedServer(load_fixtures(fixture_root), latency_s=0.3) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="test", max_retries=0)
        start = time.monotonic()
        _tools_call(client, "scripted", _messages())
        assert time.monotonic() - start >= 0.3


def test_no_stderr_output_per_request(
    client: openai.OpenAI, capfd: pytest.CaptureFixture[str]
) -> None:
    _tools_call(client, "scripted", _messages())
    with pytest.raises(openai.BadRequestError):
        _tools_call(client, "scripted", _messages("unknown"))
    assert capfd.readouterr().err == ""


# --------------------------------------------------------------------------- scenarios


def test_rate_limited_first_call_then_success(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    model = "scripted-rate-limited"
    with pytest.raises(openai.RateLimitError) as info:
        _tools_call(client, model, _messages())
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.body["type"] == "requests"  # type: ignore[index]
    assert _args(_tools_call(client, model, _messages())) == ANSWER_A
    # The counter is per (model, fixture): another fixture is limited once on its own.
    with pytest.raises(openai.RateLimitError):
        _tools_call(client, model, _messages(ARTICLE_B))
    server.reset()
    with pytest.raises(openai.RateLimitError):
        _tools_call(client, model, _messages())


def test_rate_limit_is_retried_by_the_sdk(server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="test", max_retries=1)
    assert _args(_tools_call(client, "scripted-rate-limited", _messages())) == ANSWER_A
    assert len(server.requests) == 2


def test_server_error_once(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError):
        _tools_call(client, "scripted-server-error-once", _messages())
    assert _args(_tools_call(client, "scripted-server-error-once", _messages())) == ANSWER_A


def test_reask_once_by_attempt_number(server: ScriptedServer, client: openai.OpenAI) -> None:
    model = "scripted-reask-once"
    first = _tools_call(client, model, _messages())
    assert _args(first) == corrupt(ANSWER_A)
    assert _args(first)["quotes"][0]["text"] == FABRICATED_SENTENCE
    assert _args(_tools_call(client, model, _messages())) == corrupt(ANSWER_A)  # stateless
    second = _tools_call(client, model, _reask(_messages(), first))
    assert _args(second) == ANSWER_A
    assert second.choices[0].message.tool_calls[0].id == "call_2"
    # Prefix caching: the re-ask's cached tokens are the first attempt's prompt tokens.
    assert first.usage is not None and second.usage is not None
    assert second.usage.prompt_tokens_details is not None
    assert second.usage.prompt_tokens_details.cached_tokens == first.usage.prompt_tokens
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


def test_reask_once_json_mode(client: openai.OpenAI) -> None:
    kwargs: dict[str, Any] = {
        "model": "scripted-reask-once",
        "response_format": {"type": "json_object"},
    }
    first = client.chat.completions.create(messages=_messages(), **kwargs)
    assert json.loads(first.choices[0].message.content or "") == corrupt(ANSWER_A)
    reask = [
        *_messages(),
        {"role": "assistant", "content": first.choices[0].message.content},
        {
            "role": "user",
            "content": "Correct your JSON ONLY RESPONSE, based on the following errors:",
        },
    ]
    second = client.chat.completions.create(messages=reask, **kwargs)
    assert json.loads(second.choices[0].message.content or "") == ANSWER_A


def test_never_valid(client: openai.OpenAI) -> None:
    first = _tools_call(client, "scripted-never-valid", _messages(ARTICLE_B))
    assert _args(first) == corrupt(ANSWER_B)
    again = _tools_call(client, "scripted-never-valid", _reask(_messages(ARTICLE_B), first))
    assert _args(again) == corrupt(ANSWER_B)


def test_broken_json(client: openai.OpenAI) -> None:
    first = _tools_call(client, "scripted-broken-json", _messages())
    with pytest.raises(json.JSONDecodeError):
        _args(first)
    with pytest.raises(json.JSONDecodeError):
        _args(_tools_call(client, "scripted-broken-json", _reask(_messages(), first)))
    content = (
        client.chat.completions.create(
            model="scripted-broken-json",
            messages=_messages(),  # type: ignore[arg-type]
            response_format={"type": "json_object"},
        )
        .choices[0]
        .message.content
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(content or "")


# --------------------------------------------------------------------------- with instructor


class Quote(BaseModel):
    text: str
    speaker: str

    @field_validator("text")
    @classmethod
    def _grounded(cls, value: str, info: ValidationInfo) -> str:
        if value not in (info.context or {}).get("article", ""):
            raise ValueError("quote text must be copied verbatim from the article")
        return value


class Event(BaseModel):
    summary: str
    evidence: list[str]


class Extraction(BaseModel):
    language: str
    events: list[Event]
    quotes: list[Quote]


def _extract(server: ScriptedServer, model: str, mode: instructor.Mode, retries: int) -> Any:
    client = instructor.from_openai(
        openai.OpenAI(base_url=server.url, api_key="test", max_retries=0), mode=mode
    )
    return client.chat.completions.create(
        model=model,
        response_model=Extraction,
        messages=[
            {"role": "system", "content": "Extract events."},
            {"role": "user", "content": "Article:\n{{ article }}"},
        ],
        context={"article": ARTICLE_A},
        max_retries=retries,
    )


@pytest.mark.parametrize(
    "mode",
    [
        instructor.Mode.TOOLS,
        instructor.Mode.JSON,
        instructor.Mode.JSON_SCHEMA,
        instructor.Mode.MD_JSON,
    ],
)
def test_instructor_modes(server: ScriptedServer, mode: instructor.Mode) -> None:
    result = _extract(server, "scripted", mode, retries=0)
    assert result.model_dump() == ANSWER_A


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.MD_JSON])
def test_instructor_reask_once_succeeds_on_second_attempt(
    server: ScriptedServer, mode: instructor.Mode
) -> None:
    result = _extract(server, "scripted-reask-once", mode, retries=2)
    assert result.quotes[0].text == ANSWER_A["quotes"][0]["text"]
    assert len(server.requests) == 2
    assert [m["role"] for m in server.requests[1]["messages"]][-2] == "assistant"


@pytest.mark.parametrize("model", ["scripted-never-valid", "scripted-broken-json"])
def test_instructor_gives_up(server: ScriptedServer, model: str) -> None:
    with pytest.raises(InstructorRetryException):
        _extract(server, model, instructor.Mode.TOOLS, retries=2)
    assert len(server.requests) == 3


# --------------------------------------------------------------------------- command line


def test_command_line_serves_fixtures(fixture_root: Path) -> None:
    script = Path(__file__).with_name("scripted_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--root", str(fixture_root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "2 fixtures" in line
        match = re.search(r"http://127\.0\.0\.1:\d+/v1", line)
        assert match is not None
        with urllib.request.urlopen(f"{match.group(0)}/models", timeout=5) as response:
            ids = [m["id"] for m in json.load(response)["data"]]
        assert "scripted" in ids
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# --------------------------------------------------------------------------- load and faults


def test_rpm_limit_answers_429_with_retry_after(fixture_root: Path) -> None:
    with ScriptedServer(load_fixtures(fixture_root), traffic=Traffic(rpm=6)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="test", max_retries=0)
        _tools_call(client, "scripted", _messages())  # the bucket holds one request
        with pytest.raises(openai.RateLimitError) as caught:
            _tools_call(client, "scripted", _messages())
        headers = caught.value.response.headers
        assert 9 <= float(headers["retry-after-ms"]) / 1000 <= 10  # 6 RPM: one per 10 s
        assert headers["retry-after"] == "10" and srv.rate_limited == 1
        assert "x-ratelimit-limit-requests" not in headers  # only when asked for


def test_limit_headers_state_the_rpm_on_every_answer(fixture_root: Path) -> None:
    traffic = Traffic(rpm=6, limit_headers=True)
    with ScriptedServer(load_fixtures(fixture_root), traffic=traffic) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="test", max_retries=0)
        ok = client.chat.completions.with_raw_response.create(  # type: ignore[call-overload]
            model="scripted", messages=_messages(), tools=[TOOL], tool_choice=TOOL_CHOICE
        )
        assert ok.headers["x-ratelimit-limit-requests"] == "6"
        with pytest.raises(openai.RateLimitError) as caught:
            _tools_call(client, "scripted", _messages())
        assert caught.value.response.headers["x-ratelimit-limit-requests"] == "6"


@pytest.mark.parametrize("fault", ["server_error", "malformed_json", "schema_invalid"])
def test_injected_faults(fixture_root: Path, fault: str) -> None:
    traffic = Traffic(fault_rate=1.0, faults=(fault,), seed=1)
    with ScriptedServer(load_fixtures(fixture_root), traffic=traffic) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="test", max_retries=0)
        if fault == "server_error":
            with pytest.raises(openai.InternalServerError):
                _tools_call(client, "scripted", _messages())
        else:
            arguments = _tools_call(client, "scripted", _messages())
            text = arguments.choices[0].message.tool_calls[0].function.arguments
            if fault == "malformed_json":
                with pytest.raises(json.JSONDecodeError):
                    json.loads(text)
            else:
                assert json.loads(text)["events"][0]["plover"] == "NOT_A_CATEGORY"
        assert srv.faults_served[fault] == 1


def test_fault_rate_is_seeded(fixture_root: Path) -> None:
    def served(seed: int) -> list[bool]:
        traffic = Traffic(fault_rate=0.3, faults=("server_error",), seed=seed)
        with ScriptedServer(load_fixtures(fixture_root), traffic=traffic) as srv:
            client = openai.OpenAI(base_url=srv.url, api_key="test", max_retries=0)
            outcomes = []
            for _ in range(30):
                try:
                    _tools_call(client, "scripted", _messages())
                    outcomes.append(True)
                except openai.InternalServerError:
                    outcomes.append(False)
            return outcomes

    first = served(5)
    assert first == served(5) and 3 <= first.count(False) <= 18
