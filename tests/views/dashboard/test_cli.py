"""``cli status``: the JSON is the overview; the table shows the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from include.migration.configuration.config import MigrationConfig
from include.migration.views.overview import installation_overview
from tests.conftest import ROOT


def _cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS=str(columns))
    result = subprocess.run(
        [sys.executable, "-m", "include.migration.views.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_status_json_is_the_overview(migrated: MigrationConfig, tiny_unreachable: str) -> None:
    printed = json.loads(_cli("status", "--json").stdout)
    assert printed["installations"] == installation_overview(migrated)
    assert {e["id"] for e in printed["installations"] if e["error"]} == {"tiny"}
    assert tiny_unreachable not in json.dumps(printed)


def test_status_table_reads_at_80_columns(migrated: MigrationConfig, tiny_unreachable: str) -> None:
    out = _cli("status").stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out

    def line(*needles: str) -> str:
        found = [text for text in lines if all(n in text for n in needles)]
        assert len(found) == 1, (needles, out)
        return found[0]

    # Installation rows, then their data types indented beneath, every number whole on one line.
    acme_at = lines.index(line("acme", "DONE"))
    users = line("  users", "10,000 / 10,000", "green")
    assert lines.index(users) > acme_at and "100.0 %" in users
    globex = line("  users", "7,500 / 10,000")
    assert "75.0 %" in globex and "RED" not in globex
    assert "done" in line("  comments", "10,000 / 10,000", "DONE")
    assert line("tiny", "ERROR")
    assert any(text.startswith("tiny: ") and "OperationalError" in text for text in lines)  # the error, below
    assert "dormant (off)" in out
    assert "rows/s over the last 5 transfers that copied rows" in out
    assert tiny_unreachable not in out


def test_cli_sees_connections_defined_in_airflow(migrated: MigrationConfig, tiny_unreachable: str) -> None:
    """A target connection added with `airflow connections add` (no AIRFLOW_CONN_* variable) is found."""
    variable = "AIRFLOW_CONN_MIGRATION_TARGET_GLOBEX"
    spec = json.loads(os.environ[variable])
    airflow = [sys.executable, "-m", "airflow", "connections"]
    env = {k: v for k, v in os.environ.items() if k != variable}
    subprocess.run([*airflow, "delete", "migration_target_globex"], env=env, capture_output=True)
    subprocess.run(
        [*airflow, "add", "migration_target_globex", "--conn-type", "mysql", "--conn-host", spec["host"],
         "--conn-port", str(spec["port"]), "--conn-login", spec["login"], "--conn-schema", spec["schema"]],
        env=env, capture_output=True, check=True,
    )
    try:
        result = subprocess.run(
            [sys.executable, "-m", "include.migration.views.cli", "status", "--json"], env=dict(env, PYTHONPATH=str(ROOT)),
            cwd=ROOT, capture_output=True, text=True, timeout=180,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        globex = next(e for e in json.loads(result.stdout)["installations"] if e["id"] == "globex")
        assert globex["error"] is None and globex["data_types"][0]["rows_target"] == 7_500
    finally:
        subprocess.run([*airflow, "delete", "migration_target_globex"], env=env, capture_output=True)
