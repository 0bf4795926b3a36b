"""Command line: run one transfer outside Airflow, or show every installation's migration status.

``python -m include.migration.views.cli transfer INSTALLATION DATA_TYPE [--budget S]``
prints the transfer's JSON summary.
``python -m include.migration.views.cli reverse INSTALLATION DATA_TYPE`` sends one
data type's differences in the target back to the remote (a reverse pass) and
prints its JSON summary.
``python -m include.migration.views.cli status [--json]`` prints the overview the
dashboard shows: a table per installation and data type, or its JSON.
Connections resolve through Airflow as in a task: ``AIRFLOW_CONN_*``
environment variables, the configured secrets backends and the metadata
database of ``$AIRFLOW_HOME`` (run it with the same ``AIRFLOW_HOME`` and
``AIRFLOW__*`` settings as your scheduler; ``make`` sets ``.airflow/``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from include.migration.orchestration import runtime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.migration.views.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("transfer", help="copy one data type of one installation from its checkpoint")
    run.add_argument("installation")
    run.add_argument("data_type")
    run.add_argument("--budget", type=float, default=None, help="seconds before stopping (default: configured)")
    run.add_argument("--run-id", default="cli")
    back = commands.add_parser("reverse", help="send one data type's differences in the target back to the remote")
    back.add_argument("installation")
    back.add_argument("data_type")
    back.add_argument("--run-id", default="cli")
    status = commands.add_parser("status", help="every installation's migration status, read from its target")
    status.add_argument("--json", action="store_true", help="print the overview as JSON (as the dashboard's API)")
    fleet = commands.add_parser("fleet", help="cut-over readiness of every installation: may the source be decommissioned?")
    fleet.add_argument("--json", action="store_true", help="the report as JSON evidence")
    fleet.add_argument("--csv", action="store_true", help="the report as CSV evidence, one line per installation")
    fleet.add_argument("--no-source-check", action="store_true", help="do not ask the remotes whether the source changed")
    args = parser.parse_args(argv)
    expose_airflow_connections()
    if args.command == "transfer":
        runtime.prepare_target(args.installation, [args.data_type])
        result = runtime.transfer(args.installation, args.data_type, args.run_id, budget_seconds=args.budget)
        print(json.dumps(result, default=str))
    elif args.command == "reverse":
        print(json.dumps(runtime.reverse_sync(args.installation, args.data_type, args.run_id), default=str))
    elif args.command == "fleet":
        from include.migration.views.fleet import fleet_csv, fleet_report

        report = fleet_report(check_source=not args.no_source_check)
        if args.json:
            print(json.dumps(report, indent=2, default=str))
        elif args.csv:
            print(fleet_csv(report), end="")
        else:
            _print_fleet(report)
        return 0 if report["ready_to_decommission"] else 3
    elif args.command == "status":
        from include.migration.views.overview import overview_document

        document = overview_document()
        if args.json:
            print(json.dumps(document, indent=2, default=str))
        else:
            _print_status(document)
    return 0


def expose_airflow_connections() -> list[str]:
    """Make the installations' connections visible to the hooks outside a task; returns the ids found.

    Outside a task, hooks look only at ``AIRFLOW_CONN_*`` variables; Airflow's own lookup also reads the
    secrets backends and the metadata database. Each connection found there is handed to the hooks as an
    ``AIRFLOW_CONN_*`` variable of this process only.
    """
    import os

    from include.migration.configuration.config_loading import load_config

    config = load_config()
    conn_ids = {c for i in config.installations for c in (i.remote_conn_id, i.target_conn_id)}
    found = []
    for conn_id in sorted(conn_ids):
        variable = f"AIRFLOW_CONN_{conn_id.upper()}"
        if variable in os.environ:
            continue
        try:
            from airflow.models.connection import Connection

            connection = Connection.get_connection_from_secrets(conn_id)
        except Exception:  # noqa: BLE001 - not defined anywhere: the command names it when it needs it
            continue
        os.environ[variable] = connection.as_json()
        found.append(conn_id)
    return found


def _print_status(document: dict[str, Any]) -> None:
    """A compact table that reads at 80 columns; errors follow it, wrapped, one per installation or data type."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from include.migration.views.dashboard import formatting

    console = Console()
    if document.get("configuration_error"):
        console.print(f"[red]The migration configuration cannot be loaded:[/] {_plain(document['configuration_error'])}")
        return
    table = Table(
        title=f"Migrations as of {formatting.moment(document['generated_at'])}",
        caption=f"rows/s over {document.get('throughput_window') or '-'}; ETA at that rate",
        box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0),
    )
    table.add_column("installation", no_wrap=True, overflow="ellipsis", max_width=16)
    table.add_column("status", no_wrap=True)
    table.add_column("target / source", justify="right", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("rows/s", justify="right", no_wrap=True)
    table.add_column("ETA", justify="right", no_wrap=True)
    problems: list[tuple[str, str]] = []
    for entry in document["installations"]:
        name = entry["id"] if entry["enabled"] else f"{entry['id']} (off)"
        if entry.get("failed_run"):
            tasks = ", ".join(_task_label(t) for t in entry["failed_run"]["tasks"])
            problems.append((entry["id"], f"last run {entry['failed_run']['run_id']} failed: {tasks}"))
        if entry["error"]:
            table.add_row(name, "[red]ERROR[/]", "", "", "", "", "", end_section=True)
            problems.append((entry["id"], entry["error"]))
            continue
        table.add_row(f"[bold]{_plain(name)}[/]", _status_markup(entry["status"]),
                      _rows(entry["rows_target"], entry["rows_source"]), formatting.percent(entry["progress_percent"]))
        if entry["last_error"]:
            problems.append((entry["id"], entry["last_error"]))
        items = entry["data_types"]
        for index, item in enumerate(items):
            last = item["last_validation"]
            check = "-" if not last else ("[green]green[/]" if last["green"] else "[red]RED[/]")
            rate = item["throughput_rows_per_second"]
            table.add_row(
                f"  {item['name']}", _status_markup(item["status"]), _rows(item["rows_target"], item["rows_source"]),
                formatting.percent(item["progress_percent"]), check,
                formatting.MISSING if rate is None else f"{rate:,.0f}", formatting.duration(item["eta_seconds"]),
                end_section=index == len(items) - 1,
            )
            if item["last_error"]:
                problems.append((f"{entry['id']}/{item['name']}", item["last_error"]))
    console.print(table)
    for where, text in problems:
        console.print(f"[red]{_plain(where)}[/]: {_plain(formatting.shorten(text, 400))}", overflow="fold")


def _print_fleet(report: dict[str, Any]) -> None:
    """The verdict first, then one line per installation and what blocks it."""
    from rich.console import Console

    console = Console()
    counts = ", ".join(f"{status} {count}" for status, count in sorted(report["by_status"].items()))
    verdict = "[green]ready to decommission[/]" if report["ready_to_decommission"] else "[red]not ready to decommission[/]"
    console.print(f"{verdict}: {len(report['installations'])} installations ({counts}); final checks must be younger "
                  f"than {report['final_check_max_age_hours']:g} h")
    for entry in report["installations"]:
        final = entry["final_check"]
        check = "no final check" if not final else (
            f"final check {'green' if final['green'] else 'RED'} {final['age_hours']:.1f} h ago")
        console.print(f"  {_plain(entry['id'])}: {entry['status'] or 'not started'}, {check}, source "
                      f"{ {True: 'changed', False: 'unchanged', None: 'not checked'}[entry['source_changed_since']]}")
        for blocker in entry["blockers"]:
            console.print(f"    [red]blocks:[/] {_plain(blocker)}", overflow="fold")


def _task_label(task: dict[str, Any]) -> str:
    """``transfer[users] try 3``."""
    mapped = f"[{task['data_type']}]" if task.get("data_type") else ""
    return f"{task['task']}{mapped} try {task['try']}"


def _rows(target: int | None, source: int | None) -> str:
    from include.migration.views.dashboard import formatting

    return f"{formatting.count(target)} / {formatting.count(source)}"


_STATUS_STYLE = {"DONE": "green", "IN_PROGRESS": "blue", "READY": "magenta", "PENDING": "yellow", "FAILED": "red"}


def _status_markup(status: str | None) -> str:
    if not status:
        return "[dim]not started[/]"
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _plain(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":
    sys.exit(main())
