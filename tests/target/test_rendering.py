"""The per-column literal renderer writes what the driver's own escaping would, byte for byte."""

import datetime as dt
import decimal

import MySQLdb

from include.migration.config import parse_config
from include.migration.target.connection import MySqlTarget
from include.migration.target.profiles import get_profile
from tests.conftest import MARIADB

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


def test_rendered_rows_round_trip_through_mariadb():
    conn = MySQLdb.connect(**MARIADB, db="test", charset="utf8mb4")
    target = MySqlTarget(conn, get_profile("mysql"))
    try:
        fast = target.render_rows(ROWS, SPEC.columns)
        assert fast == target.render_rows(ROWS)  # what conn.literal() gives, byte for byte
        # And the server reads back exactly the values we meant.
        values = target.query(b"SELECT " + fast[0][1:-1])[0]
        assert values[2] == ROWS[0][2] and values[3] == ROWS[0][3] and values[4] == ROWS[0][4]
        assert values[5] == 0.1 and values[7] == "2026-03-04 05:06:07.120000" and values[9] == '{"a":"é"}'
    finally:
        target.close()
