"""The target side of validation: chunk stats, row hashes and rows, read from the target table."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from include.migration.configuration.config import DataTypeSpec
from include.migration.steps.validation.chunks import Chunk, ChunkBuilder
from include.migration.target.connection import TargetDatabase
from include.migration.target.gate import row_bytes
from include.migration.values.checksums import ChunkStats, chunk_stats

if TYPE_CHECKING:
    from include.migration.values.canonical_sql import ServerSideHashing


# Rows hashed together, a column at a time (see values/canonical.py).
_HASH_BATCH_ROWS = 2000
# About the most rows one query of the in-database scan numbers and sums (whole chunks, at least one).
_SLICE_ROWS = 50_000
# The most rows one bounded read asks for (a profile with a response limit reads in key ranges).
_MAX_RANGE_ROWS = 50_000


class TargetReader:
    """Reads one data type's target table in key order; soft-deleted rows do not count."""

    def __init__(self, db: TargetDatabase, spec: DataTypeSpec) -> None:
        # Imported here: pyarrow (and the pandas it loads) stays out of DAG parsing.
        from include.migration.values.canonical import RowHasher
        from include.migration.values.canonical_sql import MYSQL_CANONICAL, ServerSideHashing

        self.db = db
        self.spec = spec
        self.hasher = RowHasher(spec)
        d = db.dialect
        self._keys = spec.key_names
        self._key_order = d.key_order(spec.key_names)
        self._table = d.quote(spec.target_table)
        self._live = f"{d.quote(spec.soft_delete_column)} IS NULL" if spec.soft_delete_column else None
        # MySQL-family targets print the canonical text of most columns themselves (canonical_sql).
        self._hashing: ServerSideHashing | None = (
            ServerSideHashing.plan(MYSQL_CANONICAL, spec) if d.name == "mysql" else None
        )
        # Every column printed and hashed by the server, one integer key: the server can sum the chunks too.
        self._chunks_in_database = (
            self._hashing is not None and self._hashing.whole_row and not spec.composite_key
            and spec.columns[spec.key_index].type.base in ("int", "bigint")
        )
        if self._hashing is None:
            self._columns = ", ".join(d.quote(c) for c in spec.column_names)
        else:
            self._columns = ", ".join((self._key_order, *self._hashing.expressions))

    def _rows(self, chunk: Chunk | None) -> Iterator[tuple[Any, ...]]:
        response_limit = getattr(getattr(self.db, "profile", None), "max_response_bytes", None)
        if response_limit:
            return self._ranged_rows(chunk, response_limit // 2)
        sql, params = self._select(chunk)
        return self.db.stream(sql, params, text_values=True)

    def _select(self, chunk: Chunk | None, limit: int | None = None) -> tuple[str, list[Any]]:
        conditions, params = [], []
        if self._live:
            conditions.append(self._live)
        d = self.db.dialect
        for bound_value, op in ((chunk.after if chunk else None, ">"), (chunk.up_to if chunk else None, "<=")):
            if bound_value is not None:
                condition, values = d.key_compare(self._keys, op, bound_value)
                conditions.append(condition)
                params += values
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        bound = f" LIMIT {int(limit)}" if limit is not None else ""
        return f"SELECT {self._columns} FROM {self._table}{where} ORDER BY {self._key_order}{bound}", params

    def _ranged_rows(self, chunk: Chunk | None, target_bytes: int) -> Iterator[tuple[Any, ...]]:
        """The rows in key ranges of a bounded number of rows, each answer well under the profile's response limit.

        The first read is sized from the declared column widths, later ones from the widest row seen so far.
        """
        up_to = chunk.up_to if chunk is not None else None
        after = chunk.after if chunk is not None else None
        key_of = self._row_key
        widest = self._declared_row_bytes()
        while True:
            limit = max(1, min(_MAX_RANGE_ROWS, target_bytes // widest))
            sql, params = self._select(Chunk(after, up_to), limit)
            rows = list(self.db.stream(sql, params, text_values=True))
            yield from rows
            if len(rows) < limit:
                return
            widest = max(row_bytes(r) for r in rows)
            after = key_of(rows[-1])

    def _declared_row_bytes(self) -> int:
        widths = {"bigint": 21, "int": 12, "double": 25, "boolean": 2, "timestamp": 27, "date": 11}
        total = 4
        for column in self.spec.columns:
            kind = column.type
            if kind.base in widths:
                total += widths[kind.base]
            elif kind.base == "decimal":
                total += (kind.precision or 65) + 3
            elif kind.base == "varchar":
                total += 4 * (kind.length or 255) + 3
            else:  # text and json: unbounded; the first read is small and the next ones learn
                total += 65_535
        return total

    def _hashed(self, chunk: Chunk | None) -> Iterator[tuple[list[Any], list[int]]]:
        """(keys, row hashes) of the chunk's rows, a batch at a time, in key order."""
        rows = self._rows(chunk)
        key_of, width = self._row_key, len(self._keys)
        while batch := list(itertools.islice(rows, _HASH_BATCH_ROWS)):
            if self._hashing is None:
                yield [key_of(row) for row in batch], self.hasher.hash_rows(batch)
            else:
                yield [key_of(row) for row in batch], self._hashing.hash_rows(batch, self.hasher, offset=width)

    def _row_key(self, row: tuple[Any, ...]) -> Any:
        """The key of a selected row: its leading key columns (server-side hashing) or the configured ones."""
        if self._hashing is None:
            return self.spec.key_of(row)
        return tuple(row[: len(self._keys)]) if self.spec.composite_key else row[0]

    def scan(
        self, chunk_rows: int, on_chunk: Callable[[Chunk], None] | None = None
    ) -> tuple[list[Chunk], list[ChunkStats]]:
        """One pass over the whole table: chunk boundaries every ``chunk_rows`` rows, with their stats.

        ``on_chunk`` is called as each chunk closes, so the source side can start on it during the scan.
        """
        if self._chunks_in_database:
            return self._scan_in_database(chunk_rows, on_chunk)
        builder = ChunkBuilder(chunk_rows, on_chunk)
        add = builder.add
        for keys, hashes in self._hashed(None):
            for key, row_hash in zip(keys, hashes):
                add(key, row_hash)
        return builder.finish()

    def _scan_in_database(
        self, chunk_rows: int, on_chunk: Callable[[Chunk], None] | None
    ) -> tuple[list[Chunk], list[ChunkStats]]:
        """:meth:`scan` done by the target: each query numbers a bounded slice of rows in key order and sums
        each chunk's row hashes, so one row per chunk crosses the network instead of one per row."""
        assert self._hashing is not None
        d = self.db.dialect
        key = d.quote(self._keys[0])
        per_query = chunk_rows * max(1, _SLICE_ROWS // chunk_rows)
        live = f"{self._live} AND " if self._live else ""
        slice_of = (
            f"SELECT {key} AS k, {self._hashing.expressions[0]} AS h FROM {self._table} "
            f"WHERE {live}{key} > {d.placeholder} ORDER BY {key} LIMIT {per_query}"
        )
        sql = (
            "SELECT MAX(k), COUNT(*), SUM(CAST(CONV(h, 16, 10) AS UNSIGNED)) FROM ("
            f"SELECT k, h, ROW_NUMBER() OVER (ORDER BY k) - 1 AS n FROM ({slice_of}) AS page_slice"
            f") AS numbered GROUP BY n DIV {chunk_rows} ORDER BY 1"
        )
        builder = ChunkBuilder(chunk_rows, on_chunk)
        after = -(2**63) - 1  # below every BIGINT: the first slice starts at the first key
        while True:
            groups = self.db.query(sql, (after,))
            for up_to, count, total in groups:
                builder.add_chunk(up_to, int(count), int(total))
            if sum(int(count) for _, count, _ in groups) < per_query:
                return builder.finish()
            after = groups[-1][0]

    def stats(self, chunk: Chunk) -> ChunkStats:
        return chunk_stats(h for _, hashes in self._hashed(chunk) for h in hashes)

    def hashes(self, chunk: Chunk) -> dict[Any, int]:
        return {key: row_hash for keys, hashes in self._hashed(chunk) for key, row_hash in zip(keys, hashes)}

    def delete(self, keys: list[Any]) -> int:
        """Remove rows the source no longer has (or mark them, for soft-delete data types)."""
        d = self.db.dialect
        removed = 0
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            matching, params = d.key_in(self._keys, batch)
            table = d.quote(self.spec.target_table)
            if self.spec.soft_delete_column:
                import datetime as dt

                now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
                sql = f"UPDATE {table} SET {d.quote(self.spec.soft_delete_column)} = {d.placeholder} WHERE {matching}"
                removed += self.db.execute(sql, (now, *params))
            else:
                removed += self.db.execute(f"DELETE FROM {table} WHERE {matching}", tuple(params))
        return removed

