"""The ceilings: how fast MariaDB takes the same rows when the client does nothing but send them.

Everything a client would compute (rows loaded, SQL literals rendered into the
writer's statements, TSV files written) happens before the clock starts; only
the sending is timed, so the figure is the server's limit, not Python's.

``ceiling_server`` sends the statements back to back on one connection;
``ceiling_server_n`` on one connection per data type at once (the DAG's
fan-out); ``ceiling_load_data`` sends TSV files with LOAD DATA LOCAL INFILE.
Each result says what was timed (``timed``), the untimed preparation
(``preparation_seconds``) and the CPU seconds of the case process, PostgreSQL
and MariaDB within the timed section (``timed_cpu_seconds``: the client's near
zero and MariaDB's near the seconds when the server is what binds).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence
from typing import Any

from include.benchmarks.case_setup import config_and_installation
from include.benchmarks.ceiling_prep import RenderedType, prepare_statements, prepare_tsv_files
from include.benchmarks.common import Stopwatch, mariadb_connect
from include.benchmarks.process_cpu import CpuWindow


def _send(database: str, rendered: RenderedType, start: threading.Barrier | None = None) -> float:
    """Send ``rendered``'s statements back to back on a connection of its own; seconds from the start to the last.

    With ``start``: wait there once connected, and again for the common start.
    """
    conn = mariadb_connect(database)
    cursor = conn.cursor()
    try:
        if start is not None:
            start.wait()  # connected
            start.wait()  # go
        return _execute_all(cursor, rendered.statements)
    finally:
        cursor.close()
        conn.close()


def _execute_all(cursor: Any, statements: Sequence[bytes]) -> float:
    """Execute ``statements`` back to back on ``cursor``; the seconds they took."""
    watch = Stopwatch()
    for statement in statements:
        cursor.execute(statement)
    return watch.seconds()


def _statement_result(
    rendered: list[RenderedType], seconds: float, cpu: dict[str, float], preparation: dict[str, float], timed: str
) -> dict[str, Any]:
    per_type = {r.name: r.figures() for r in rendered}
    return {
        "rows": sum(t["rows"] for t in per_type.values()),
        "seconds": seconds,
        "timed": timed,
        "preparation_seconds": preparation,
        "timed_cpu_seconds": cpu,
        "sent_bytes": sum(t["sent_bytes"] for t in per_type.values()),
        "payload_bytes": sum(t["payload_bytes"] for t in per_type.values()),
        "statements": sum(t["statements"] for t in per_type.values()),
        "max_statement_bytes": max(t["max_statement_bytes"] for t in per_type.values()),
        "per_type": per_type,
    }


def ceiling_server(args: argparse.Namespace) -> dict[str, Any]:
    """The writer's upserts, rendered before the clock, sent back to back on one connection; only the sending timed."""
    config, installation = config_and_installation(args.installation)
    data_types = config.data_types_for(installation)
    rendered, preparation = prepare_statements(args.database, installation.id, data_types)
    conn = mariadb_connect(args.database)
    cursor = conn.cursor()
    seconds_by_type: dict[str, float] = {}
    with CpuWindow() as cpu:
        total = Stopwatch()
        for item in rendered:
            seconds_by_type[item.name] = _execute_all(cursor, item.statements)
        seconds = total.seconds()
    cursor.close()
    conn.close()
    result = _statement_result(
        rendered, seconds, cpu.seconds, preparation,
        "the pre-rendered upserts sent back to back on one connection, data types one after another",
    )
    for name, type_seconds in seconds_by_type.items():
        result["per_type"][name]["seconds"] = type_seconds
    return result


def ceiling_server_n(args: argparse.Namespace) -> dict[str, Any]:
    """One connection per data type, all sending their pre-rendered upserts at once; common start to last finish."""
    config, installation = config_and_installation(args.installation)
    data_types = config.data_types_for(installation)
    rendered, preparation = prepare_statements(args.database, installation.id, data_types)
    # Threads, not processes: the statements are already bytes, so a thread only calls execute(), and
    # mysqlclient releases the GIL while the statement is on the wire and the server works; the
    # threads share the rendered statements without copying them into other processes, and the
    # timed client CPU below shows whether the client ever binds.
    start = threading.Barrier(len(rendered) + 1)
    seconds_by_type: dict[str, float] = {}
    failures: list[BaseException] = []

    def run(item: RenderedType) -> None:
        try:
            seconds_by_type[item.name] = _send(args.database, item, start)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            failures.append(exc)
            start.abort()

    threads = [threading.Thread(target=run, args=(item,), name=f"ceiling-{item.name}") for item in rendered]
    for thread in threads:
        thread.start()
    try:
        start.wait()  # every connection open: the CPU window starts, then the common start
        with CpuWindow() as cpu:
            start.wait()
            total = Stopwatch()
            for thread in threads:
                thread.join()
            seconds = total.seconds()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        raise failures[0] from None
    if failures:
        raise failures[0]
    result = _statement_result(
        rendered, seconds, cpu.seconds, preparation,
        f"the pre-rendered upserts, {len(rendered)} connections (one per data type) at once, "
        "from a common start to the last one finishing",
    )
    result["connections"] = len(rendered)
    for name, type_seconds in seconds_by_type.items():
        result["per_type"][name]["seconds"] = type_seconds
    return result


def ceiling_load_data(args: argparse.Namespace) -> dict[str, Any]:
    """TSV files written before the clock, sent with LOAD DATA LOCAL INFILE; only the LOAD DATA statements timed."""
    config, installation = config_and_installation(args.installation)
    data_types = config.data_types_for(installation)
    files, preparation = prepare_tsv_files(args.database, installation.id, data_types)
    conn = mariadb_connect(args.database, local_infile=1)
    cursor = conn.cursor()
    cursor.execute("SELECT @@local_infile")
    if not int(cursor.fetchone()[0]):
        cursor.execute("SET GLOBAL local_infile = 1")
    per_type: dict[str, Any] = {}
    try:
        with CpuWindow() as cpu:
            total = Stopwatch()
            for spec in data_types:
                path, rows = files[spec.name]
                columns = ", ".join(f"`{c}`" for c in spec.column_names)
                watch = Stopwatch()
                cursor.execute(
                    f"LOAD DATA LOCAL INFILE %s REPLACE INTO TABLE `{spec.target_table}` CHARACTER SET utf8mb4 "
                    "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                    f"({columns})",
                    (str(path),),
                )
                per_type[spec.name] = {"rows": rows, "seconds": watch.seconds(), "sent_bytes": path.stat().st_size}
            seconds = total.seconds()
        cursor.execute("SHOW WARNINGS")
        warnings = cursor.fetchall()
    finally:
        conn.close()
        for path, _rows in files.values():
            path.unlink(missing_ok=True)
    return {
        "rows": sum(t["rows"] for t in per_type.values()),
        "seconds": seconds,
        "timed": "the LOAD DATA LOCAL INFILE statements of the pre-written TSV files, one connection",
        "preparation_seconds": preparation,
        "timed_cpu_seconds": cpu.seconds,
        "sent_bytes": sum(t["sent_bytes"] for t in per_type.values()),
        "warnings": [list(w) for w in warnings[:5]],
        "per_type": per_type,
    }
