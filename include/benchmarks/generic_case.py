"""The peer: Airflow's GenericTransfer (common-sql), PostgreSQL -> MariaDB, one operator per table.

GenericTransfer reads PostgreSQL directly (not the remote's HTTP API): it needs
database access to the source, which the package does not have.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from include.benchmarks.case_setup import config_and_installation
from include.benchmarks.common import Stopwatch, mariadb_connect

READS = "reads PostgreSQL directly (not the API)"


def generic_select(spec: Any, installation_id: str) -> str:
    """The source query an Airflow user writes: UTC timestamps without offset, JSON as text, ordered by key.

    The order matters once ``page_size`` is set: GenericTransfer pages with ``LIMIT .. OFFSET ..``
    appended to this query, and without an ORDER BY PostgreSQL may return a row on two pages and
    another on none.
    """
    parts = []
    for column in spec.columns:
        name = f'"{column.name}"'
        if column.type.base == "timestamp":
            parts.append(f"({name} AT TIME ZONE 'UTC') AS {name}")
        elif column.type.base == "json":
            parts.append(f"{name}::text AS {name}")
        else:
            parts.append(name)
    return (
        f'SELECT {", ".join(parts)} FROM "{spec.source_table}" '
        f"WHERE installation_id = '{installation_id}' ORDER BY \"{spec.primary_key}\""
    )


def configuration(page_size: int | None, insert_args: dict[str, Any]) -> dict[str, Any]:
    """What this run of GenericTransfer was given, as the result and the label report it."""
    return {
        "reads": READS,
        "page_size": page_size,
        "pagination": (
            "LIMIT page_size OFFSET n appended to the key-ordered SELECT"
            if page_size
            else "none: get_records of the whole table"
        ),
        "insert_args": insert_args,
        "commit_every": insert_args.get("commit_every", 1000),
    }


def generic_transfer(args: argparse.Namespace) -> dict[str, Any]:
    """Airflow's GenericTransfer (common-sql), PostgreSQL -> MariaDB, one operator per table, run in-process."""
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    from include.migration.target.dialects import MYSQL_DIALECT

    config, installation = config_and_installation(args.installation)
    insert_args = json.loads(args.insert_args) if args.insert_args else {}
    page_size = args.generic_page_size
    per_type: dict[str, Any] = {}
    total = Stopwatch()
    for spec in config.data_types_for(installation):
        operator = GenericTransfer(
            task_id=f"copy_{spec.name}",
            sql=generic_select(spec, installation.id),
            destination_table=spec.target_table,
            source_conn_id="bench_pg",
            destination_conn_id="bench_generic",
            preoperator=MYSQL_DIALECT.create_table(spec.target_table, spec.columns, spec.primary_key),
            insert_args=dict(insert_args),
            page_size=page_size,
        )
        watch = Stopwatch()
        operator.execute(context={})
        per_type[spec.name] = {"seconds": watch.seconds()}
    seconds = total.seconds()
    conn = mariadb_connect(args.database)
    cursor = conn.cursor()
    for spec in config.data_types_for(installation):
        cursor.execute(f"SELECT COUNT(*) FROM `{spec.target_table}`")
        per_type[spec.name]["rows"] = int(cursor.fetchone()[0])
    conn.close()
    return {
        "rows": sum(t["rows"] for t in per_type.values()),
        "seconds": seconds,
        "insert_args": insert_args,
        "configuration": configuration(page_size, insert_args),
        "per_type": per_type,
    }
