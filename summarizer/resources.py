"""Where the shipped data folders live (``summarizer/_data/`` in a wheel, the repository root in a
source checkout or editable install), and the installed version."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("summarizer")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder ``name`` (``prompts``, ``examples``, ``cassettes/demo``).

    Raises ``FileNotFoundError`` naming both places looked at when neither exists.
    """
    candidates = (_PACKAGE / "_data" / name, _PACKAGE.parent / name)
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(f"{name!r} not found in {' or '.join(map(str, candidates))}")
