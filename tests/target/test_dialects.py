"""The SQL each MySQL-family server gets: chosen from its VERSION(), rendered per dialect."""

from __future__ import annotations

import pytest

from include.migration.configuration.config import ColumnSpec
from include.migration.target.dialects import (
    MARIADB_DIALECT,
    MYSQL8_DIALECT,
    MYSQL_DIALECT,
    SQLITE_DIALECT,
    TIDB_DIALECT,
    dialect_for_server,
)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("10.11.6-MariaDB-0+deb12u1", MARIADB_DIALECT),
        ("11.4.2-MariaDB", MARIADB_DIALECT),
        ("8.4.3", MYSQL8_DIALECT),
        ("8.0.19", MYSQL8_DIALECT),
        ("8.0.36-0ubuntu0.22.04.1", MYSQL8_DIALECT),
        ("8.0.18", MYSQL_DIALECT),
        ("5.7.44-log", MYSQL_DIALECT),
        ("8.0.11-TiDB-v7.5.1", TIDB_DIALECT),
        ("5.7.25-TiDB-v6.5.0", TIDB_DIALECT),
    ],
)
def test_dialect_from_the_server_version(version: str, expected: object) -> None:
    assert dialect_for_server(version) is expected


def test_mysql8_upserts_through_a_row_alias() -> None:
    assert MYSQL8_DIALECT.upsert_suffix(["id", "name", "n"], "id", clear=["deleted_at"]) == (
        " AS `_incoming` ON DUPLICATE KEY UPDATE `name` = `_incoming`.`name`, `n` = `_incoming`.`n`, "
        "`deleted_at` = NULL"
    )


@pytest.mark.parametrize("dialect", [MARIADB_DIALECT, TIDB_DIALECT, MYSQL_DIALECT])
def test_mariadb_tidb_and_older_mysql_keep_values(dialect: object) -> None:
    assert dialect.upsert_suffix(["id", "name"], "id") == " ON DUPLICATE KEY UPDATE `name` = VALUES(`name`)"


def test_sqlite_upserts_with_excluded() -> None:
    assert SQLITE_DIALECT.upsert_suffix(["id", "name"], "id") == (
        ' ON CONFLICT ("id") DO UPDATE SET "name" = excluded."name"'
    )


COLUMNS = (ColumnSpec(name="code", type="varchar(64)", nullable=False), ColumnSpec(name="label", type="varchar(10)"))


@pytest.mark.parametrize(
    ("dialect", "key_definition", "pads"),
    [
        (MARIADB_DIALECT, "`code` VARCHAR(64) COLLATE utf8mb4_nopad_bin NOT NULL", False),
        (MYSQL8_DIALECT, "`code` VARCHAR(64) COLLATE utf8mb4_0900_bin NOT NULL", False),
        (TIDB_DIALECT, "`code` VARCHAR(64) NOT NULL", True),
        (MYSQL_DIALECT, "`code` VARCHAR(64) NOT NULL", True),
    ],
)
def test_varchar_keys_get_a_no_pad_binary_collation_where_the_server_has_one(dialect, key_definition, pads) -> None:
    ddl = dialect.create_table("tags", COLUMNS, "code")
    assert key_definition in ddl
    assert "`label` VARCHAR(10) NULL" in ddl  # other columns keep the table's collation
    assert dialect.pads_keys is pads
    assert not SQLITE_DIALECT.pads_keys
