"""Existing target tables on MariaDB: adopted when they can hold the data type, refused with the fix otherwise."""

from __future__ import annotations

import re

import pytest

from include.migration.configuration.config_parsing import parse_config
from include.migration.target.connection import MySqlTarget
from include.migration.target.profiles import get_profile
from include.migration.target.schema import SCHEMA_TABLE, prepare_schema
from include.migration.target.table_check import TargetTableMismatchError
from tests.conftest import DB_PREFIX

DATABASE = f"{DB_PREFIX}_table_check"
CONFIG = parse_config({
    "data_types": [
        {"name": "accounts", "primary_key": "id", "columns": [
            {"name": "id", "type": "bigint"},
            {"name": "name", "type": "varchar(100)", "nullable": False},
            {"name": "amount", "type": "decimal(12,2)"},
            {"name": "created_at", "type": "timestamp"},
            {"name": "active", "type": "boolean"},
            {"name": "doc", "type": "json"},
            {"name": "note", "type": "text"},
            {"name": "visits", "type": "int"},
        ]},
        {"name": "tags", "primary_key": "code", "columns": [
            {"name": "code", "type": "varchar(64)"}, {"name": "label", "type": "varchar(20)"}]},
    ],
    "installations": [{"id": "checked", "remote_conn_id": "r", "target_conn_id": "t"}],
})
ACCOUNTS, TAGS = CONFIG.data_type("accounts"), CONFIG.data_type("tags")
PROFILE = get_profile("mysql")




def _columns(db: MySqlTarget, table: str) -> list[str]:
    return [r[0] for r in db.query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                                   "DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (table,))]


def test_tables_the_package_created_are_adopted_again(target: MySqlTarget) -> None:
    assert prepare_schema(target, [ACCOUNTS, TAGS], PROFILE, "checked")
    assert prepare_schema(target, [ACCOUNTS, TAGS], PROFILE, "checked") == []


def test_a_wider_table_is_adopted_and_gets_its_missing_column(target: MySqlTarget) -> None:
    target.execute(
        "CREATE TABLE accounts (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(300) NULL, amount DECIMAL(20,2), "
        "created_at DATETIME(6), active TINYINT(1), doc JSON, note LONGTEXT, KEY by_name (name))"
    )
    applied = prepare_schema(target, [ACCOUNTS], PROFILE, "checked")
    assert [s for s in applied if "accounts" in s] == ["add_column:accounts.visits"]
    assert _columns(target, "accounts")[-1] == "visits"


def test_a_table_that_cannot_hold_the_data_type_is_refused_with_each_fix(target: MySqlTarget) -> None:
    target.execute(
        "CREATE TABLE accounts (id BIGINT NOT NULL, name VARCHAR(50) NOT NULL, amount DECIMAL(12,4), "
        "created_at TIMESTAMP NULL, active TINYINT(1), doc JSON, note TEXT CHARACTER SET latin1, visits INT UNSIGNED, "
        "PRIMARY KEY (id, name), UNIQUE KEY uq_amount (amount))"
    )
    with pytest.raises(TargetTableMismatchError) as caught:
        prepare_schema(target, [ACCOUNTS], PROFILE, "checked")
    message = str(caught.value)
    expected = [
        "installation 'checked', data type 'accounts': the existing target table 'accounts' cannot hold",
        "its primary key is (id, name), the configuration's is (id)",
        "column 'name' is varchar(50), narrower than varchar(100): ALTER TABLE `accounts` MODIFY `name` VARCHAR(100) NOT NULL",
        "column 'amount' is decimal(12,4); decimal(12,2) needs the same scale",
        "column 'created_at' is timestamp; timestamps need datetime(6)",
        "column 'note' uses character set latin1",
        "column 'visits' is int(10) unsigned, narrower than int",
        "unique index 'uq_amount' on (amount) could merge or refuse rows",
        "nothing was copied",
    ]
    for part in expected:
        assert part in message, f"{part!r} not in:\n{message}"
    assert "column 'active'" not in message and "column 'doc'" not in message  # those fit
    assert target.existing_columns(SCHEMA_TABLE) is None  # refused before any step ran


def test_a_padding_key_collation_is_refused_and_its_fix_works(target: MySqlTarget) -> None:
    target.execute("CREATE TABLE tags (code VARCHAR(64) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, label VARCHAR(20))")
    with pytest.raises(TargetTableMismatchError) as caught:
        prepare_schema(target, [TAGS], PROFILE, "checked")
    message = str(caught.value)
    assert "column 'code' compares keys with collation utf8mb4_bin" in message, message
    fix = re.search(r"ALTER TABLE `tags` MODIFY .*", message)
    assert fix is not None and fix.group(0) == "ALTER TABLE `tags` MODIFY `code` VARCHAR(64) COLLATE utf8mb4_nopad_bin NOT NULL"
    target.execute(fix.group(0))  # what the operator is told to run
    prepare_schema(target, [TAGS], PROFILE, "checked")
    target.execute("INSERT INTO tags (code) VALUES ('a'), ('a ')")  # now two keys
    assert target.query("SELECT COUNT(*) FROM tags")[0][0] == 2
