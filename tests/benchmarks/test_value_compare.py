"""The bench's independent comparator counts exactly what differs, on real PostgreSQL and MariaDB tables.

The source table has a primary key; the target table has none, so a key can
be written twice (as a peer's append mode does). Each planted difference must
be counted once, in its own kind, naming its column; reformatting alone must not count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json

import psycopg2
import pytest

from include.benchmarks.reviewer_text import normaliser
from include.benchmarks.value_compare import ColumnShape, TableShape, compare_table
from tests.conftest import DB_PREFIX, MARIADB, fresh_mariadb_database, fresh_postgres_database, mariadb_connection

DATABASE = f"{DB_PREFIX}_value_compare"
SHAPE = TableShape(
    source_table="things",
    target_table="things",
    key=("id",),
    columns=(
        ColumnShape("id", "bigint"),
        ColumnShape("amount", "decimal", 2),
        ColumnShape("at", "timestamp"),
        ColumnShape("doc", "json"),
        ColumnShape("label", "text"),
        ColumnShape("note", "varchar"),
        ColumnShape("flag", "boolean"),
        ColumnShape("ratio", "double"),
        ColumnShape("day", "date"),
    ),
)
BASE = dt.datetime(2026, 3, 4, 5, 6, 7, 123456)
DOUBLES = [0.1, 1 / 3, 1e-300, 123456789.12345678, -2.5e17, 5e-324, 1.7976931348623157e308]


def _row(i: int) -> dict:
    return {
        "id": i,
        "amount": decimal.Decimal(i * 100 + 34).scaleb(-2),
        "at": BASE + dt.timedelta(days=i),
        "doc": {"n": i, "tags": ["é", "東京", i / 7], "nested": {"b": True, "a": None}},
        "label": f"label {i} 'quoted' \\ back",
        "note": f"note {i}",
        "flag": i % 2 == 0,
        "ratio": DOUBLES[i % len(DOUBLES)],
        "day": dt.date(2026, 1, 1) + dt.timedelta(days=i),
    }


def _source_value(name: str, value):
    if name == "doc":
        return json.dumps(value)
    if name == "at":  # the same instant written with a +05:00 offset: the comparator must convert to UTC
        return (value.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone(dt.timedelta(hours=5)))
    return value


def _target_value(name: str, value):
    if name == "doc":
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if name == "flag":
        return int(value)
    return value


@pytest.fixture(scope="module")
def planted():
    """Rows 1..20 on both sides, then one difference of each kind planted; the databases dropped after."""
    url = fresh_postgres_database(DATABASE)
    dsn = f"host=127.0.0.1 port=5432 user=root dbname={DATABASE}"
    names = [c.name for c in SHAPE.columns]
    source_rows = {i: _row(i) for i in range(1, 21)}
    target_rows = {i: dict(r) for i, r in source_rows.items() if i != 3}  # 3: lost
    target_rows[1000] = _row(1000)  # extra
    target_rows[6]["amount"] = decimal.Decimal("6.35")  # decimal: last digit (source 6.34)
    target_rows[7]["at"] = target_rows[7]["at"] + dt.timedelta(microseconds=1)  # timestamp: one microsecond
    target_rows[8]["doc"] = {**target_rows[8]["doc"], "n": 9}  # JSON: a value changed
    target_rows[10]["label"] = target_rows[10]["label"] + " "  # text: a trailing space
    source_rows[11]["note"] = None  # NULL in the source, "" in the target
    target_rows[11]["note"] = ""
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE things (installation_id text NOT NULL, id bigint NOT NULL, amount numeric(12,2), "
            "at timestamptz, doc jsonb, label text, note varchar(50), flag boolean, ratio double precision, "
            "day date, PRIMARY KEY (installation_id, id))"
        )
        marks = ", ".join(["%s"] * (len(names) + 1))
        for installation, rows in (("mine", source_rows), ("other", {i: _row(i) for i in (3, 2000)})):
            for row in rows.values():
                values = [installation, *(_source_value(n, row[n]) for n in names)]
                cursor.execute(f"INSERT INTO things (installation_id, {', '.join(names)}) VALUES ({marks})", values)
    conn.close()
    fresh_mariadb_database(DATABASE)
    target = mariadb_connection(DATABASE)
    cursor = target.cursor()
    cursor.execute(
        "CREATE TABLE things (id BIGINT, amount DECIMAL(12,2), at DATETIME(6), doc JSON, label TEXT, "
        "note VARCHAR(50), flag TINYINT(1), ratio DOUBLE, day DATE)"
    )
    cursor.execute("CREATE TABLE equal_things LIKE things")
    marks = ", ".join(["%s"] * len(names))
    inserts = [*target_rows.values(), target_rows[5]]  # 5: written twice
    for row in inserts:
        cursor.execute(f"INSERT INTO things VALUES ({marks})", [_target_value(n, row[n]) for n in names])
    for row in source_rows.values():
        cursor.execute(f"INSERT INTO equal_things VALUES ({marks})", [_target_value(n, row[n]) for n in names])
    # 9: the same document, only formatted differently (spaces, key order, 1.0 for 1, escaped non-ASCII)
    cursor.execute(
        "UPDATE things SET doc = %s WHERE id = 9",
        ('{ "tags" : ["\\u00e9", "東京", %s], "n": 9.0, "nested": {"a": null, "b": true} }' % repr(9 / 7),),
    )
    target.close()
    yield dsn
    fresh_mariadb_database(DATABASE)
    conn = mariadb_connection()
    conn.query(f"DROP DATABASE `{DATABASE}`")
    conn.close()
    admin = psycopg2.connect("host=127.0.0.1 port=5432 user=root dbname=postgres")
    admin.autocommit = True
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
    admin.close()
    del url


def _compare(dsn: str, up_to=None, shape: TableShape = SHAPE):
    return compare_table(
        shape, source_dsn=dsn, installation_id="mine", target={**MARIADB, "db": DATABASE}, up_to=up_to
    )


def test_each_planted_difference_counts_once_in_its_kind(planted):
    result = _compare(planted)
    assert (result.source_rows, result.target_rows) == (20, 21)
    assert (result.lost, result.duplicated, result.extra, result.different) == (1, 1, 1, 5)
    assert not result.ok
    by_kind = {}
    for example in result.examples:
        by_kind.setdefault(example["kind"], []).append(example)
    assert [e["key"] for e in by_kind["lost"]] == [3]
    assert [(e["key"], e["copies"]) for e in by_kind["duplicated"]] == [(5, 2)]
    assert [e["key"] for e in by_kind["extra"]] == [1000]
    differing = {(e["key"], e["column"]): (e["source"], e["target"]) for e in by_kind["different"]}
    assert differing == {
        (6, "amount"): ("6.34", "6.35"),
        (7, "at"): ("2026-03-11T05:06:07.123456Z", "2026-03-11T05:06:07.123457Z"),
        (8, "doc"): (differing[(8, "doc")][0], differing[(8, "doc")][1]),
        (10, "label"): ("label 10 'quoted' \\ back", "label 10 'quoted' \\ back "),
        (11, "note"): (None, ""),
    }
    source_doc, target_doc = (json.loads(t) for t in differing[(8, "doc")])
    assert (source_doc["n"], target_doc["n"]) == (8, 9)


def test_a_faithful_copy_verifies(planted):
    """Offsets, doubles at the edges of their range, JSON and NULLs, copied faithfully: nothing counts."""
    result = _compare(planted, shape=dataclasses.replace(SHAPE, target_table="equal_things"))
    assert (result.source_rows, result.target_rows, result.lost, result.duplicated, result.extra) == (20, 20, 0, 0, 0)
    assert result.different == 0 and result.ok, result.examples


def test_a_prefix_bounds_the_source_only(planted):
    result = _compare(planted, up_to=2)
    assert (result.source_rows, result.lost, result.different, result.duplicated) == (2, 0, 0, 1)
    # every target row above the bound is extra: keys 4..20 (3 is lost) and 1000
    assert result.extra == 18 and not result.ok


@pytest.mark.parametrize(
    ("base", "scale", "left", "right", "equal"),
    [
        ("decimal", 2, decimal.Decimal("1.50"), b"1.5", True),
        ("decimal", 2, decimal.Decimal("1.50"), b"1.501", False),  # digits beyond the scale are not rounded away
        ("decimal", 2, decimal.Decimal("0.00"), b"-0.00", True),
        ("double", None, 0.1, b"0.1", True),
        ("double", None, 0.1, b"0.10000000000000002", False),
        ("json", None, '{"a": 1, "b": [true]}', '{"b":[true],"a":1.0}', True),
        ("json", None, '{"a": 1}', '{"a": true}', False),
        ("json", None, '{"a": 3.14159265358979323846}', '{"a": 3.141592653589793}', False),
        ("boolean", None, True, b"1", True),
        ("boolean", None, True, b"2", False),
        ("timestamp", None, dt.datetime(2026, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=5))), b"2026-01-01", True),
        ("date", None, dt.date(2026, 1, 1), b"2026-01-01 00:00:01", False),
        ("bigint", None, 7, b"7.5", False),
        ("text", None, "", None, False),
        ("text", None, "é", "e\u0301", False),  # no Unicode normalisation
    ],
)
def test_reviewer_text_equal_only_where_the_values_are(base, scale, left, right, equal):
    text = normaliser(base, scale)
    assert (text(left) == text(right)) is equal, (text(left), text(right))
