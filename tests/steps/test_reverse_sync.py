"""Rollback by reverse sync through the reverse DAG: inserts, updates and deletes in the target reach the remote."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from airflow.utils.state import DagRunState

from include.migration.orchestration.dag_factory import build_dags
from tests.conftest import DB_PREFIX, mariadb_connection, seeded_source, target_database_name
from tests.support import source_rows, state_rows, target_rows


@pytest.fixture
def own_source(config, tokens, monkeypatch) -> Iterator[str]:
    """A source of its own (the reverse sync writes into it), served by its own remote; acme's connection points there."""
    import json
    import os

    from include.reference_remote.app import create_app
    from include.reference_remote.server import serve_in_thread

    url = seeded_source(f"{DB_PREFIX}_reverse_source", config.data_types, ["acme", "globex"], 2_000)
    with serve_in_thread(create_app(url, config.data_types, {t: i for i, t in tokens.items()})) as server:
        variable = "AIRFLOW_CONN_MIGRATION_REMOTE_ACME"
        monkeypatch.setenv(variable, json.dumps({**json.loads(os.environ[variable]), "port": server.port}))
        yield url


def test_reverse_dag_sends_inserts_updates_and_deletes_back(airflow_db, remote, fresh_targets, config, own_source):
    forward = build_dags(config)["migrate_acme"]
    assert forward.test().state == DagRunState.SUCCESS
    spec = config.data_type("comments")
    assert target_rows("acme", spec) == source_rows(own_source, spec, "acme")
    others = source_rows(own_source, spec, "globex")
    conn = mariadb_connection(target_database_name("acme"))
    conn.query("UPDATE comments SET body = 'changed in the target' WHERE id IN (3, 1500)")
    conn.query("DELETE FROM comments WHERE id IN (7, 1999)")
    conn.query("INSERT INTO comments (id, issue_id, author_id, body, created_at) "
               "VALUES (5000001, 1, 2, 'new in the target', '2026-11-30 12:00:00.123456')")
    conn.close()
    assert target_rows("acme", spec) != source_rows(own_source, spec, "acme")

    reverse = build_dags(config)["reverse_acme"]
    run = reverse.test()
    assert run.state == DagRunState.SUCCESS
    results = {ti.xcom_pull(task_ids="reverse_sync", map_indexes=ti.map_index)["data_type"]:
               ti.xcom_pull(task_ids="reverse_sync", map_indexes=ti.map_index)
               for ti in run.get_task_instances() if ti.task_id == "reverse_sync"}
    assert (results["comments"]["rows_sent"], results["comments"]["keys_deleted"], results["comments"]["green"]) == (3, 2, True)
    assert results["users"]["rows_sent"] == results["users"]["keys_deleted"] == 0
    # Equal by value, compared independently of the package's hashing; the other installation untouched.
    for each in config.data_types:
        assert source_rows(own_source, each, "acme") == target_rows("acme", each), each.name
    assert source_rows(own_source, spec, "globex") == others
    reverse_state = state_rows("acme")["reverse:comments"]
    assert (reverse_state["status"], reverse_state["checkpoint"], reverse_state["last_error"]) == ("DONE", None, None)
    assert (reverse_state["rows_copied"], reverse_state["pages_copied"], reverse_state["data_type"]) == (5, 1, None)
    assert state_rows("acme")["reverse:users"]["rows_copied"] == 0
    again = reverse.test()  # nothing left to send
    assert again.state == DagRunState.SUCCESS
    sent = [ti.xcom_pull(task_ids="reverse_sync", map_indexes=ti.map_index)["rows_sent"]
            for ti in again.get_task_instances() if ti.task_id == "reverse_sync"]
    assert sent == [0, 0, 0]
