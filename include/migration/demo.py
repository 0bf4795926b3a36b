"""``make demo``: the whole migration on an embedded default, no servers needed.

Seeds three installations in a SQLite source, serves them through the
reference remote on loopback, runs each installation's DAG end to end through
Airflow (``dag.test()``), runs it again to show that nothing new is copied, and
prints, per installation and data type, rows at the source and in the target,
the checkpoint, the validation (counts and chunk checksums) and the status: the
quiet second pass converges every installation to DONE. Exits non-zero when
any count differs, validation is not green or an installation is not DONE.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = ROOT / ".demo"


def export_demo_connections(config, server_port: int, tokens: dict[str, str]) -> None:
    for installation in config.installations:
        ident = installation.id
        os.environ[f"AIRFLOW_CONN_{installation.remote_conn_id.upper()}"] = json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": server_port, "schema": "http", "password": tokens[ident]}
        )
        os.environ[f"AIRFLOW_CONN_{installation.target_conn_id.upper()}"] = json.dumps(
            {"conn_type": "sqlite", "host": str(DEMO_DIR / f"target_{ident}.db")}
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000, help="rows per installation and data type")
    args = parser.parse_args(argv)

    os.environ.setdefault("MIGRATION_CONFIG", str(ROOT / "dags" / "migration_config.yaml"))
    from rich.console import Console
    from rich.table import Table

    from include.migration.config import load_config
    from include.migration.dag_factory import build_dags, dag_id_for
    from include.migration.remote_service.app import create_app
    from include.migration.remote_service.seed import seed_source
    from include.migration.remote_service.server import serve_in_thread

    console = Console(width=160)
    config = load_config()
    installations = [i.id for i in config.enabled_installations]
    DEMO_DIR.mkdir(exist_ok=True)
    for stale in DEMO_DIR.glob("*.db*"):
        stale.unlink()
    source = DEMO_DIR / "source.db"
    started = time.monotonic()
    seed_source(f"sqlite:///{source}", config.data_types, installations, args.rows)
    console.print(f"[bold]Seeded[/] {len(installations)} installations x {len(config.data_types)} data types "
                  f"x {args.rows:,} rows into {source.relative_to(ROOT)} in {time.monotonic() - started:.1f}s")

    tokens = {ident: secrets.token_urlsafe(24) for ident in installations}
    app = create_app(f"sqlite:///{source}", config.data_types, {t: i for i, t in tokens.items()})
    ok = True
    with serve_in_thread(app) as server:
        console.print(f"[bold]Reference remote[/] listening on {server.base_url}")
        export_demo_connections(config, server.port, tokens)
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
                console.print(f"run {attempt} of {dag_id_for(ident)}: {run.state}, {rows:,} rows copied "
                              f"in {time.monotonic() - began:.1f}s")

    table = Table(title="Migration demo: source against target")
    for header in ("installation", "data type", "rows at source", "rows in target", "checkpoint",
                   "copied run 1", "copied run 2", "validation (counts, checksums)", "status"):
        table.add_column(header, justify="right" if header.startswith(("rows", "copied", "check")) else "left")
    for ident in installations:
        for spec in config.data_types:
            at_source = _source_count(source, spec.source_table, ident)
            in_target, checkpoint, status, validation = _target_facts(
                DEMO_DIR / f"target_{ident}.db", spec.target_table, spec.name
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
