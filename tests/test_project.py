"""Project-level guarantees: the wheel carries the templates, stages depend one way, and no
secret reaches a cassette."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT, TEST_KEY

from summarizer import prompts


def test_wheel_ships_prompts_and_finds_them(tmp_path: Path) -> None:
    build = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    out = subprocess.run(
        [sys.executable, "-c", build, str(tmp_path / "dist")],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    wheel = tmp_path / "dist" / out.stdout.strip().splitlines()[-1]
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("system.j2", "user.j2"):
        assert f"summarizer/_data/prompts/{name}" in names
    assert "summarizer/_data/cassettes/demo/centcom-strikes-iraq.yaml" in names
    assert not any(n.startswith("tests/") for n in names)

    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = (
        "import summarizer, summarizer.prompts as p; "
        "print(summarizer.__file__); print(p.load().version)"
    )
    env = {"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
        check=True,
    ).stdout.split()  # fmt: skip
    assert shown[0].startswith(str(unpacked))
    assert shown[1] == prompts.load().version


def test_stages_depend_one_way() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_cassettes_hold_no_secrets() -> None:
    cassettes = sorted((ROOT / "cassettes").rglob("*.yaml"))
    assert len(cassettes) >= 20
    key_shape = re.compile(r"sk-[A-Za-z0-9_-]{16,}")
    for path in cassettes:
        text = path.read_text(encoding="utf-8")
        lowered = text.lower()
        assert TEST_KEY not in text and "recorded-demo" not in text, path
        assert "authorization" not in lowered and "bearer" not in lowered, path
        assert "openai-organization" not in lowered and "set-cookie" not in lowered, path
        assert not key_shape.search(text), path
