"""Re-record every cassette.

    python tests/record.py          # against the scripted server (hand-checked answers)
    python tests/record.py --live   # tests that need no scripted failure: against the provider
                                    # configured by SUMMARIZER_MODEL / SUMMARIZER_BASE_URL /
                                    # OPENAI_API_KEY; scripted failures and the demo stay scripted

Deletes every cassette first, so no stale interaction or orphan cassette can stay (recording
overwrites, never appends); then starts the scripted server in tests/scripted_server.py, records
the demo cassettes (cassettes/demo/), and runs pytest with --record-mode=rewrite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from scripted_server import ScriptedServer, load_fixtures  # noqa: E402

from summarizer import demo  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", action="store_true", help="record against a real provider")
    args = parser.parse_args()
    for cassette in (ROOT / "cassettes").rglob("*.yaml"):
        cassette.unlink()
    with ScriptedServer(load_fixtures(ROOT)) as server:
        for analysis in demo.run(record=server.url):
            print(f"demo cassette: {analysis.article.id} ({analysis.usage.calls} call)")
    env = os.environ | ({"SUMMARIZER_RECORD_LIVE": "1"} if args.live else {})
    command = [sys.executable, "-m", "pytest", "--record-mode=rewrite", "-q"]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
