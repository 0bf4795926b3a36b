"""Status write-back (capability status-updates) through whole DAG runs against the reference remote."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from airflow.utils.state import DagRunState

from include.migration.orchestration import runtime
from include.migration.orchestration.dag_factory import build_dags, dag_id_for
from include.migration.steps.status_writeback import STATUS_UPDATES
from include.reference_remote.app import CAPABILITIES, create_app
from include.reference_remote.server import serve_in_thread
from tests.conftest import ROWS_PER_TYPE
from tests.support import state_rows


def remote_status(source_url: str, installation: str) -> tuple[str, dict, object] | None:
    """(status, evidence, updated_at) of the installation's migration_status row at the source."""
    engine = sa.create_engine(source_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT status, evidence, updated_at FROM migration_status WHERE installation_id = :i"),
                {"i": installation},
            ).first()
    finally:
        engine.dispose()
    return None if row is None else (row[0], json.loads(row[1] or "{}"), row[2])


@pytest.fixture
def restore_remote_status(source_url: str) -> Iterator[None]:
    """Other tests read globex's and acme's remote status: leave them as seeded."""
    yield
    engine = sa.create_engine(source_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM migration_status WHERE installation_id IN ('globex', 'acme')"))
    engine.dispose()


def test_in_progress_then_done_once_per_transition(airflow_db, remote, fresh_targets, config, source_url, restore_remote_status):
    dag = build_dags(config)[dag_id_for("globex")]
    first = dag.test()
    assert first.state == DagRunState.SUCCESS
    status, evidence, started_at = remote_status(source_url, "globex")
    assert (status, evidence) == ("IN_PROGRESS", {})
    assert state_rows("globex")["__DATA_MIGRATION__"]["remote_status_sent"] == "IN_PROGRESS"

    second = dag.test()  # quiet and validated: converges, marks DONE and tells the remote with the evidence
    assert second.state == DagRunState.SUCCESS
    status, evidence, done_at = remote_status(source_url, "globex")
    assert status == "DONE" and done_at > started_at
    assert set(evidence["dataTypes"]) == {"users", "issues", "comments"}
    for item in evidence["dataTypes"].values():
        assert item["rowsSource"] == item["rowsTarget"] == ROWS_PER_TYPE and item["green"] is True
        assert int(item["checksum"]) > 0 and item["chunks"] == 6 and item["validatedAt"].endswith("Z")  # 2,000-row chunks

    # The checksum summary is the whole source table's checksum, as the remote computes it in one range.
    from include.migration.source.client import RemoteClient

    client = RemoteClient.from_conn_id("migration_remote_globex", "globex")
    try:
        whole = client.range_stats("users", None, None)
    finally:
        client.close()
    assert (whole["count"], str(whole["checksum"])) == (ROWS_PER_TYPE, evidence["dataTypes"]["users"]["checksum"])

    third = dag.test()  # DONE short-circuits: nothing is sent again
    assert third.state == DagRunState.SUCCESS
    assert remote_status(source_url, "globex")[2] == done_at

    reopened = dag.test(run_conf={"force": True})  # re-opened: the remote hears IN_PROGRESS again
    assert reopened.state == DagRunState.SUCCESS
    assert remote_status(source_url, "globex")[0] in ("IN_PROGRESS", "DONE")
    assert remote_status(source_url, "globex")[2] > done_at


def test_nothing_is_sent_to_a_remote_without_the_capability(remote, fresh_targets, config, source_url, tokens, monkeypatch, restore_remote_status):
    capabilities = [c for c in CAPABILITIES if c != STATUS_UPDATES]
    app = create_app(source_url, config.data_types, {t: i for i, t in tokens.items()}, capabilities=capabilities)
    with serve_in_thread(app) as server:
        variable = "AIRFLOW_CONN_MIGRATION_REMOTE_ACME"
        import os

        monkeypatch.setenv(variable, json.dumps({**json.loads(os.environ[variable]), "port": server.port}))
        decision = runtime.check_status("acme", "no-capability")
        assert decision["proceed"] is True
    assert remote_status(source_url, "acme") is None  # the seeded default (READY) untouched
    assert state_rows("acme")["__DATA_MIGRATION__"]["remote_status_sent"] is None
