"""The canonical row hash: one logical row, one hash, whatever shape its values arrive in."""

import datetime as dt
import decimal
import hashlib
import json

import pytest

from include.migration.checksum import ChunkStats, RowHasher, chunk_stats
from include.migration.config import parse_config

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
FROM_PAGE = (7, "Zoë 東京", "12.50", 0.1, True, "2026-03-04T05:06:07.120000Z", "2026-02-28", {"a": None, "b": [1, "é"]})
FROM_MYSQL = (7, "Zoë 東京", decimal.Decimal("12.50"), 0.1, 1, dt.datetime(2026, 3, 4, 5, 6, 7, 120000),
              dt.date(2026, 2, 28), '{"b": [1, "é"], "a": null}')
FROM_SQLITE = (7, "Zoë 東京", "12.50", 0.1, 1, "2026-03-04 05:06:07.120000", "2026-02-28", '{"a":null,"b":[1,"é"]}')


def test_every_shape_of_a_row_hashes_the_same():
    hasher = RowHasher(SPEC)
    hashes = {hasher.hash(row) for row in (FROM_SOURCE, FROM_PAGE, FROM_MYSQL, FROM_SQLITE)}
    assert len(hashes) == 1


def test_canonical_bytes_follow_the_specification():
    hasher = RowHasher(SPEC)
    expected = (
        b"1:7;11:Zo\xc3\xab \xe6\x9d\xb1\xe4\xba\xac;5:12.50;19:0.10000000000000001;1:1;"
        b"27:2026-03-04T05:06:07.120000Z;10:2026-02-28;"
        + b'%d:{"a":null,"b":[1,"\xc3\xa9"]}' % len('{"a":null,"b":[1,"é"]}'.encode())
    )
    assert hasher.encode(FROM_PAGE) == expected
    assert hasher.hash(FROM_PAGE) == int.from_bytes(hashlib.sha256(expected).digest()[:8], "big")


def test_null_differs_from_empty_and_values_are_not_shifted():
    hasher = RowHasher(SPEC)
    base = list(FROM_PAGE)
    with_null, with_empty = base.copy(), base.copy()
    with_null[1], with_empty[1] = None, ""
    assert hasher.hash(with_null) != hasher.hash(with_empty)
    # Moving a separator between two values must change the hash (length prefixes).
    a = base.copy()
    a[1] = "x;1:y"
    assert hasher.encode(a) != hasher.encode(base)


def test_negative_zero_and_decimal_scale_are_normalised():
    hasher = RowHasher(SPEC)
    a, b = list(FROM_PAGE), list(FROM_PAGE)
    a[2], b[2] = "-0.00", decimal.Decimal("0")
    a[3], b[3] = -0.0, 0
    assert hasher.hash(a) == hasher.hash(b)


def test_chunk_checksum_is_order_independent_and_keeps_duplicates():
    assert chunk_stats([1, 2, 3]) == chunk_stats([3, 1, 2]) == ChunkStats(3, 6)
    assert chunk_stats([5, 5]) != chunk_stats([])
    assert chunk_stats([2**64 - 1, 2]) == ChunkStats(2, 1)
    assert ChunkStats.from_dict(ChunkStats(2, 2**63).as_dict()) == ChunkStats(2, 2**63)


def test_wide_decimals_and_json_numbers_are_canonical():
    wide = parse_config(
        {"data_types": [{"name": "w", "primary_key": "id", "columns": [
            {"name": "id", "type": "bigint"}, {"name": "amount", "type": "decimal(65,30)"}, {"name": "doc", "type": "json"}]}],
         "installations": []}
    ).data_type("w")
    hasher = RowHasher(wide)
    big = "12345678901234567890123456789012345.123456789012345678901234567890"
    assert hasher.encode((1, big, None)).startswith(b"1:1;66:" + big.encode())
    assert hasher.hash((1, big, {"score": -0.0, "n": 1.0})) == hasher.hash((1, decimal.Decimal(big), '{"n": 1, "score": 0}'))


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
    from include.migration.checksum import _json, _json_reference

    assert _json(document) == _json_reference(document)
    value = json.loads(document)
    if not isinstance(value, str):  # a str is JSON text to both
        assert _json(value) == _json_reference(value)
