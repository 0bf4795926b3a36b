"""``cli status``: the JSON is the overview; the table shows the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from include.migration.config import MigrationConfig
from include.migration.overview import installation_overview
from tests.conftest import ROOT


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="230")
    result = subprocess.run(
        [sys.executable, "-m", "include.migration.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_status_json_is_the_overview(migrated: MigrationConfig, tiny_unreachable: str) -> None:
    printed = json.loads(_cli("status", "--json").stdout)
    assert printed["installations"] == installation_overview(migrated)
    assert {e["id"] for e in printed["installations"] if e["error"]} == {"tiny"}
    assert tiny_unreachable not in json.dumps(printed)


def test_status_table(migrated: MigrationConfig, tiny_unreachable: str) -> None:
    out = _cli("status").stdout
    lines = out.splitlines()

    def line(*needles: str) -> str:
        found = [text for text in lines if all(n in text for n in needles)]
        assert len(found) == 1, (needles, out)
        return found[0]

    assert "100.0 %" in line("acme", "users", "10,000 / 10,000", "green")
    assert "done" in line("comments", "10,000 / 10,000", "DONE")
    globex = line("globex", "users")
    assert "7,500 / 10,000" in globex and "75.0 %" in globex and "rows/s" in globex
    assert "UNREACHABLE" in line("tiny") and "OperationalError" in out
    assert "dormant (disabled)" in out
    assert tiny_unreachable not in out
