"""Column-at-a-time literals store exactly what the per-row renderer stores, in statements cut the same way."""

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from include.migration.arrow_conversion import table_rows
from include.migration.target.arrow_render import render_table
from include.migration.target.connection import MySqlTarget
from include.migration.target.dialects import MYSQL_DIALECT
from include.migration.target.profiles import get_profile
from include.migration.target.writer import UpsertWriter
from tests.conftest import DB_PREFIX, mariadb_connection
from tests.target.test_rendering import ROWS, SPEC

NASTY = [
    "O'Brien \\ back \\' both", "line\nbreak\r\nwindows", "nul\x00byte", 'say "hi"', "ctrl-z \x1a", "",
    "日本語テキスト 🎉👍 Zoë", "\\", "'", "trailing backslash \\",
]
DATABASE = f"{DB_PREFIX}_arrow_render"


def _table(rows):
    columns = list(zip(*rows))
    types = [pa.int64(), pa.int32(), pa.string(), pa.string(), pa.decimal128(12, 2), pa.float64(), pa.bool_(),
             pa.timestamp("us"), pa.date32(), pa.string()]
    return pa.Table.from_arrays([pa.array(list(c), t) for c, t in zip(columns, types)], names=list(SPEC.column_names))


def _rows():
    rows = list(ROWS)
    for index, text in enumerate(NASTY, start=10):
        rows.append((index, 2**31 - 1 if index % 2 else -(2**31), text[:50], text, decimal.Decimal("-9999999999.99"),
                     [1e308, -0.0, 5.0, 1e-7, 123456789.123456789][index % 5], index % 2 == 0,
                     dt.datetime(1000, 1, 1) if index % 3 else dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                     dt.date(1, 1, 1) if index % 2 else dt.date(9999, 12, 31), '{"k": "v\\"q"}'))
    return rows


@pytest.fixture
def target():
    admin = mariadb_connection()
    admin.query(f"DROP DATABASE IF EXISTS `{DATABASE}`")
    admin.query(f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    admin.close()
    db = MySqlTarget(mariadb_connection(DATABASE), get_profile("mysql"))
    for table in ("by_rows", "by_columns"):
        db.execute(MYSQL_DIALECT.create_table(table, SPEC.columns, SPEC.primary_key))
    yield db
    db.close()
    admin = mariadb_connection()
    admin.query(f"DROP DATABASE IF EXISTS `{DATABASE}`")
    admin.close()


def _writer(db, table, **overrides):
    spec = SPEC.model_copy(update={"target_table": table})
    return UpsertWriter(db, spec, get_profile("mysql", overrides or None), installation_id="acme")


@pytest.mark.parametrize("sql_mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_the_server_stores_the_same_values_either_way(target, sql_mode):
    if sql_mode:
        target.execute(f"SET SESSION sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, '{sql_mode}')")
        target.backslash_escapes = False
    rows = _rows()
    _writer(target, "by_rows").write(rows)
    _writer(target, "by_columns").write(_table(rows))
    stored_by_rows = target.query("SELECT * FROM by_rows ORDER BY id")
    stored_by_columns = target.query("SELECT * FROM by_columns ORDER BY id")
    assert len(stored_by_columns) == len(rows)
    assert stored_by_columns == stored_by_rows
    texts = {row[0]: row[3] for row in stored_by_columns}
    assert [texts[i] for i in range(10, 10 + len(NASTY))] == NASTY


def test_literals_match_the_driver_except_for_escapes_the_server_does_not_need(target):
    def plain_text(row):
        return not any(c in (row[2] or "") + (row[3] or "") for c in '"\x00\x1a')

    plain = [r[:5] + (0.5,) + r[6:9] + ("[1]",) for r in _rows() if plain_text(r)]
    assert len(plain) > 5
    # Doubles print as "0.5" here and "0.5e0" in the driver.
    # Whole seconds print as "...:00.000000" here and "...:00" in the driver.
    by_columns = render_table(_table(plain), SPEC.columns).part(0, len(plain)).replace(b".000000'", b"'")
    by_rows = b",".join(target.render_rows(plain, SPEC.columns)).replace(b"0.5e0", b"0.5")
    assert by_columns == by_rows


def test_statements_are_cut_at_the_same_rows_as_the_row_path(target):
    rows = _rows() * 1
    small = {"max_statement_bytes": 600}
    by_rows = _writer(target, "by_rows", **small).prepare(rows)
    by_columns = _writer(target, "by_columns", **small).prepare(_table(rows))
    assert [s.rows for s in by_columns.statements] == [s.rows for s in by_rows.statements]
    assert len(by_columns.statements) > 3 and by_columns.rows == len(rows)
    assert all(s.size <= 600 for s in by_columns.statements)
    assert [(s.first_key, s.last_key) for s in by_columns.statements] == [
        (s.first_key, s.last_key) for s in by_rows.statements
    ]


def test_table_rows_gives_the_tuples_the_row_path_takes():
    rows = _rows()
    assert table_rows(_table(rows)) == [tuple(r) for r in rows]
    assert render_table(_table(rows).slice(0, 0), SPEC.columns).sizes == []


def test_target_side_hashes_equal_the_reference_for_stored_rows(target):
    """The validation reader's hashes (canonical text printed by the server where it can) match RowHasher."""
    from include.migration.checksum import RowHasher
    from include.migration.validation.chunks import Chunk
    from include.migration.validation.target_side import TargetReader

    rows = _rows()
    _writer(target, "by_columns").write(_table(rows))
    spec = SPEC.model_copy(update={"target_table": "by_columns"})
    reference = RowHasher(spec)
    expected = {row[0]: reference.hash(row) for row in rows}
    assert TargetReader(target, spec).hashes(Chunk(None, None)) == expected
    # Every column printable by the server: the server computes the whole hash.
    columns = tuple(c for c in SPEC.columns if c.type.base not in ("double", "json"))
    narrow = SPEC.model_copy(update={"target_table": "by_rows_narrow", "columns": columns})
    target.execute(MYSQL_DIALECT.create_table("by_rows_narrow", columns, SPEC.primary_key))
    kept = [tuple(v for v, c in zip(row, SPEC.columns) if c in columns) for row in rows]
    UpsertWriter(target, narrow, get_profile("mysql"), installation_id="acme").write(kept)
    reader = TargetReader(target, narrow)
    assert reader._hashing is not None and reader._hashing.whole_row
    assert reader.hashes(Chunk(None, None)) == {row[0]: RowHasher(narrow).hash(row) for row in kept}
    assert reader.stats(Chunk(10, 15)).count == 5
