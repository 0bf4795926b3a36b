"""The target scan summed by the server equals the scan hashed row by row, chunk for chunk."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from include.migration.configuration.config_parsing import parse_config
from include.migration.steps.validation import target_side
from include.migration.steps.validation.chunks import Chunk
from include.migration.steps.validation.target_side import TargetReader
from include.migration.target.connection import MySqlTarget
from include.migration.target.dialects import MYSQL_DIALECT
from include.migration.target.profiles import get_profile
from include.migration.target.writer import UpsertWriter
from include.migration.values.canonical import RowHasher
from tests.conftest import DB_PREFIX, fresh_mariadb_database, mariadb_connection

DATABASE = f"{DB_PREFIX}_target_scan"
CONFIG = parse_config(
    {
        "data_types": [
            {
                "name": "events",
                "primary_key": "id",
                "soft_delete_column": "deleted_at",
                "columns": [
                    {"name": "id", "type": "bigint"},
                    {"name": "amount", "type": "decimal(12,2)"},
                    {"name": "note", "type": "varchar(20)"},
                    {"name": "at", "type": "timestamp", "nullable": False},
                ],
            }
        ],
        "installations": [{"id": "acme", "remote_conn_id": "r", "target_conn_id": "t"}],
    }
)
SPEC = CONFIG.data_types[0]
ROWS = 1_234


@pytest.fixture(scope="module")
def db():
    fresh_mariadb_database(DATABASE)
    target = MySqlTarget(mariadb_connection(DATABASE), get_profile("mysql"))
    target.execute(MYSQL_DIALECT.create_table(SPEC.target_table, SPEC.columns, SPEC.primary_key))
    at = dt.datetime(2025, 1, 1)
    keys = [-(2**63)] + [k * 7 - 3_000 for k in range(ROWS - 2)] + [2**63 - 1]
    table = pa.table({
        "id": pa.array(keys, pa.int64()),
        "amount": pa.array([None if k % 11 == 0 else decimal.Decimal(k % 1000) / 100 for k in keys], pa.decimal128(12, 2)),
        "note": pa.array([f"n'{k % 13}\\" if k % 5 else None for k in keys]),
        "at": pa.array([at + dt.timedelta(seconds=i) for i in range(ROWS)], pa.timestamp("us")),
    })
    target.execute("ALTER TABLE events ADD COLUMN deleted_at DATETIME(6) NULL")
    UpsertWriter(target, SPEC, get_profile("mysql"), installation_id="acme").write(table)
    deleted = [keys[i] for i in range(5, ROWS, 97)]
    target.execute(f"UPDATE events SET deleted_at = NOW() WHERE id IN ({', '.join(map(str, deleted))})")
    yield target
    target.close()


def _row_by_row(db, chunk_rows):
    reader = TargetReader(db, SPEC)
    reader._chunks_in_database = False
    return reader.scan(chunk_rows)


@pytest.mark.parametrize("chunk_rows", [10, 37, 100, 5_000])
def test_the_server_sums_the_same_chunks(db, chunk_rows, monkeypatch):
    monkeypatch.setattr(target_side, "_SLICE_ROWS", 3 * chunk_rows)  # several slices, one ending on a chunk boundary
    reader = TargetReader(db, SPEC)
    assert reader._chunks_in_database
    seen = []
    chunks, stats = reader.scan(chunk_rows, seen.append)
    assert (chunks, stats) == _row_by_row(db, chunk_rows)
    assert seen == chunks
    live = ROWS - len(range(5, ROWS, 97))
    assert sum(s.count for s in stats) == live and chunks[-1].up_to is None
    assert all(s.count == chunk_rows for s in stats[:-1])


def test_a_table_whose_rows_fill_the_last_slice_exactly_ends_with_an_empty_open_chunk(db, monkeypatch):
    live = ROWS - len(range(5, ROWS, 97))
    monkeypatch.setattr(target_side, "_SLICE_ROWS", 1)  # one chunk a query
    chunks, stats = TargetReader(db, SPEC).scan(live)
    assert stats[0].count == live and stats[-1].count == 0 and chunks == [Chunk(None, 2**63 - 1), Chunk(2**63 - 1, None)]
    assert (chunks, stats) == _row_by_row(db, live)


def test_the_row_hashes_are_the_canonical_ones(db):
    chunks, stats = TargetReader(db, SPEC).scan(10_000)
    rows = db.query("SELECT id, amount, note, at FROM events WHERE deleted_at IS NULL ORDER BY id")
    assert stats[0].checksum == sum(RowHasher(SPEC).hash_rows(rows)) % 2**64
