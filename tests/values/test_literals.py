"""Column-at-a-time SQL literals: what MariaDB stores is exactly the values meant, in statements cut to the limit."""

import datetime as dt
import decimal

import MySQLdb
import pyarrow as pa
import pytest

from include.migration.configuration.config_parsing import parse_config
from include.migration.target.connection import MySqlTarget
from include.migration.target.dialects import MYSQL_DIALECT
from include.migration.target.profiles import get_profile
from include.migration.target.writer import UpsertWriter
from include.migration.values.literals import render_table
from include.migration.values.pages import table_rows
from tests.conftest import DB_PREFIX, MARIADB, fresh_mariadb_database, mariadb_connection
from tests.values import oracle

SPEC = parse_config({"data_types": [{"name": "t", "primary_key": "id", "columns": [
    {"name": "id", "type": "bigint"}, {"name": "n", "type": "int"}, {"name": "s", "type": "varchar(50)"},
    {"name": "body", "type": "text"}, {"name": "d", "type": "decimal(12,2)"}, {"name": "x", "type": "double"},
    {"name": "b", "type": "boolean"}, {"name": "at", "type": "timestamp"}, {"name": "day", "type": "date"},
    {"name": "doc", "type": "json"}]}], "installations": []}).data_type("t")

ROWS = [
    (1, -5, "Zoë 'quoted' \\ back", "line\nbreak\x00nul\x1a\"", decimal.Decimal("-1234.50"), 0.1, True,
     dt.datetime(2026, 3, 4, 5, 6, 7, 120000), dt.date(2026, 2, 28), '{"a":"é"}'),
    (2, None, "", None, decimal.Decimal("0.00"), -2.5e-300, False, dt.datetime(2026, 1, 1), None, "[]"),
]
NASTY = [
    "O'Brien \\ back \\' both", "line\nbreak\r\nwindows", "nul\x00byte", 'say "hi"', "ctrl-z \x1a", "",
    "日本語テキスト 🎉👍 Zoë", "\\", "'", "trailing backslash \\",
]
DATABASE = f"{DB_PREFIX}_literals"


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
    fresh_mariadb_database(DATABASE)
    db = MySqlTarget(mariadb_connection(DATABASE), get_profile("mysql"))
    db.execute(MYSQL_DIALECT.create_table("t", SPEC.columns, SPEC.primary_key))
    yield db
    db.close()


def _writer(db, **overrides):
    return UpsertWriter(db, SPEC, get_profile("mysql", overrides or None), installation_id="acme")


@pytest.mark.parametrize("sql_mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_the_server_stores_exactly_the_values_meant(target, sql_mode):
    if sql_mode:
        target.execute(f"SET SESSION sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, '{sql_mode}')")
        target.backslash_escapes = False
    rows = _rows()
    _writer(target).write(_table(rows))
    stored = target.query("SELECT * FROM t ORDER BY id")
    # Read back by the driver and compared with the Python values themselves: booleans come back as 0/1.
    expected = [tuple(int(v) if isinstance(v, bool) else v for v in row) for row in rows]
    assert [tuple(r) for r in stored] == expected
    assert [r[3] for r in stored[2:]] == NASTY


def test_literals_match_the_driver_except_for_escapes_the_server_does_not_need():
    """The driver's own escaping (``conn.literal``) is the independent reference."""
    def plain_text(row):
        return not any(c in (row[2] or "") + (row[3] or "") for c in '"\x00\x1a')

    plain = [r[:5] + (0.5,) + r[6:9] + ("[1]",) for r in _rows() if plain_text(r)]
    assert len(plain) > 5
    conn = MySQLdb.connect(**MARIADB, db="test", charset="utf8mb4")
    try:
        by_driver = b",".join(conn.literal(tuple(row)) for row in plain)
    finally:
        conn.close()
    # Doubles print as "0.5" here and "0.5e0" in the driver; whole seconds as ":00.000000" here and ":00" there.
    ours = render_table(_table(plain), SPEC.columns).part(0, len(plain)).replace(b".000000'", b"'")
    assert ours == by_driver.replace(b"0.5e0", b"0.5")


def test_statements_are_cut_at_the_limit_in_key_order(target):
    rows = _rows()
    prepared = _writer(target, max_statement_bytes=600).prepare(_table(rows))
    sizes = render_table(_table(rows), SPEC.columns).sizes
    assert len(prepared.statements) > 3 and prepared.rows == len(rows)
    start = 0
    fixed = prepared.statements[0].size - sum(sizes[:prepared.statements[0].rows]) - (prepared.statements[0].rows - 1)
    for statement in prepared.statements:
        stop = start + statement.rows
        assert statement.size == fixed + sum(sizes[start:stop]) + statement.rows - 1 <= 600
        assert (statement.first_key, statement.last_key) == (rows[start][0], rows[stop - 1][0])
        if stop < len(rows):  # no room left for the next row
            assert statement.size + 1 + sizes[stop] > 600
        start = stop


def test_table_rows_gives_the_python_values():
    rows = _rows()
    assert table_rows(_table(rows)) == [tuple(r) for r in rows]
    assert render_table(_table(rows).slice(0, 0), SPEC.columns).sizes == []


def test_target_side_hashes_equal_the_specification_for_stored_rows(target):
    """The validation reader's hashes (canonical text printed by the server where it can) match the oracle."""
    from include.migration.steps.validation.chunks import Chunk
    from include.migration.steps.validation.target_side import TargetReader

    rows = _rows()
    _writer(target).write(_table(rows))
    expected = {row[0]: oracle.row_hash(SPEC, row) for row in rows}
    assert TargetReader(target, SPEC).hashes(Chunk(None, None)) == expected
    # Every column printable by the server: the server computes the whole hash.
    columns = tuple(c for c in SPEC.columns if c.type.base not in ("double", "json"))
    narrow = SPEC.model_copy(update={"target_table": "narrow", "columns": columns})
    target.execute(MYSQL_DIALECT.create_table("narrow", columns, SPEC.primary_key))
    kept = [tuple(v for v, c in zip(row, SPEC.columns) if c in columns) for row in rows]
    narrow_table = _table(rows).select([c.name for c in columns])
    UpsertWriter(target, narrow, get_profile("mysql"), installation_id="acme").write(narrow_table)
    reader = TargetReader(target, narrow)
    assert reader._hashing is not None and reader._hashing.whole_row
    assert reader.hashes(Chunk(None, None)) == {row[0]: oracle.row_hash(narrow, row) for row in kept}
    assert reader.stats(Chunk(10, 15)).count == 5
