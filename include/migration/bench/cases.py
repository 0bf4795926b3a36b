"""The measured cases; each runs in its own subprocess so that its peak RSS is its own.

    python -m include.migration.bench.cases CASE --out RESULT.json [--database NAME] [...]

Every case does its set-up first (connections, empty tables, rows loaded in
memory for the ceilings), then times only the copy itself, and writes a JSON
result. Verification of what landed in the target happens afterwards in the
runner (another process), so it never counts in a case's time or memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from include.migration.bench.common import (
    WORK_DIR,
    Stopwatch,
    bench_database,
    mariadb_connect,
    max_busy_in_window,
    max_in_window,
    read_plan,
    write_result,
)

log = logging.getLogger("bench")
MIB = 1024 * 1024


def _config_and_installation(installation_id: str) -> tuple[Any, Any]:
    from include.migration.config_loading import load_config

    config = load_config()
    return config, config.installation(installation_id)


# --------------------------------------------------------------------------- ceilings


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
    from include.migration.bench.seed import source_rows

    watch = Stopwatch()
    rows = {spec.name: source_rows(installation_id, spec) for spec in data_types}
    return rows, watch.seconds()


def ceiling_insert(args: argparse.Namespace) -> dict[str, Any]:
    """The rows already in memory, upserted with the writer's statement shapes and sizes; no HTTP, no conversion."""
    from include.migration.target.dialects import MYSQL_DIALECT

    plan = read_plan()
    config, installation = _config_and_installation(args.installation)
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
    config, installation = _config_and_installation(args.installation)
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


# --------------------------------------------------------------------------- the package's transfer


class CountingTarget:
    """Delegates to a TargetDatabase and records each multi-row statement: (start, duration, bytes).

    Every other request (checkpoint updates, state reads) is recorded apart in ``others``:
    a Forge SQL request budget counts those too.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.statements: list[tuple[float, float, int]] = []
        self.others: list[tuple[float, float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        began = time.monotonic()
        try:
            return self._inner.execute(sql, params)
        finally:
            self.others.append((began, time.monotonic() - began))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        began = time.monotonic()
        try:
            return self._inner.query(sql, params)
        finally:
            self.others.append((began, time.monotonic() - began))

    def execute_values(self, prefix: str, rendered: Sequence[Any], width: int, suffix: str) -> int:
        began = time.monotonic()
        count = self._inner.execute_values(prefix, rendered, width, suffix)
        self.statements.append((began, time.monotonic() - began, int(self._inner.last_statement_bytes)))
        return count


def _count_http_bytes(client: Any) -> list[int]:
    counter = [0, 0]
    session = getattr(client, "_session", None)
    if session is not None:

        def hook(response: Any, *args: Any, **kwargs: Any) -> None:
            counter[0] += len(response.content)
            counter[1] += 1

        session.hooks.setdefault("response", []).append(hook)
    return counter


def transfer(args: argparse.Namespace) -> dict[str, Any]:
    """``run_transfer`` end to end (remote -> conversion -> target) for every data type, one after another."""
    from include.migration.schema import prepare_schema
    from include.migration.source.client import RemoteClient
    from include.migration.target.connection import MySqlTarget
    from include.migration.target.profiles import get_profile
    from include.migration.transfer import run_transfer

    _load_arrow()
    config, installation = _config_and_installation(args.installation)
    data_types = [d for d in config.data_types_for(installation) if not args.data_types or d.name in args.data_types]
    overrides = json.loads(args.profile_overrides) if args.profile_overrides else None
    profile = get_profile(args.profile, overrides)
    # DDL under the mysql profile: forge_sql's 25 DDL/min would only slow the untimed set-up.
    setup = MySqlTarget.from_conn_id(installation.target_conn_id, get_profile("mysql"))
    prepare_schema(setup, data_types, get_profile("mysql"), installation.id)
    setup.close()
    inner = MySqlTarget.from_conn_id(installation.target_conn_id, profile, args.rate_share)
    db = CountingTarget(inner)
    per_type: dict[str, Any] = {}
    http_bytes = requests = 0
    if args.start_file:
        _wait_for_start(args.start_file, args.data_types or [])
    started_at = time.time()
    total = Stopwatch()
    profiler = _maybe_profiler(args)
    for spec in data_types:
        client = RemoteClient.from_conn_id(installation.remote_conn_id, installation.id)
        counter = _count_http_bytes(client)
        first = len(db.statements)
        watch = Stopwatch()
        result = run_transfer(
            installation=installation,
            data_type=spec,
            client=client,
            db=db,
            profile=profile,
            run_id="bench",
            budget_seconds=args.budget,
        )
        seconds = watch.seconds()
        client.close()
        mine = db.statements[first:]
        per_type[spec.name] = {
            "rows": result.rows,
            "seconds": seconds,
            "pages": result.pages,
            "done": result.done,
            "statements": len(mine),
            "sent_bytes": sum(s[2] for s in mine),
            "max_statement_bytes": max((s[2] for s in mine), default=0),
            "seconds_in_target": sum(s[1] for s in mine),
            "http_bytes": counter[0],
        }
        http_bytes += counter[0]
        requests += counter[1]
    seconds = total.seconds()
    finished_at = time.time()
    if profiler is not None:
        profiler.finish(args.profile_out)
    inner.close()
    records = db.statements
    starts = [s[0] for s in records]
    everything = [(s[0], s[1]) for s in records] + db.others
    return {
        "rows": sum(t["rows"] for t in per_type.values()),
        "seconds": seconds,
        "sent_bytes": sum(s[2] for s in records),
        "statements": len(records),
        "max_statement_bytes": max((s[2] for s in records), default=0),
        "max_statements_per_second": max_in_window(starts, 1.0),
        "max_query_seconds_per_minute": max_busy_in_window([(s[0], s[1]) for s in records], 60.0),
        "other_requests": len(db.others),
        "seconds_in_other_requests": sum(o[1] for o in db.others),
        "max_requests_per_second_all": max_in_window([e[0] for e in everything], 1.0),
        "max_query_seconds_per_minute_all": max_busy_in_window(everything, 60.0),
        "seconds_in_target": sum(s[1] for s in records),
        "http_bytes": http_bytes,
        "http_requests": requests,
        "profile": profile.name,
        "profile_overrides": overrides or {},
        "started_at": started_at,
        "finished_at": finished_at,
        "done": all(t["done"] for t in per_type.values()),
        "per_type": per_type,
    }


def _load_arrow() -> None:
    """Imports before the clock starts, as in every case: pyarrow loads pandas on its first conversion of a
    Python value (~0.9 s, once per process), which a worker pays once, not per page."""
    import pyarrow as pa

    import include.migration.values.canonical  # noqa: F401
    import include.migration.values.literals  # noqa: F401
    import include.migration.values.pages  # noqa: F401

    pa.array([0])


def _wait_for_start(start_file: str, names: Sequence[str]) -> None:
    """Set-up done: say so, then wait for the common start signal (parallel transfers start together)."""
    Path(f"{start_file}.ready.{'-'.join(names) or 'all'}").touch()
    deadline = time.monotonic() + 600
    while not Path(start_file).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no start signal {start_file} within 600 s")
        time.sleep(0.005)


class _ThreadAwareProfiler:
    """cProfile of the main thread and of every thread started while it runs (the prefetch thread)."""

    def __init__(self) -> None:
        import cProfile
        import threading

        self._profiles: list[Any] = []
        self._original_run = threading.Thread.run
        profiles, original = self._profiles, self._original_run

        def run(thread: Any) -> None:
            profile = cProfile.Profile()
            profiles.append(profile)
            profile.enable()
            try:
                original(thread)
            finally:
                profile.disable()

        threading.Thread.run = run  # type: ignore[method-assign]
        self._main = cProfile.Profile()
        self._main.enable()

    def finish(self, out: str) -> None:
        import pstats
        import threading

        self._main.disable()
        threading.Thread.run = self._original_run  # type: ignore[method-assign]
        self._main.dump_stats(out + ".main.prof")
        stats = pstats.Stats(self._main)
        for index, profile in enumerate(self._profiles):
            profile.dump_stats(f"{out}.thread{index}.prof")
            stats.add(profile)
        stats.dump_stats(out)


def _maybe_profiler(args: argparse.Namespace) -> _ThreadAwareProfiler | None:
    return _ThreadAwareProfiler() if getattr(args, "profile_out", None) else None


def transfer_parallel(args: argparse.Namespace) -> dict[str, Any]:
    """The DAG's fan-out: one transfer process per data type, all at once (rate_share = their number)."""
    import subprocess

    from include.migration.schema import prepare_schema
    from include.migration.target.connection import MySqlTarget
    from include.migration.target.profiles import get_profile

    config, installation = _config_and_installation(args.installation)
    data_types = list(config.data_types_for(installation))
    setup = MySqlTarget.from_conn_id(installation.target_conn_id, get_profile("mysql"))
    prepare_schema(setup, data_types, get_profile("mysql"), installation.id)
    setup.close()
    outs = {spec.name: f"{args.out}.{spec.name}.json" for spec in data_types}
    start_file = f"{args.out}.start"
    for leftover in Path(start_file).parent.glob(Path(start_file).name + "*"):
        leftover.unlink()
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "include.migration.bench.cases",
                "transfer",
                "--out",
                outs[spec.name],
                "--installation",
                installation.id,
                "--profile",
                args.profile,
                "--data-types",
                spec.name,
                "--rate-share",
                str(len(data_types)),
                "--budget",
                str(args.budget),
                "--start-file",
                start_file,
            ]
        )
        for spec in data_types
    ]
    # Start-up (imports, connections) is not timed: every child waits, ready, for one common start.
    while len(list(Path(start_file).parent.glob(Path(start_file).name + ".ready.*"))) < len(children):
        if any(child.poll() not in (None, 0) for child in children):
            break
        time.sleep(0.01)
    began = time.time()
    Path(start_file).touch()
    codes = [child.wait() for child in children]
    if any(codes):
        raise RuntimeError(f"parallel transfers failed: exit codes {codes}")
    parts = {name: json.loads(Path(path).read_text(encoding="utf-8")) for name, path in outs.items()}
    seconds = max(p["finished_at"] for p in parts.values()) - began
    return {
        "rows": sum(p["rows"] for p in parts.values()),
        "seconds": seconds,
        "sent_bytes": sum(p["sent_bytes"] for p in parts.values()),
        "statements": sum(p["statements"] for p in parts.values()),
        "seconds_in_target": sum(p["seconds_in_target"] for p in parts.values()),
        "processes": len(parts),
        "per_type": {name: p["per_type"][name] for name, p in parts.items()},
    }


def validate(args: argparse.Namespace) -> dict[str, Any]:
    """Full validation (validate_data_type: counts and chunk checksums on both sides) of a transfer's target."""
    from include.migration.source.client import RemoteClient
    from include.migration.target.connection import MySqlTarget
    from include.migration.target.profiles import get_profile
    from include.migration.validation.validator import validate_data_type

    _load_arrow()
    config, installation = _config_and_installation(args.installation)
    profile = get_profile(args.profile)
    db = MySqlTarget.from_conn_id(installation.target_conn_id, profile)
    client = RemoteClient.from_conn_id(installation.remote_conn_id, installation.id)
    capabilities = list(client.status().get("capabilities") or [])
    per_type: dict[str, Any] = {}
    total = Stopwatch()
    for spec in config.data_types_for(installation):
        watch = Stopwatch()
        result = validate_data_type(
            installation_id=installation.id,
            spec=spec,
            client=client,
            capabilities=capabilities,
            db=db,
            profile=profile,
            grace_seconds=0.0,
        )
        per_type[spec.name] = {
            "rows": result.rows_target,
            "rows_source": result.rows_source,
            "seconds": watch.seconds(),
            "green": result.green,
            "chunks": result.chunks,
            "method": result.method,
            "repaired_rows": result.repaired_rows,
            "deleted_rows": result.deleted_rows,
        }
    seconds = total.seconds()
    client.close()
    db.close()
    return {
        "rows": sum(t["rows"] for t in per_type.values()),
        "seconds": seconds,
        "green": all(t["green"] for t in per_type.values()),
        "chunks": sum(t["chunks"] for t in per_type.values()),
        "capabilities": capabilities,
        "per_type": per_type,
    }


# --------------------------------------------------------------------------- Airflow's GenericTransfer


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

    config, installation = _config_and_installation(args.installation)
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


CASES = {
    "ceiling_insert": ceiling_insert,
    "ceiling_load_data": ceiling_load_data,
    "transfer": transfer,
    "transfer_parallel": transfer_parallel,
    "validate": validate,
    "generic_transfer": generic_transfer,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.migration.bench.cases")
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--installation", default="bench")
    parser.add_argument("--database", default=None, help="the bench_* MariaDB database written to")
    parser.add_argument("--profile", default="mysql")
    parser.add_argument("--profile-overrides", default=None, help="JSON object")
    parser.add_argument("--budget", type=float, default=7200.0)
    parser.add_argument("--data-types", nargs="*", default=None)
    parser.add_argument("--rate-share", type=int, default=1, help="transfers sharing the profile's rate")
    parser.add_argument("--start-file", default=None, help="after set-up, wait for this file to exist (parallel)")
    parser.add_argument("--insert-args", default=None, help="JSON object for GenericTransfer")
    parser.add_argument("--profile-out", default=None, help="cProfile the transfer into this file")
    args = parser.parse_args(argv)
    if args.database:
        args.database = bench_database(args.database)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = CASES[args.case](args)
    result.setdefault("case", args.case)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
