"""Varchar keys compared byte for byte: case, trailing and leading spaces, accents, 4-byte characters.

The source is PostgreSQL behind the reference remote on loopback, the target a
fresh MariaDB database; the keys go through transfer, validation and repair
(chunks of 10 keys, so neighbours such as ``'a'`` and ``'a '`` meet at chunk
bounds). Rows are compared value by value against the source, in Python's
code-point order (UTF-8 byte order), independently of either server's order.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Iterator
from typing import Any

import MySQLdb
import pytest
import requests
import sqlalchemy as sa

from include.migration.configuration.config import DataTypeSpec
from include.migration.configuration.config_parsing import parse_config
from include.migration.source.client import RemoteClient
from include.migration.steps.transfer import run_transfer
from include.migration.steps.validation.validator import validate_data_type
from include.migration.target.connection import MySqlTarget
from include.migration.target.dialects import MARIADB_DIALECT, TIDB_DIALECT
from include.migration.target.profiles import get_profile
from include.migration.target.schema import prepare_schema
from include.migration.target.writer import UpsertWriter
from include.migration.values.errors import ConversionError
from include.migration.values.pages import PageConverter
from include.reference_remote import build_source_metadata
from include.reference_remote.app import create_app
from include.reference_remote.server import serve_in_thread
from include.reference_remote.source_schema import INSTALLATION_COLUMN
from tests.conftest import DB_PREFIX, fresh_postgres_database

INSTALLATION = "keys"
DATABASE = f"{DB_PREFIX}_string_keys"
CONFIG = parse_config({
    "data_types": [{
        "name": "tags", "primary_key": "code", "page_size": 7, "validation_chunk_rows": 10,
        "columns": [{"name": "code", "type": "varchar(64)"}, {"name": "label", "type": "varchar(100)"}],
    }],
    "installations": [{"id": INSTALLATION, "remote_conn_id": "r", "target_conn_id": "t"}],
})
SPEC: DataTypeSpec = CONFIG.data_type("tags")
WORDS = ["a", "ab", "b", "é", unicodedata.normalize("NFD", "é"), "Zoë", "ß", "ss", "İ", "i", "😀", "日本", "", "z"]


def _keys() -> list[str]:
    variants = {v for w in WORDS for v in (w, w.upper(), w + " ", w + "  ", " " + w, w + "\t")}
    return sorted(variants)


KEYS = _keys()


def _target_rows(db: MySqlTarget) -> list[tuple[str, str]]:
    return sorted(tuple(row) for row in db.query("SELECT code, label FROM tags"))


@pytest.fixture(scope="module")
def remote_url() -> Iterator[tuple[str, str, str]]:
    """PostgreSQL seeded with one row per key, and the reference remote over it: (base url, token, source url)."""
    url = fresh_postgres_database(f"{DB_PREFIX}_string_keys_source")
    engine = sa.create_engine(url)
    table = build_source_metadata([SPEC]).tables["tags"]
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{INSTALLATION_COLUMN: INSTALLATION, "code": k, "label": f"label of {k!r}"}
                                      for k in KEYS])
    engine.dispose()
    token = secrets.token_urlsafe(16)
    with serve_in_thread(create_app(url, CONFIG.data_types, {token: INSTALLATION})) as server:
        yield server.base_url, token, url




def _client(remote_url: tuple[str, str, str]) -> RemoteClient:
    return RemoteClient(requests.Session(), remote_url[0], remote_url[1], INSTALLATION)


def _validate(db: MySqlTarget, client: RemoteClient, repair: bool) -> Any:
    return validate_data_type(installation_id=INSTALLATION, spec=SPEC, client=client,
                              capabilities=list(client.status()["capabilities"]), db=db, profile=get_profile("mysql"),
                              grace_seconds=0, repair=repair)


def test_keys_that_differ_by_a_byte_are_different_rows(remote_url, target) -> None:
    assert target.dialect is MARIADB_DIALECT  # chosen from the server's VERSION()
    prepare_schema(target, [SPEC], get_profile("mysql"), INSTALLATION)
    collation = target.query("SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                             "AND TABLE_NAME = 'tags' AND COLUMN_NAME = 'code'", (DATABASE,))[0][0]
    assert collation == "utf8mb4_nopad_bin"
    client = _client(remote_url)
    try:
        installation = CONFIG.installation(INSTALLATION)
        result = run_transfer(installation=installation, data_type=SPEC, client=client, db=target,
                              profile=get_profile("mysql"), run_id="keys", budget_seconds=60)
        assert result.done and result.rows == len(KEYS)
        expected = sorted((k, f"label of {k!r}") for k in KEYS)
        assert _target_rows(target) == expected  # every key its own row, byte for byte
        first = _validate(target, client, repair=False)
        assert (first.green, first.rows_source, first.rows_target) == (True, len(KEYS), len(KEYS))
        assert first.chunks >= len(KEYS) // 10

        # Corrupt the target where PAD SPACE or case folding would hide it: the repair must find each key exactly.
        target.execute("DELETE FROM tags WHERE code = %s", ("a ",))
        target.execute("UPDATE tags SET label = 'wrong' WHERE code = %s", ("A",))
        target.execute("UPDATE tags SET label = 'wrong too' WHERE code = %s", (unicodedata.normalize("NFD", "é"),))
        target.execute("INSERT INTO tags (code, label) VALUES (%s, 'extra')", ("a   ",))
        repaired = _validate(target, client, repair=True)
        assert repaired.green, repaired.as_dict()
        assert sorted(repaired.missing_keys) == ["a "]
        assert sorted(repaired.different_keys) == sorted(["A", unicodedata.normalize("NFD", "é")])
        assert repaired.extra_keys == ["a   "]
        assert _target_rows(target) == expected
    finally:
        client.close()


def test_a_pad_space_key_column_would_merge_them(target) -> None:
    """The control: under MariaDB's PAD SPACE utf8mb4_bin, 'a' and 'a ' are one key (what the NO PAD column avoids)."""
    target.execute("CREATE TABLE padded (code VARCHAR(64) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY)")
    target.execute("INSERT INTO padded VALUES ('a')")
    with pytest.raises(MySQLdb.IntegrityError, match="Duplicate entry"):
        target.execute("INSERT INTO padded VALUES ('a ')")


def test_a_target_without_no_pad_refuses_trailing_space_keys(target) -> None:
    """TiDB has no binary NO PAD collation: a key with trailing spaces fails with installation, key and column named."""
    target.dialect = TIDB_DIALECT
    prepare_schema(target, [SPEC], get_profile("mysql"), INSTALLATION)
    writer = UpsertWriter(target, SPEC, get_profile("mysql"), installation_id=INSTALLATION)
    pages = PageConverter(INSTALLATION, SPEC)
    assert writer.write(pages.rows(["code", "label"], [["a", "fine"], ["b", "fine"]])) == 2
    with pytest.raises(ConversionError) as caught:
        writer.write(pages.rows(["code", "label"], [["c", "fine"], ["a ", "padded"]]))
    message = str(caught.value)
    for part in ("installation 'keys'", "data type 'tags'", "key 'a '", "column 'code'", "NO PAD", "tidb"):
        assert part in message, message
    assert _target_rows(target) == [("a", "fine"), ("b", "fine")]  # nothing of the refused batch written
