"""The canonical row hash, a column at a time, equals the specification's row-at-a-time reading (``oracle.py``)."""

import datetime as dt
import decimal
import hashlib
import json
import random

import pyarrow as pa
import pytest

from include.migration.configuration.config_parsing import parse_config
from include.migration.values.canonical import RowHasher, _json_canonical, _json_reference, json_document_texts
from include.migration.values.pages import PageConverter
from include.migration.values.text import decimal_text
from include.migration.values.types import wire_schema
from tests.values import oracle

SPEC = parse_config(
    {
        "data_types": [
            {
                "name": "things",
                "primary_key": "id",
                "columns": [
                    {"name": "id", "type": "bigint"},
                    {"name": "name", "type": "varchar(50)"},
                    {"name": "price", "type": "decimal(8,2)"},
                    {"name": "ratio", "type": "double"},
                    {"name": "flag", "type": "boolean"},
                    {"name": "at", "type": "timestamp"},
                    {"name": "day", "type": "date"},
                    {"name": "doc", "type": "json"},
                ],
            }
        ],
        "installations": [],
    }
).data_type("things")

# The same logical row as the source database, a JSON page, MySQL and SQLite give it.
FROM_SOURCE = (7, "Zoë 東京", decimal.Decimal("12.5"), 0.1, True,
               dt.datetime(2026, 3, 4, 7, 6, 7, 120000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
               dt.date(2026, 2, 28), {"b": [1, "é"], "a": None})
FROM_PAGE = [7, "Zoë 東京", "12.50", 0.1, True, "2026-03-04T05:06:07.120000Z", "2026-02-28", {"a": None, "b": [1, "é"]}]
FROM_MYSQL = (7, "Zoë 東京", decimal.Decimal("12.50"), 0.1, 1, dt.datetime(2026, 3, 4, 5, 6, 7, 120000),
              dt.date(2026, 2, 28), '{"b": [1, "é"], "a": null}')
FROM_SQLITE = (7, "Zoë 東京", "12.50", 0.1, 1, "2026-03-04 05:06:07.120000", "2026-02-28", '{"a":null,"b":[1,"é"]}')
# What MySqlTarget.stream(text_values=True) yields: decimals, dates and timestamps as the server's text, in bytes.
FROM_MYSQL_TEXT = (7, "Zoë 東京", b"12.50", 0.1, 1, b"2026-03-04 05:06:07.120000", b"2026-02-28",
                   '{"b": [1, "é"], "a": null}')

EDGES = [
    (1, None, None, None, None, None, None, None),
    (2, "", decimal.Decimal("-0.00"), -0.0, 0, dt.datetime(1000, 1, 1), dt.date(1, 1, 1), "[]"),
    (3, "back\\slash 'q' \"d\" \n", decimal.Decimal("-999999.99"), 1e308, 1, dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
     dt.date(9999, 12, 31), '{"x": 1e20, "y": 2.0, "z": "\\u00e9"}'),
    (4, "🎉", decimal.Decimal("0.01"), 5e-324, 1, dt.datetime(2026, 1, 1), dt.date(2026, 1, 1), '{"b":1,"a":[1.5]}'),
]


def _page_table(rows):
    return PageConverter("acme", SPEC).rows(list(SPEC.column_names), [list(r) for r in rows])


def test_every_shape_of_a_row_hashes_as_the_specification_says():
    expected = oracle.row_hash(SPEC, FROM_MYSQL)
    assert {oracle.row_hash(SPEC, r) for r in (FROM_SOURCE, FROM_PAGE, FROM_SQLITE, FROM_MYSQL_TEXT)} == {expected}
    hasher = RowHasher(SPEC)
    for shape in (FROM_SOURCE, FROM_MYSQL, FROM_SQLITE, FROM_MYSQL_TEXT):
        assert hasher.hash_rows([shape, shape]) == [expected] * 2, shape
    assert hasher.hash_table(_page_table([FROM_PAGE])) == [expected]
    assert hasher.hash_rows([]) == []


def test_canonical_bytes_follow_the_specification():
    expected = (
        b"1:7;11:Zo\xc3\xab \xe6\x9d\xb1\xe4\xba\xac;5:12.50;19:0.10000000000000001;1:1;"
        b"27:2026-03-04T05:06:07.120000Z;10:2026-02-28;"
        + b'%d:{"a":null,"b":[1,"\xc3\xa9"]}' % len('{"a":null,"b":[1,"é"]}'.encode())
    )
    assert oracle.encode_row(SPEC, FROM_PAGE) == expected
    assert RowHasher(SPEC).hash_rows([FROM_MYSQL]) == [int.from_bytes(hashlib.sha256(expected).digest()[:8], "big")]


def test_null_differs_from_empty_and_values_are_not_shifted():
    hasher = RowHasher(SPEC)
    with_null, with_empty, shifted = list(FROM_MYSQL), list(FROM_MYSQL), list(FROM_MYSQL)
    with_null[1], with_empty[1], shifted[1] = None, "", "x;1:y"
    hashes = hasher.hash_rows([with_null, with_empty, shifted, FROM_MYSQL])
    assert len(set(hashes)) == 4


def test_negative_zero_and_decimal_scale_are_normalised():
    a, b = list(FROM_MYSQL), list(FROM_MYSQL)
    a[2], b[2] = decimal.Decimal("-0.00"), decimal.Decimal("0")
    a[3], b[3] = -0.0, 0.0
    first, second = RowHasher(SPEC).hash_rows([a, b])
    assert first == second == oracle.row_hash(SPEC, b)


def test_edges_hash_as_the_specification_says_as_rows_and_as_wire_tables():
    hasher = RowHasher(SPEC)
    assert hasher.hash_rows(EDGES) == [oracle.row_hash(SPEC, r) for r in EDGES]
    utc_edges = [
        tuple(v.replace(tzinfo=dt.timezone.utc) if isinstance(v, dt.datetime) else v for v in r[:4])
        + (None if r[4] is None else bool(r[4]),)
        + tuple(v.replace(tzinfo=dt.timezone.utc) if isinstance(v, dt.datetime) else v for v in r[5:])
        for r in EDGES
    ]
    table = pa.Table.from_arrays(
        [pa.array(list(values), f.type) for values, f in zip(zip(*utc_edges), wire_schema(SPEC))], schema=wire_schema(SPEC)
    )
    assert hasher.hash_table(table) == [oracle.row_hash(SPEC, r) for r in EDGES]


def test_hostile_values_hash_as_the_specification_says():
    """Seeded random rows of awkward values: the columnar hasher agrees with the oracle on every one."""
    rng = random.Random(20261130)
    pieces = ["", " ", "'", '"', "\\", ";", ":", "\x00", "\n", "é", "e\u0301", "🎉", "東", "\uffff", "1:x;", "\xff"]
    rows = []
    for key in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))[:50]
        cents = rng.randint(-99_999_999, 99_999_999)
        ratio = rng.choice([0.0, -0.0, 5e-324, 1e308, -1e-300, 0.1 + 0.2, rng.uniform(-1e6, 1e6), float(2**53 + 1)])
        at = dt.datetime(1000, 1, 1) + dt.timedelta(microseconds=rng.randint(0, 283_996_800_000_000_000))
        day = dt.date(1, 1, 1) + dt.timedelta(days=rng.randint(0, 3_652_058))
        doc = rng.choice(['{"b": 1.0, "a": [-0.0, 1e-7]}', '"é"', "[1e20, 12345678901234567890]", '{"x": {"y": null}}',
                          json.dumps({text: ratio}, ensure_ascii=False)])
        row = (key, text, decimal.Decimal(cents).scaleb(-2), ratio, rng.random() < 0.5, at, day, doc)
        rows.append(tuple(None if key % 7 == i else v for i, v in enumerate(row)) if key % 7 else row)
    assert RowHasher(SPEC).hash_rows(rows) == [oracle.row_hash(SPEC, r) for r in rows]


def test_decimals_print_in_plain_notation():
    values = pa.array([decimal.Decimal("8.820E-7"), decimal.Decimal("-1E-10"), None, decimal.Decimal("12.5")],
                      pa.decimal128(28, 10))
    assert decimal_text(values).to_pylist() == ["0.0000008820", "-0.0000000001", None, "12.5000000000"]


def test_a_value_the_target_cannot_hold_is_loud_never_a_null():
    zero_date = [(9, "x", b"1.00", 1.0, 0, b"0000-00-00 00:00:00", None, None)]
    with pytest.raises(ValueError):
        RowHasher(SPEC).hash_rows(zero_date)


def test_wide_decimals_and_json_numbers_are_canonical():
    wide = parse_config(
        {"data_types": [{"name": "w", "primary_key": "id", "columns": [
            {"name": "id", "type": "bigint"}, {"name": "amount", "type": "decimal(65,30)"}, {"name": "doc", "type": "json"}]}],
         "installations": []}
    ).data_type("w")
    big = "12345678901234567890123456789012345.123456789012345678901234567890"
    assert oracle.encode_row(wide, (1, big, None)).startswith(b"1:1;66:" + big.encode())
    rows = [(1, decimal.Decimal(big), {"score": -0.0, "n": 1.0}), (1, decimal.Decimal(big), '{"n": 1, "score": 0}')]
    first, second = RowHasher(wide).hash_rows(rows)
    assert first == second == oracle.row_hash(wide, rows[1])


@pytest.mark.parametrize(
    "document",
    [
        '{"a": 1e20, "b": [1e-7, 1.5, 2.0, -0.0, 1e400, -1e400, 12345678901234567890, 1.2345678901234567e-300]}',
        '{"name": "Straße", "rank": 171832, "score": 53.77, "settings": {"beta": false, "note": null, "levels": [8]}}',
        '["\\u0000\\u001f\\u007f\\u2028 é 🎉 \\"q\\" \\\\ /", {"é":1,"e":2,"Z":3,"\\ud83c\\udf89":4,"\\uffff":5}, 1E+2]',
        '[1180591620717411303424, -18446744073709551616, {"a": 1, "a": 2}]',
        '"just a string"',
    ],
)
def test_canonical_json_is_the_specified_json_dumps_form(document):
    assert _json_canonical(document) == _json_reference(document)
    value = json.loads(document)
    if not isinstance(value, str):  # a str is JSON text to both
        assert _json_canonical(value) == _json_reference(value)
    assert json_document_texts([document]).to_pylist() == [oracle.canonical_text(SPEC.column("doc").type, document)]
