"""The peer: Airflow's GenericTransfer (common-sql), PostgreSQL -> MariaDB, one operator per table."""

from __future__ import annotations

import argparse
import json
from typing import Any

from include.benchmarks.case_setup import config_and_installation
from include.benchmarks.common import Stopwatch, mariadb_connect


def generic_select(spec: Any) -> str:
    """The source query an Airflow user writes: UTC timestamps without offset, JSON as text."""
    parts = []
    for column in spec.columns:
        name = f'"{column.name}"'
        if column.type.base == "timestamp":
            parts.append(f"({name} AT TIME ZONE 'UTC') AS {name}")
        elif column.type.base == "json":
            parts.append(f"{name}::text AS {name}")
        else:
            parts.append(name)
    return f'SELECT {", ".join(parts)} FROM "{spec.source_table}" WHERE installation_id = %s'


def generic_transfer(args: argparse.Namespace) -> dict[str, Any]:
    """Airflow's GenericTransfer (common-sql), PostgreSQL -> MariaDB, one operator per table, run in-process."""
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    from include.migration.target.dialects import MYSQL_DIALECT

    config, installation = config_and_installation(args.installation)
    insert_args = json.loads(args.insert_args) if args.insert_args else {}
    per_type: dict[str, Any] = {}
    total = Stopwatch()
    for spec in config.data_types_for(installation):
        sql = generic_select(spec).replace("%s", f"'{installation.id}'")
        operator = GenericTransfer(
            task_id=f"copy_{spec.name}",
            sql=sql,
            destination_table=spec.target_table,
            source_conn_id="bench_pg",
            destination_conn_id="bench_generic",
            preoperator=MYSQL_DIALECT.create_table(spec.target_table, spec.columns, spec.primary_key),
            insert_args=dict(insert_args),
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
        "per_type": per_type,
    }
