"""``make demo``: the whole migration on an embedded default, no servers needed.

Seeds three installations in a SQLite source, serves them through the
reference remote on loopback, runs each installation's DAG end to end through
Airflow (``dag.test()``), runs it again to show that nothing new is copied, and
prints, per installation and data type, rows at the source and in the target,
the checkpoint, the validation (counts and chunk checksums) and the status: the
quiet second pass converges every installation to DONE. Exits non-zero when
any count differs, validation is not green or an installation is not DONE.

The terminal gets one line per DAG run (state, rows copied, seconds), the table
and the verdict; everything Airflow and the tasks log (and any warning) goes to
``airflow.log`` in the demo directory, named at the start.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[3]
DEMO_DIR = ROOT / ".demo"
LOG_NAME = "airflow.log"


def export_demo_connections(config, server_port: int, tokens: dict[str, str], demo_dir: Path = DEMO_DIR) -> None:
    """Every installation's ``AIRFLOW_CONN_*``: the remote on ``server_port``, a SQLite target in ``demo_dir``."""
    for installation in config.installations:
        ident = installation.id
        os.environ[f"AIRFLOW_CONN_{installation.remote_conn_id.upper()}"] = json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": server_port, "schema": "http", "password": tokens[ident]}
        )
        os.environ[f"AIRFLOW_CONN_{installation.target_conn_id.upper()}"] = json.dumps(
            {"conn_type": "sqlite", "host": str(demo_dir / f"target_{ident}.db")}
        )


def _source_count(path: Path, table: str, installation_id: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE installation_id = ?', (installation_id,)).fetchone()[0]


def _target_facts(path: Path, table: str, data_type: str) -> tuple[int, object, str, str]:
    with sqlite3.connect(path) as conn:
        count = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        row = conn.execute(
            'SELECT checkpoint, status FROM "_migration_state" WHERE job_id = ?', (f"data_type:{data_type}",)
        ).fetchone()
        check = conn.execute(
            'SELECT green, rows_source, rows_target, chunks FROM "_migration_validation" WHERE data_type = ? '
            "ORDER BY validated_at DESC LIMIT 1",
            (data_type,),
        ).fetchone()
    checkpoint, status = row if row else (None, "-")
    if isinstance(checkpoint, str):
        checkpoint = json.loads(checkpoint)
    if isinstance(checkpoint, dict):
        checkpoint = f"{checkpoint['updated_at'][:19]} / {checkpoint['key']}"
    validation = "-"
    if check:
        green, at_source, in_target, chunks = check
        validation = f"{'GREEN' if green else 'RED'} {at_source:,}={in_target:,}, {chunks} chunks"
    return count, checkpoint, status, validation


@contextlib.contextmanager
def output_to(log_path: Path) -> Iterator[TextIO]:
    """Send all the process writes to stdout and stderr to ``log_path``; yields a stream to the real stdout.

    Redirected at the file descriptors, not with ``logging``: Airflow configures its own structlog handlers
    when it is imported and again for every task ``dag.test()`` runs, and warnings come from anywhere.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8")
    try:
        with open(log_path, "w", encoding="utf-8") as log_file:
            os.dup2(log_file.fileno(), 1)
            os.dup2(log_file.fileno(), 2)
            try:
                yield terminal
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        terminal.close()
        for fd in saved:
            os.close(fd)


def _shown(path: Path) -> str:
    """``path`` as people type it from the checkout (make demo runs there), absolute elsewhere."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _failed_tasks(run: Any) -> list[str]:
    """The run's failed tasks (not those skipped after them); a mapped one with its data type: ``transfer[issues]``."""
    names = []
    for ti in run.get_task_instances():
        if ti.state == "failed":  # TaskInstanceState is a str enum
            index = getattr(ti, "rendered_map_index", None) or (ti.map_index if ti.map_index >= 0 else None)
            names.append(ti.task_id if index is None else f"{ti.task_id}[{index}]")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000, help="rows per installation and data type")
    parser.add_argument("--dir", type=Path, default=DEMO_DIR, help="where the source, the targets and the log go")
    args = parser.parse_args(argv)
    demo_dir = args.dir.resolve()
    demo_dir.mkdir(parents=True, exist_ok=True)
    log_path = demo_dir / LOG_NAME

    os.environ.setdefault("MIGRATION_CONFIG", str(ROOT / "dags" / "migration_config.yaml"))
    from rich.console import Console

    with output_to(log_path) as terminal:
        console = Console(width=160, file=terminal)
        console.print(f"[bold]Airflow and task logs[/] go to {_shown(log_path)}")
        ok = _demo(console, demo_dir, args.rows)
        if not ok:
            console.print(f"see {_shown(log_path)} for the Airflow and task logs")
    return 0 if ok else 1


def _print_remote_statuses(console: Any, config: Any, installations: Sequence[str]) -> bool:
    """``remote status: <installation> DONE``, read back from the remote (written back by the pipeline)."""
    from include.migration.source.client import RemoteClient

    ok = True
    for ident in installations:
        client = RemoteClient.from_conn_id(config.installation(ident).remote_conn_id, ident)
        try:
            status = client.status()["status"]
        finally:
            client.close()
        ok &= status == "DONE"
        console.print(f"remote status: {ident} {status}")
    return ok


DRILL = (
    "UPDATE comments SET body = 'changed in the target' WHERE id = 3",
    "DELETE FROM comments WHERE id = 7",
    "INSERT INTO comments (id, issue_id, author_id, body, created_at) "
    "VALUES (900001, 1, 2, 'new in the target', '2026-11-30 12:00:00.000000')",
)


def _rollback_drill(console: Any, dags: dict[str, Any], demo_dir: Path, ident: str) -> bool:
    """Change, add and delete rows in one target, run its reverse DAG, and check a second pass finds nothing."""
    from rich.markup import escape

    with contextlib.closing(sqlite3.connect(demo_dir / f"target_{ident}.db")) as conn, conn:
        for statement in DRILL:
            conn.execute(statement)
    sent = []
    for _pass in (1, 2):
        run = dags[f"reverse_{ident}"].test()
        if str(run.state) != "success":
            console.print(f"[red]reverse sync: {ident} failed[/]: {escape(', '.join(_failed_tasks(run)))}")
            return False
        results = [ti.xcom_pull(task_ids="reverse_sync", map_indexes=ti.map_index)
                   for ti in run.get_task_instances() if ti.task_id == "reverse_sync"]
        sent.append(sum(int(r["rows_sent"]) + int(r["keys_deleted"]) for r in results))
    green = sent[1] == 0  # the second pass compared every chunk again and found the remote equal
    console.print(f"reverse sync: {ident} {sent[0]:,} rows back, validation {'green' if green else 'RED'}")
    return green and sent[0] == len(DRILL)


def _final_checks_and_fleet(console: Any, config: Any, dags: dict[str, Any], installations: Sequence[str]) -> bool:
    """A final check of every DONE installation, then the fleet report's verdict."""
    from rich.markup import escape

    from include.migration.orchestration.dag_factory import dag_id_for
    from include.migration.views.fleet import fleet_report

    for ident in installations:
        dags[dag_id_for(ident)].test(run_conf={"final_check": True})
    report = fleet_report(config)
    verdict = "ready to decommission" if report["ready_to_decommission"] else "not ready to decommission"
    console.print(f"fleet: {verdict} ({', '.join(f'{k} {v}' for k, v in sorted(report['by_status'].items()))})"
                  + "".join(f"; {escape(b)}" for b in report["blockers"]))
    return bool(report["ready_to_decommission"])


def _demo(console: Any, demo_dir: Path, rows_per_type: int) -> bool:
    """Seed, serve, run every DAG twice and print the table and the verdict; True when the demo is OK."""
    from rich.markup import escape
    from rich.table import Table

    from include.migration.configuration.config_loading import load_config
    from include.migration.orchestration.dag_factory import build_dags, dag_id_for
    from include.reference_remote.app import create_app
    from include.reference_remote.seed import seed_source
    from include.reference_remote.server import serve_in_thread

    config = load_config()
    installations = [i.id for i in config.enabled_installations]
    for stale in demo_dir.glob("*.db*"):
        stale.unlink()
    source = demo_dir / "source.db"
    started = time.monotonic()
    seed_source(f"sqlite:///{source}", config.data_types, installations, rows_per_type)
    console.print(f"[bold]Seeded[/] {len(installations)} installations x {len(config.data_types)} data types "
                  f"x {rows_per_type:,} rows into {_shown(source)} in {time.monotonic() - started:.1f}s")

    tokens = {ident: secrets.token_urlsafe(24) for ident in installations}
    app = create_app(f"sqlite:///{source}", config.data_types, {t: i for i, t in tokens.items()})
    ok = True
    with serve_in_thread(app) as server:
        console.print(f"[bold]Reference remote[/] listening on {server.base_url}")
        export_demo_connections(config, server.port, tokens, demo_dir)
        dags = build_dags(config)
        copied: dict[tuple[str, str], list[int]] = {}
        for attempt in (1, 2):
            for ident in installations:
                began = time.monotonic()
                run = dags[dag_id_for(ident)].test()
                summary = next(
                    (ti.xcom_pull(task_ids="summarize") for ti in run.get_task_instances() if ti.task_id == "summarize"),
                    None,
                )
                rows = int(summary["rows_this_run"]) if summary else -1
                for name, item in (summary or {}).get("data_types", {}).items():
                    copied.setdefault((ident, name), []).append(int(item["rows_this_run"]))
                ok &= str(run.state) == "success"
                failed = escape(", ".join(_failed_tasks(run)))  # `transfer[issues]` is not rich markup
                console.print(f"run {attempt} of {dag_id_for(ident)}: {run.state}, {rows:,} rows copied "
                              f"in {time.monotonic() - began:.1f}s" + (f", failed: {failed}" if failed else ""))
        ok &= _print_remote_statuses(console, config, installations)
        ok &= _rollback_drill(console, dags, demo_dir, installations[0])
        ok &= _final_checks_and_fleet(console, config, dags, installations)

    table = Table(title="Migration demo: source against target")
    for header in ("installation", "data type", "rows at source", "rows in target", "checkpoint",
                   "copied run 1", "copied run 2", "validation (counts, checksums)", "status"):
        table.add_column(header, justify="right" if header.startswith(("rows", "copied", "check")) else "left")
    for ident in installations:
        for spec in config.data_types:
            at_source = _source_count(source, spec.source_table, ident)
            in_target, checkpoint, status, validation = _target_facts(
                demo_dir / f"target_{ident}.db", spec.target_table, spec.name
            )
            ok &= at_source == in_target and status == "DONE" and validation.startswith("GREEN")
            mark = "" if at_source == in_target else " [red]MISMATCH[/]"
            table.add_row(ident, spec.name, f"{at_source:,}", f"{in_target:,}{mark}", str(checkpoint),
                          *(f"{n:,}" for n in copied.get((ident, spec.name), [-1, -1])), validation, status)
    console.print(table)
    ok &= len(copied) == len(installations) * len(config.data_types)
    ok &= all(runs[1] == 0 for runs in copied.values())
    console.print("[bold green]demo OK[/]: every target equals its source, validation is green, the second "
                  "run copied nothing new and every installation converged to DONE"
                  if ok else "[bold red]demo FAILED[/]")
    return ok


if __name__ == "__main__":
    sys.exit(main())
