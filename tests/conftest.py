"""Shared fixtures: cassette settings, the scripted server, and settings isolated from the machine.

Replay (the default, ``--record-mode=none``): every model exchange comes from ``cassettes/``;
the network is blocked and the openai client's retries are off, so a missing or stale cassette
fails at once instead of retrying.

Recording: ``make cassettes`` (``pytest --record-mode=rewrite``) starts the scripted server in
``tests/scripted_server.py`` and records against it. ``make cassettes-live`` records the tests that
do not need a scripted failure against the provider configured in the environment
(``SUMMARIZER_MODEL``, ``SUMMARIZER_BASE_URL``, ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scripted_server import ScriptedServer, load_fixtures

from summarizer.demo import vcr_config as project_vcr_config
from summarizer.schema import Span
from summarizer.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
RESPONSES = Path(__file__).resolve().parent / "responses"
TEST_KEY = "sk-test-0000000000000000000000000000"
REPLAY_URL = "http://127.0.0.1:9/v1"  # nothing listens: replay never reaches the network
LIVE = os.environ.get("SUMMARIZER_RECORD_LIVE") == "1"
LIVE_SETTINGS = Settings() if LIVE else None  # read before any test isolates the environment


SCRIPTED: dict[str, Any] = {
    "model": "openai/gpt-4.1-mini",
    "mode": "tools",
    "max_retries": 2,
    "token_budget": 60_000,
    "temperature": 0.0,
    "max_tokens": 8192,
}
RECORDED_WITH = ROOT / "cassettes" / "recorded-with.json"
"""The model options of the last recording, so replay sends byte-identical requests."""


def _live(request: pytest.FixtureRequest) -> bool:
    return LIVE and request.node.get_closest_marker("scripted_only") is None


@pytest.fixture(autouse=True)
def _isolated_environment(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No SUMMARIZER_*/OPENAI_* variable or .env file of the machine leaks into a test (except
    into the tests that record against a live provider)."""
    monkeypatch.setenv("SUMMARIZER_LOG_PATH", str(tmp_path / "logs.db"))  # never the real home
    if _live(request):
        return
    for name in list(os.environ):
        if name.startswith(("SUMMARIZER_", "OPENAI_", "AZURE_OPENAI")) and name != (
            "SUMMARIZER_LOG_PATH"
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _every_interaction_played(request: pytest.FixtureRequest) -> Iterator[None]:
    """Replay fails a test whose cassette holds an interaction it did not play: a stale answer
    (a recording appended to an old cassette) cannot hide in a cassette."""
    if request.node.get_closest_marker("vcr") is None or _recording(request.config):
        yield
        return
    cassette = request.getfixturevalue("vcr")  # set up first, so still open at our teardown
    yield
    unplayed = [
        f"{r.method} {r.path}"
        for i, r in enumerate(cassette.requests)
        if cassette.play_counts[i] == 0
    ]
    assert not unplayed, f"{cassette._path}: interactions no test plays: {unplayed}"


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return project_vcr_config()


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(ROOT / "cassettes" / request.module.__name__.rsplit(".", 1)[-1])


def _recording(config: pytest.Config) -> bool:
    return config.getoption("--record-mode") not in (None, "none")


@pytest.fixture(scope="session")
def scripted_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The scripted server's URL while recording; a dead address during replay."""
    if not _recording(request.config):
        yield REPLAY_URL
        return
    with ScriptedServer(load_fixtures(ROOT)) as server:
        yield server.url


@pytest.fixture(scope="session")
def model_options(request: pytest.FixtureRequest, scripted_url: str) -> dict[str, Any]:
    """Options for the tests any model can run: the live provider's while recording live, the
    scripted server's while recording, and whatever the last recording used during replay."""
    if not _recording(request.config):
        if RECORDED_WITH.exists():
            return json.loads(RECORDED_WITH.read_text(encoding="utf-8"))
        return SCRIPTED
    if LIVE_SETTINGS is not None:
        options = LIVE_SETTINGS.model_dump(include=set(SCRIPTED) | {"base_url"})
    else:
        options = SCRIPTED  # base_url: the scripted server, wherever it listens
    RECORDED_WITH.write_text(json.dumps(options, indent=2) + "\n", encoding="utf-8")
    return options


@pytest.fixture
def make_settings(
    request: pytest.FixtureRequest, scripted_url: str, model_options: dict[str, Any]
) -> Callable[..., Settings]:
    """Settings for a test; ``scenario`` picks a scripted failure (see tests/scripted_server.py)."""
    live = _live(request)

    def make(scenario: str | None = None, **overrides: Any) -> Settings:
        if scenario or request.node.get_closest_marker("scripted_only"):
            values = SCRIPTED | {"base_url": scripted_url}
            if scenario:
                values["model"] = f"openai/{scenario}"
        else:
            values = {"base_url": scripted_url} | model_options
        values["api_key"] = LIVE_SETTINGS.api_key if live and LIVE_SETTINGS else TEST_KEY
        values["transport_retries"] = 0
        return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]

    return make


def load_example(name: str) -> tuple[str, dict[str, Any]]:
    """An example article's text and metadata from ``examples/``."""
    text = (ROOT / "examples" / f"{name}.txt").read_text(encoding="utf-8")
    meta = json.loads((ROOT / "examples" / f"{name}.json").read_text(encoding="utf-8"))
    return text, meta


def mucsum_documents() -> dict[str, list[dict[str, Any]]]:
    """The MUCSUM dev sample: ``{doc_id: [example, ...]}`` with gold templates."""
    return json.loads((DATA / "mucsum" / "dev-sample.json").read_text(encoding="utf-8"))


def all_spans(obj: Any) -> list[Span]:
    """Every span anywhere in a record (or list of records)."""
    if isinstance(obj, Span):
        return [obj]
    if isinstance(obj, list):
        return [s for item in obj for s in all_spans(item)]
    if hasattr(type(obj), "model_fields"):
        return [s for name in type(obj).model_fields for s in all_spans(getattr(obj, name))]
    return []


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, scripted_url: str) -> list[str]:
    """Environment and flags that point the CLI at the scripted server (or its cassettes)."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("SUMMARIZER_TRANSPORT_RETRIES", "0")
    return ["--base-url", scripted_url]


def one_line_error(result: Any, code: int, needle: str) -> str:
    """A CLI result that failed with ``code`` and one ``error: ...`` line holding ``needle``;
    returns that line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0], lines[0]
    return lines[0]
