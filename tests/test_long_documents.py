"""Long documents: the context budget, truncation by the server, chunked runs and their plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY, load_example
from scripted_server import NUM_CTX
from typer.testing import CliRunner

from summarizer import summarize
from summarizer.errors import PromptTruncated
from summarizer.llm import context_window
from summarizer.settings import Settings

SEED_TEXT, SEED_META = load_example("centcom-strikes-iraq")
runner = CliRunner()


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_a_server_that_cuts_the_prompt_is_an_error_naming_the_fix(make_settings: Any) -> None:
    settings = make_settings("scripted-truncated-context")
    with pytest.raises(PromptTruncated) as caught:
        summarize(SEED_TEXT, published=SEED_META["published"], settings=settings)
    message = str(caught.value)
    assert f"read {NUM_CTX:,} of" in message
    assert "num_ctx" in message and "--context-window" in message
    assert caught.value.usage.prompt_tokens == NUM_CTX  # the call is still accounted


@pytest.mark.scripted_only
@pytest.mark.vcr
def test_run_reports_a_cut_prompt_as_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scripted_url: str
) -> None:
    from summarizer.cli import app

    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("SUMMARIZER_TRANSPORT_RETRIES", "0")
    path = tmp_path / "article.txt"
    path.write_text(SEED_TEXT, encoding="utf-8")
    args = ["run", str(path), "--published", "2020-03-13", "--base-url", scripted_url]
    result = runner.invoke(app, [*args, "--model", "openai/scripted-truncated-context"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "num_ctx" in lines[0]


@pytest.mark.parametrize(
    ("model", "tokens"),
    [
        ("openai/gpt-4.1-mini", 1_047_576),
        ("openai/gpt-4o-2024-08-06", 128_000),
        ("ollama/qwen2.5:7b", 4096),
        ("vllm/qwen", 8192),
        ("llamacpp/qwen", 8192),
    ],
)
def test_context_window_defaults_per_provider(model: str, tokens: int) -> None:
    settings = Settings(_env_file=None, model=model, api_key=TEST_KEY)  # type: ignore[call-arg]
    assert context_window(settings)[0] == tokens
    given = Settings(_env_file=None, model=model, api_key=TEST_KEY, context_window=32_768)  # type: ignore[call-arg]
    assert context_window(given) == (32_768, "--context-window")


def test_context_window_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER_CONTEXT_WINDOW", "16384")
    monkeypatch.setenv("SUMMARIZER_MAX_CHARS", "1000")
    settings = Settings(_env_file=None, model="ollama/x")  # type: ignore[call-arg]
    assert context_window(settings)[0] == 16384 and settings.max_chars == 1000
