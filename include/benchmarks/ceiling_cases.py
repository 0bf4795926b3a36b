"""The ceilings: the same rows already in memory, written as fast as MariaDB takes them (no HTTP, no conversion).

``ceiling_insert`` upserts them with the writer's statement shapes and sizes;
``ceiling_load_data`` sends them as a tab-separated file with LOAD DATA LOCAL INFILE.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from include.benchmarks.case_setup import config_and_installation
from include.benchmarks.common import WORK_DIR, Stopwatch, mariadb_connect, read_plan


def _statement_limits(conn: Any, width: int) -> tuple[int, int]:
    """The mysql profile's limits, as UpsertWriter derives them: (max statement bytes, max rows)."""
    from include.migration.target.profiles import MYSQL

    cursor = conn.cursor()
    cursor.execute("SELECT @@max_allowed_packet")
    packet = int(cursor.fetchone()[0])
    cursor.close()
    max_bytes = min(packet - 1024, MYSQL.statement_bytes_cap)
    max_rows = max(1, min(MYSQL.max_rows_per_statement, MYSQL.max_bind_parameters // width))
    return max_bytes, max_rows


def _create_tables(database: str, data_types: Sequence[Any]) -> None:
    from include.migration.target.dialects import MYSQL_DIALECT

    conn = mariadb_connect(database)
    try:
        for spec in data_types:
            conn.query(MYSQL_DIALECT.create_table(spec.target_table, spec.columns, spec.primary_key))
    finally:
        conn.close()


def _load_source(installation_id: str, data_types: Sequence[Any]) -> tuple[dict[str, list[tuple[Any, ...]]], float]:
    from include.benchmarks.seed import source_rows

    watch = Stopwatch()
    rows = {spec.name: source_rows(installation_id, spec) for spec in data_types}
    return rows, watch.seconds()


def ceiling_insert(args: argparse.Namespace) -> dict[str, Any]:
    """The rows already in memory, upserted with the writer's statement shapes and sizes; no HTTP, no conversion."""
    from include.migration.target.dialects import MYSQL_DIALECT

    plan = read_plan()
    config, installation = config_and_installation(args.installation)
    data_types = config.data_types_for(installation)
    _create_tables(args.database, data_types)
    rows_by_type, load_seconds = _load_source(installation.id, data_types)
    conn = mariadb_connect(args.database)
    per_type: dict[str, Any] = {}
    total = Stopwatch()
    for spec in data_types:
        rows = rows_by_type[spec.name]
        columns = spec.column_names
        prefix = MYSQL_DIALECT.insert_prefix(spec.target_table, columns).encode()
        suffix = MYSQL_DIALECT.upsert_suffix(columns, spec.primary_key).encode()
        fixed = len(prefix) + len(suffix)
        max_bytes, max_rows = _statement_limits(conn, len(columns))
        page_size = spec.page_size
        literal = conn.literal
        cursor = conn.cursor()
        statements = sent = payload = biggest = 0
        watch = Stopwatch()
        for start in range(0, len(rows), page_size):  # one writer.write() per page, as the transfer does
            rendered = [literal(row) for row in rows[start : start + page_size]]
            batches: list[list[bytes]] = [[]]
            size = fixed
            for item in rendered:
                payload += len(item)
                batch = batches[-1]
                if batch and (size + 1 + len(item) > max_bytes or len(batch) >= max_rows):
                    batch = []
                    batches.append(batch)
                    size = fixed
                size += (1 if batch else 0) + len(item)
                batch.append(item)
            for batch in batches:
                if batch:
                    statement = prefix + b",".join(batch) + suffix
                    cursor.execute(statement)
                    statements += 1
                    sent += len(statement)
                    biggest = max(biggest, len(statement))
        cursor.close()
        per_type[spec.name] = {
            "rows": len(rows),
            "seconds": watch.seconds(),
            "statements": statements,
            "sent_bytes": sent,
            "payload_bytes": payload,
            "max_statement_bytes": biggest,
        }
    seconds = total.seconds()
    conn.close()
    return {
        "rows": sum(t["rows"] for t in per_type.values()),
        "seconds": seconds,
        "sent_bytes": sum(t["sent_bytes"] for t in per_type.values()),
        "payload_bytes": sum(t["payload_bytes"] for t in per_type.values()),
        "statements": sum(t["statements"] for t in per_type.values()),
        "max_statement_bytes": max(t["max_statement_bytes"] for t in per_type.values()),
        "setup_seconds_loading_rows": load_seconds,
        "per_type": per_type,
        "page_size": plan.get("page_size"),
    }


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\\0"})


def _tsv_value(base: str) -> Any:
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


def ceiling_load_data(args: argparse.Namespace) -> dict[str, Any]:
    """The same rows in memory, rendered as a tab-separated file and sent with LOAD DATA LOCAL INFILE."""
    config, installation = config_and_installation(args.installation)
    data_types = config.data_types_for(installation)
    _create_tables(args.database, data_types)
    rows_by_type, load_seconds = _load_source(installation.id, data_types)
    conn = mariadb_connect(args.database, local_infile=1)
    cursor = conn.cursor()
    cursor.execute("SELECT @@local_infile")
    if not int(cursor.fetchone()[0]):
        cursor.execute("SET GLOBAL local_infile = 1")
    per_type: dict[str, Any] = {}
    total = Stopwatch()
    for spec in data_types:
        rows = rows_by_type[spec.name]
        path = WORK_DIR / f"load_{spec.name}.tsv"
        formats = [_tsv_value(c.type.base) for c in spec.columns]
        watch = Stopwatch()
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            lines = []
            for row in rows:
                lines.append("\t".join("\\N" if v is None else f(v) for f, v in zip(formats, row)))
                if len(lines) >= 50_000:
                    handle.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                handle.write("\n".join(lines) + "\n")
        render_seconds = watch.seconds()
        columns = ", ".join(f"`{c}`" for c in spec.column_names)
        cursor.execute(
            f"LOAD DATA LOCAL INFILE %s REPLACE INTO TABLE `{spec.target_table}` CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
            f"({columns})",
            (str(path),),
        )
        per_type[spec.name] = {
            "rows": len(rows),
            "seconds": watch.seconds(),
            "render_seconds": render_seconds,
            "sent_bytes": path.stat().st_size,
        }
        path.unlink()
    seconds = total.seconds()
    cursor.execute("SHOW WARNINGS")
    warnings = cursor.fetchall()
    conn.close()
    return {
        "rows": sum(t["rows"] for t in per_type.values()),
        "seconds": seconds,
        "sent_bytes": sum(t["sent_bytes"] for t in per_type.values()),
        "render_seconds": sum(t["render_seconds"] for t in per_type.values()),
        "setup_seconds_loading_rows": load_seconds,
        "warnings": [list(w) for w in warnings[:5]],
        "per_type": per_type,
    }
