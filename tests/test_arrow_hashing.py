"""Column-at-a-time hashing gives RowHasher's hashes, whatever shape the rows arrive in."""

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from include.migration.arrow_hashing import ArrowRowHasher
from include.migration.arrow_pages import wire_schema
from include.migration.arrow_text import decimal_text
from include.migration.checksum import RowHasher
from tests.test_checksum import FROM_MYSQL, FROM_PAGE, FROM_SOURCE, FROM_SQLITE, SPEC

EDGES = [
    (1, None, None, None, None, None, None, None),
    (2, "", decimal.Decimal("-0.00"), -0.0, 0, dt.datetime(1000, 1, 1), dt.date(1, 1, 1), "[]"),
    (3, "back\\slash 'q' \"d\" \n", decimal.Decimal("-999999.99"), 1e308, 1, dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
     dt.date(9999, 12, 31), '{"x": 1e20, "y": 2.0, "z": "\\u00e9"}'),
    (4, "🎉", decimal.Decimal("0.01"), 5e-324, 1, dt.datetime(2026, 1, 1), dt.date(2026, 1, 1), '{"b":1,"a":[1.5]}'),
]


def test_row_shapes_hash_as_row_hasher_does():
    rows = RowHasher(SPEC)
    arrow = ArrowRowHasher(SPEC)
    for shape in (FROM_SOURCE, FROM_PAGE, FROM_MYSQL, FROM_SQLITE):
        assert arrow.hash_rows([shape, shape]) == [rows.hash(shape)] * 2
    assert arrow.hash_rows(EDGES) == [rows.hash(r) for r in EDGES]
    assert arrow.hash_rows([]) == []


def test_wire_tables_hash_as_their_rows():
    rows = RowHasher(SPEC)
    arrow = ArrowRowHasher(SPEC)
    utc_edges = [
        tuple(v.replace(tzinfo=dt.timezone.utc) if isinstance(v, dt.datetime) else v for v in r[:4])
        + (None if r[4] is None else bool(r[4]),)
        + tuple(v.replace(tzinfo=dt.timezone.utc) if isinstance(v, dt.datetime) else v for v in r[5:])
        for r in EDGES
    ]
    table = pa.Table.from_arrays(
        [pa.array(list(values), f.type) for values, f in zip(zip(*utc_edges), wire_schema(SPEC))], schema=wire_schema(SPEC)
    )
    assert arrow.hash_table(table) == [rows.hash(r) for r in EDGES]


def test_decimals_print_in_plain_notation():
    values = pa.array([decimal.Decimal("8.820E-7"), decimal.Decimal("-1E-10"), None, decimal.Decimal("12.5")],
                      pa.decimal128(28, 10))
    assert decimal_text(values).to_pylist() == ["0.0000008820", "-0.0000000001", None, "12.5000000000"]


def test_decimals_dates_and_timestamps_read_as_text_hash_the_same():
    """What MySqlTarget.stream(text_values=True) yields: those columns as the server's text, in bytes."""
    rows = RowHasher(SPEC)
    as_text = [
        (7, "Zoë 東京", b"12.50", 0.1, 1, b"2026-03-04 05:06:07.120000", b"2026-02-28", '{"b": [1, "é"], "a": null}'),
        (8, None, None, None, None, None, None, None),
    ]
    assert ArrowRowHasher(SPEC).hash_rows(as_text) == [rows.hash(FROM_MYSQL), rows.hash((8,) + (None,) * 7)]
    zero_date = [(9, "x", b"1.00", 1.0, 0, b"0000-00-00 00:00:00", None, None)]
    with pytest.raises(ValueError):  # not a value the target can hold: loud, never a NULL
        ArrowRowHasher(SPEC).hash_rows(zero_date)
