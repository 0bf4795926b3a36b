"""The source tables: ``python -m include.reference_remote init`` creates what is missing; a missing table or column is a 503 naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import inspect, text

from include.migration.configuration.config_loading import load_config
from include.migration.source.client import RemoteClient, RemoteRetryableError, RetryPolicy
from include.reference_remote import build_source_metadata, create_app, serve_in_thread
from include.reference_remote.__main__ import main
from include.reference_remote.server import RunningServer
from include.reference_remote.source_schema import create_source_engine

ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATH = ROOT / "tests" / "fixtures" / "migration_config.yaml"
CONFIG = load_config(CONFIG_PATH)
TABLES = [t.name for t in build_source_metadata(CONFIG.data_types).metadata.sorted_tables]
INIT_HINT = (
    "create the source tables with `python -m include.reference_remote init --source-url URL --config YAML`"
)


def _init_cli(url: str) -> subprocess.CompletedProcess[str]:
    """``python -m include.reference_remote init``, as an operator runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "include.reference_remote", "init", "--source-url", url,
               "--config", str(CONFIG_PATH)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def _execute(url: str, *statements: str) -> None:
    engine = create_source_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _drop_all(url: str) -> None:
    engine = create_source_engine(url)
    try:
        build_source_metadata(CONFIG.data_types).metadata.drop_all(engine)
    finally:
        engine.dispose()


def _columns(url: str) -> dict[str, list[str]]:
    engine = create_source_engine(url)
    try:
        inspector = inspect(engine)
        return {name: [c["name"] for c in inspector.get_columns(name)] for name in inspector.get_table_names()}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server(postgres_url: str) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(postgres_url, CONFIG.data_types, {"tok": "acme"})) as running:
        yield running


@pytest.fixture
def initialised(postgres_url: str) -> str:
    """Every source table, freshly created and empty."""
    _drop_all(postgres_url)
    main(["init", "--source-url", postgres_url, "--config", str(CONFIG_PATH)])
    return postgres_url


def _get(http: requests.Session, server: RunningServer, path: str, **params: Any) -> requests.Response:
    headers = {"Authorization": "Bearer tok"}
    return http.get(f"{server.base_url}/data-migration/{path}", params=params, headers=headers, timeout=10)


def test_init_creates_every_source_table_once(postgres_url: str) -> None:
    _drop_all(postgres_url)
    assert _columns(postgres_url) == {}

    first = _init_cli(postgres_url)
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout.splitlines() == [f"created table {name}" for name in TABLES]
    expected = {spec.source_table: ["installation_id", *spec.column_names] for spec in CONFIG.data_types}
    assert _columns(postgres_url) == {**expected, "migration_status": ["installation_id", "status", "evidence", "updated_at"]}

    second = _init_cli(postgres_url)
    assert (second.returncode, second.stderr) == (0, "")
    assert second.stdout == f"nothing to create: all {len(TABLES)} source tables exist\n"


def test_init_creates_only_what_is_missing_and_names_missing_columns(
    initialised: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _execute(initialised, "DROP TABLE migration_status", "ALTER TABLE users DROP COLUMN display_name")
    assert main(["init", "--source-url", initialised, "--config", str(CONFIG_PATH)]) == 1
    out, err = capsys.readouterr()
    assert out == "created table migration_status\n"
    assert err == "table users exists but lacks columns display_name: add them by hand\n"


def test_a_freshly_initialised_source_is_served(
    http: requests.Session, server: RunningServer, initialised: str
) -> None:
    status = _get(http, server, "status")
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "READY"
    for page_format in ("json", "arrow"):
        assert _get(http, server, "users/", format=page_format).status_code == 200


def test_a_missing_migration_status_is_a_503_naming_it(
    http: requests.Session, server: RunningServer, initialised: str
) -> None:
    _execute(initialised, "DROP TABLE migration_status")
    response = _get(http, server, "status")
    assert response.status_code == 503
    assert response.json() == {
        "detail": f"source table migration_status does not exist; {INIT_HINT}",
        "error": "source table missing",
        "missingTables": ["migration_status"],
    }

    client = RemoteClient(
        requests.Session(), server.base_url, "tok", "acme", policy=RetryPolicy(attempts=2), sleep=lambda _: None
    )
    with pytest.raises(RemoteRetryableError) as caught:
        client.status()
    assert "HTTP 503" in str(caught.value)
    assert f"source table migration_status does not exist; {INIT_HINT}" in str(caught.value)

    main(["init", "--source-url", initialised, "--config", str(CONFIG_PATH)])
    assert _get(http, server, "status").status_code == 200


@pytest.mark.parametrize(
    ("path", "params"),
    [("users/", {}), ("users/", {"format": "arrow"}), ("users/stats", {"upTo": "10"}), ("users/hashes", {})],
)
def test_a_missing_data_type_table_is_a_503_naming_it(
    http: requests.Session, server: RunningServer, initialised: str, path: str, params: dict[str, str]
) -> None:
    _execute(initialised, "DROP TABLE users")
    expected = {
        "detail": f"source table users does not exist; {INIT_HINT}",
        "error": "source table missing",
        "missingTables": ["users"],
    }
    response = _get(http, server, path, **params)
    assert (response.status_code, response.json()) == (503, expected)
    # The status names it too: the migration would stop at that data type.
    status = _get(http, server, "status")
    assert (status.status_code, status.json()) == (503, expected)
    # Another data type's pages do not need it.
    assert _get(http, server, "issues/").status_code == 200


@pytest.mark.parametrize("page_format", ["json", "arrow"])
def test_a_missing_column_is_a_503_naming_it(
    http: requests.Session, server: RunningServer, initialised: str, page_format: str
) -> None:
    _execute(initialised, "ALTER TABLE users DROP COLUMN installation_id CASCADE")
    response = _get(http, server, "users/", format=page_format)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "source table users lacks column(s) installation_id; add them to the table "
        "(`python -m include.reference_remote init` creates missing tables only)",
        "error": "source column missing",
        "missingColumns": {"users": ["installation_id"]},
    }


def test_missing_tables_on_sqlite_are_named_too(http: requests.Session, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with serve_in_thread(create_app(url, CONFIG.data_types, {"tok": "acme"})) as running:
        status = _get(http, running, "status")
        assert status.status_code == 503
        assert status.json()["missingTables"] == TABLES
        page = _get(http, running, "issues/")
        assert (page.status_code, page.json()["missingTables"]) == (503, ["issues"])
