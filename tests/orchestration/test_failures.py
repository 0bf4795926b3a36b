"""Errors classed by what happens next, failing fast when retrying cannot help, and leaving a trace."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import MySQLdb
import pytest
import yaml
from airflow.utils.state import DagRunState

from include.migration.configuration.config import ConfigError
from include.migration.configuration.config_loading import load_config
from include.migration.orchestration import runtime
from include.migration.orchestration.dag_factory import build_dag
from include.migration.orchestration.failures import (
    ConfigurationError,
    Scope,
    TargetConfigurationError,
    TargetConnectionError,
    classify,
)
from include.migration.views.airflow_failures import failed_latest_runs
from tests.conftest import ROOT, mariadb_connection, target_database_name
from tests.support import state_rows

FIXTURE = ROOT / "tests" / "fixtures" / "migration_config.yaml"


def _tries(run, task_id: str) -> list[tuple[str, int]]:
    return [(ti.state, ti.try_number) for ti in run.get_task_instances() if ti.task_id == task_id]


def test_target_errors_are_classed_and_named(remote):
    scope = Scope("acme", "users", "migration_target_acme")
    denied = classify(MySQLdb.OperationalError(1045, "Access denied for user 'app'@'10.0.0.1' (using password: YES)"), scope)
    assert isinstance(denied, TargetConfigurationError)
    assert str(denied).startswith("installation 'acme', data type 'users': target connection 'migration_target_acme' "
                                  "(mysql://127.0.0.1:3306/migration_test_acme, user 'root'): access denied: wrong user "
                                  "or password (MySQL error 1045")
    assert "fix the login and password of the connection" in str(denied)
    assert isinstance(classify(MySQLdb.OperationalError(1049, "Unknown database 'x'"), scope), TargetConfigurationError)
    assert isinstance(classify(MySQLdb.ProgrammingError(1146, "Table 'x.users' doesn't exist"), scope), TargetConfigurationError)
    for code in (1205, 1213, 2003, 2006, 2013):
        assert isinstance(classify(MySQLdb.OperationalError(code, "..."), scope), TargetConnectionError), code
    unknown = MySQLdb.OperationalError(9999, "?")
    assert classify(unknown, scope) is unknown  # unknown errors keep being retried as before
    assert isinstance(classify(ConfigError("f.yaml: bad"), scope), ConfigurationError)


def test_a_wrong_target_password_fails_at_once_without_retries(airflow_db, remote, fresh_targets, config, monkeypatch):
    conn = json.loads(os.environ["AIRFLOW_CONN_MIGRATION_TARGET_GLOBEX"])
    monkeypatch.setenv("AIRFLOW_CONN_MIGRATION_TARGET_GLOBEX", json.dumps({**conn, "password": "not-the-password"}))
    started = time.monotonic()
    run = build_dag(config.installation("globex"), config).test()
    seconds = time.monotonic() - started
    assert run.state == DagRunState.FAILED
    assert _tries(run, "check_status") == [("failed", 1)]  # no retry: retrying cannot fix a password
    assert seconds < 60, f"took {seconds:.0f}s to fail (was about 300 s with retries)"
    print(f"time to fail, wrong target password: {seconds:.1f}s")
    # Visible in Airflow's metadata even though the target could not record it.
    failed = failed_latest_runs(["migrate_globex"])
    assert failed["migrate_globex"]["run_id"] == run.run_id
    assert [(t["task"], t["try"]) for t in failed["migrate_globex"]["tasks"]] == [("check_status", 1)]


def _narrowed_config(tmp_path: Path) -> Path:
    """The test configuration with users.email narrowed to varchar(5): every seeded email is too long."""
    raw = yaml.safe_load(FIXTURE.read_text())
    users = next(d for d in raw["data_types"] if d["name"] == "users")
    users["columns"] = [dict(c, type="varchar(5)") if c["name"] == "email" else c for c in users["columns"]]
    path = tmp_path / "narrow.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_value_that_does_not_fit_fails_at_once_and_is_recorded(airflow_db, remote, fresh_targets, monkeypatch, tmp_path):
    monkeypatch.setenv("MIGRATION_CONFIG", str(_narrowed_config(tmp_path)))
    config = load_config()
    started = time.monotonic()
    run = build_dag(config.installation("acme"), config).test()
    seconds = time.monotonic() - started
    assert run.state == DagRunState.FAILED
    # The pre-flight check converts a sample page before anything is copied: it fails there, once, not retried.
    assert _tries(run, "prepare_target") == [("failed", 1)]
    assert seconds < 90, f"took {seconds:.0f}s to fail (was 301 s with retries)"
    print(f"time to fail, a value that does not fit: {seconds:.1f}s")
    row = state_rows("acme")["__DATA_MIGRATION__"]
    assert row["last_error_task"] == "prepare_target" and row["last_error_try"] == 1 and row["last_error_at"]
    assert row["last_error"].startswith("ConversionError: installation 'acme', data type 'users', key 1, column 'email'")


def test_an_installation_wide_failure_is_recorded_on_the_installation_row(airflow_db, remote, fresh_targets, config, monkeypatch):
    runtime.prepare_target("globex")  # the target is reachable, the remote is not: its token is wrong
    conn = json.loads(os.environ["AIRFLOW_CONN_MIGRATION_REMOTE_GLOBEX"])
    monkeypatch.setenv("AIRFLOW_CONN_MIGRATION_REMOTE_GLOBEX", json.dumps({**conn, "password": "wrong-token"}))
    run = build_dag(config.installation("globex"), config).test()
    assert run.state == DagRunState.FAILED and _tries(run, "check_status") == [("failed", 1)]
    row = state_rows("globex")["__DATA_MIGRATION__"]
    assert row["last_error_task"] == "check_status" and "RemoteFatalError" in row["last_error"]
    assert "HTTP 401" in row["last_error"] and "wrong-token" not in row["last_error"]


def test_a_validation_that_stops_with_an_error_leaves_a_red_record(remote, fresh_targets):
    runtime.prepare_target("acme", ["comments"])
    runtime.transfer("acme", "comments", "r1")
    conn = mariadb_connection(target_database_name("acme"))
    conn.query("ALTER TABLE comments DROP COLUMN body")
    conn.close()
    with pytest.raises(MySQLdb.OperationalError, match="Unknown column"):
        runtime.validate("acme", "comments", "r1", transfer_done=True)
    conn = mariadb_connection(target_database_name("acme"))
    cursor = conn.cursor()
    cursor.execute("SELECT green, error FROM _migration_validation WHERE data_type = 'comments'")
    green, error = cursor.fetchone()
    conn.close()
    assert green == 0 and error.startswith("OperationalError: (1054, \"Unknown column 'body'")
