"""Fixtures shared by the reference remote's tests: an HTTP session and a scratch PostgreSQL database."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg2
import pytest
import requests

PG_ADMIN_DSN = "postgresql://root@127.0.0.1:5432/postgres"
PG_DATABASE = os.environ.get("MIGRATION_TEST_DB_PREFIX", "migration_test") + "_reference_remote"
PG_URL = f"postgresql+psycopg2://root@127.0.0.1:5432/{PG_DATABASE}"


def _admin(statement: str) -> None:
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database (``<prefix>_reference_remote``), dropped after the module."""
    _admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    _admin(f"CREATE DATABASE {PG_DATABASE}")
    yield PG_URL
    _admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One keep-alive HTTP session per module."""
    with requests.Session() as session:
        yield session
