"""Fixtures of the target tests: a scratch MariaDB database per test."""

from __future__ import annotations

from collections.abc import Iterator

import MySQLdb
import pytest

from include.migration.target.connection import MySqlTarget
from include.migration.target.profiles import get_profile
from tests.conftest import MARIADB, fresh_mariadb_database


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[MySqlTarget]:
    """The test module's ``DATABASE``, dropped and created empty (default collation utf8mb4_general_ci, so a
    column the package creates shows its own), as a ``MySqlTarget`` of the ``mysql`` profile."""
    database = request.module.DATABASE
    fresh_mariadb_database(database, "utf8mb4_general_ci")
    db = MySqlTarget(MySQLdb.connect(**MARIADB, db=database, charset="utf8mb4"), get_profile("mysql"))
    yield db
    db.close()
