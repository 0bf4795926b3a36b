"""What the ceilings prepare before their clock starts: tables, rows in memory, statements and TSV files.

Statements take the writer's shapes and sizes: the ``INSERT ... ON DUPLICATE KEY
UPDATE`` prefix and suffix of ``MYSQL_DIALECT``, one ``write()`` per page, cut
at the mysql profile's statement bytes (``max_allowed_packet`` less the slack,
capped) and rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from include.benchmarks.common import WORK_DIR, Stopwatch, mariadb_connect

PACKET_SLACK = 1024


@dataclasses.dataclass
class RenderedType:
    """One data type's rows rendered as the writer would send them."""

    name: str
    rows: int
    statements: list[bytes]
    payload_bytes: int  # the rows' SQL literals alone

    @property
    def sent_bytes(self) -> int:
        return sum(len(s) for s in self.statements)

    def figures(self) -> dict[str, Any]:
        """Rows, statements and bytes of this data type, for a case's ``per_type``."""
        return {
            "rows": self.rows,
            "statements": len(self.statements),
            "sent_bytes": self.sent_bytes,
            "payload_bytes": self.payload_bytes,
            "max_statement_bytes": max((len(s) for s in self.statements), default=0),
        }


def statement_limits(conn: Any, width: int) -> tuple[int, int]:
    """The mysql profile's limits, as UpsertWriter derives them: (max statement bytes, max rows)."""
    from include.migration.target.profiles import MYSQL

    cursor = conn.cursor()
    cursor.execute("SELECT @@max_allowed_packet")
    packet = int(cursor.fetchone()[0])
    cursor.close()
    max_bytes = min(packet - PACKET_SLACK, MYSQL.statement_bytes_cap)
    max_rows = max(1, min(MYSQL.max_rows_per_statement, MYSQL.max_bind_parameters // width))
    return max_bytes, max_rows


def create_tables(database: str, data_types: Sequence[Any]) -> None:
    """The data types' target tables, as the package creates them."""
    from include.migration.target.dialects import MYSQL_DIALECT

    conn = mariadb_connect(database)
    try:
        for spec in data_types:
            conn.query(MYSQL_DIALECT.create_table(spec.target_table, spec.columns, spec.primary_key))
    finally:
        conn.close()


def load_source(installation_id: str, data_types: Sequence[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every data type's rows, from the source, in target form."""
    from include.benchmarks.seed import source_rows

    return {spec.name: source_rows(installation_id, spec) for spec in data_types}


def render_statements(conn: Any, spec: Any, rows: Sequence[tuple[Any, ...]]) -> RenderedType:
    """``rows`` as the writer's upserts: page by page, each page cut at the statement bytes and rows."""
    from include.migration.target.dialects import MYSQL_DIALECT

    columns = spec.column_names
    prefix = MYSQL_DIALECT.insert_prefix(spec.target_table, columns).encode()
    suffix = MYSQL_DIALECT.upsert_suffix(columns, spec.primary_key).encode()
    fixed = len(prefix) + len(suffix)
    max_bytes, max_rows = statement_limits(conn, len(columns))
    literal = conn.literal
    statements: list[bytes] = []
    payload = 0
    for start in range(0, len(rows), spec.page_size):  # one writer.write() per page, as the transfer does
        batch: list[bytes] = []
        size = fixed
        for row in rows[start : start + spec.page_size]:
            item = literal(row)
            payload += len(item)
            if batch and (size + 1 + len(item) > max_bytes or len(batch) >= max_rows):
                statements.append(prefix + b",".join(batch) + suffix)
                batch, size = [], fixed
            size += (1 if batch else 0) + len(item)
            batch.append(item)
        if batch:
            statements.append(prefix + b",".join(batch) + suffix)
    return RenderedType(spec.name, len(rows), statements, payload)


def prepare_statements(database: str, installation_id: str, data_types: Sequence[Any]) -> tuple[
    list[RenderedType], dict[str, float]
]:
    """Empty tables, the rows loaded and rendered into statements; and the seconds each step took."""
    watch = Stopwatch()
    create_tables(database, data_types)
    rows = load_source(installation_id, data_types)
    loaded = watch.seconds()
    conn = mariadb_connect(database)
    try:
        rendered = [render_statements(conn, spec, rows.pop(spec.name)) for spec in data_types]
    finally:
        conn.close()
    return rendered, {"loading_rows": loaded, "rendering_statements": watch.seconds() - loaded}


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\\0"})


def _tsv_value(base: str) -> Callable[[Any], str]:
    if base in ("varchar", "text", "json"):
        return lambda v: v.translate(_TSV_ESCAPES)
    if base == "decimal":
        return lambda v: format(v, "f")
    if base == "double":
        return repr
    if base == "boolean":
        return lambda v: "1" if v else "0"
    if base == "timestamp":
        return lambda v: v.isoformat(sep=" ", timespec="microseconds")
    if base == "date":
        return lambda v: v.isoformat()
    return str


def write_tsv(spec: Any, rows: Sequence[tuple[Any, ...]], path: Path) -> None:
    """``rows`` as a tab-separated file LOAD DATA reads (``\\N`` for NULL, backslash escapes)."""
    formats = [_tsv_value(c.type.base) for c in spec.columns]
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        lines: list[str] = []
        for row in rows:
            lines.append("\t".join("\\N" if v is None else f(v) for f, v in zip(formats, row)))
            if len(lines) >= 50_000:
                handle.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            handle.write("\n".join(lines) + "\n")


def prepare_tsv_files(database: str, installation_id: str, data_types: Sequence[Any]) -> tuple[
    dict[str, tuple[Path, int]], dict[str, float]
]:
    """Empty tables and one TSV file per data type (path, rows); and the seconds each step took."""
    watch = Stopwatch()
    create_tables(database, data_types)
    rows = load_source(installation_id, data_types)
    loaded = watch.seconds()
    files: dict[str, tuple[Path, int]] = {}
    for spec in data_types:
        path = WORK_DIR / f"load_{database}_{spec.name}.tsv"
        type_rows = rows.pop(spec.name)
        write_tsv(spec, type_rows, path)
        files[spec.name] = (path, len(type_rows))
    return files, {"loading_rows": loaded, "writing_tsv_files": watch.seconds() - loaded}
