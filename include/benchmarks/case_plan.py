"""Which cases a bench run measures: each one's label, target database, command line and verification."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence

from include.benchmarks import common
from include.benchmarks.common import DLT_VENV, MAIN_INSTALLATION, PG_OVERLAY, PLAN_PATH, ROOT, SMALL_INSTALLATION

EVERY_CASE = (
    "ceiling_server",
    "ceiling_server_n",
    "ceiling_load_data",
    "transfer",
    "transfer_json",
    "transfer_forge_sql",
    "transfer_forge_sql_limited",
    "transfer_parallel",
    "transfer_100k",
    "validate",
    "generic_transfer_default",
    "generic_transfer_best",
    "dlt",
    "dlt_best",
)


@dataclasses.dataclass
class CaseSpec:
    """One measured case: what runs (``argv``), against which database, and how its target is verified."""

    name: str
    label: str
    database: str | None
    argv: list[str]
    installation: str = MAIN_INSTALLATION
    python: str = sys.executable
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    verify: str = "values"  # values | prefix | green (see verification.py)
    fresh_database: bool = True
    note: str = ""


def selected_cases(cases: Sequence[str] | None, skip: Sequence[str] | None) -> list[str]:
    """The cases to run, in bench order: ``cases`` (all when None) without ``skip``."""
    chosen = cases or EVERY_CASE
    return [c for c in EVERY_CASE if c in chosen and c not in (skip or [])]


def plan_cases(
    *,
    quick: bool,
    installations: Sequence[str],
    small_rows: int,
    peers: dict[str, str | None],
    selected: Sequence[str],
) -> list[CaseSpec]:
    """The selected cases, in bench order; ``peers`` holds the dlt python and the postgres provider folder."""
    cases = "include.benchmarks.cases"
    py = [sys.executable, "-m", cases]
    limit_budget = 5.0 if quick else 20.0
    specs = [
        CaseSpec(
            "ceiling_server",
            "ceiling: the writer's upserts, rendered before the clock, sent back to back (1 connection)",
            "ceiling_server",
            [*py, "ceiling_server"],
        ),
        CaseSpec(
            "ceiling_server_n",
            "ceiling: the same, one connection per data type at once (the fan-out's server limit)",
            "ceiling_server_n",
            [*py, "ceiling_server_n"],
        ),
        CaseSpec(
            "ceiling_load_data",
            "ceiling: LOAD DATA LOCAL INFILE of TSV files written before the clock",
            "ceiling_load_data",
            [*py, "ceiling_load_data"],
        ),
        CaseSpec(
            "transfer",
            "transfer, mysql profile (run_transfer)",
            "transfer_mysql",
            [*py, "transfer", "--profile", "mysql"],
        ),
        CaseSpec(
            "transfer_json",
            "transfer, mysql profile, JSON pages (what a remote built from the guide serves)",
            "transfer_json",
            [*py, "transfer", "--profile", "mysql", "--page-format", "json"],
        ),
        CaseSpec(
            "transfer_forge_sql",
            "transfer, forge_sql profile",
            "transfer_forge_sql",
            [*py, "transfer", "--profile", "forge_sql"],
        ),
        CaseSpec(
            "transfer_forge_sql_limited",
            f"transfer, forge_sql, 4 KiB statements (limiter binding, narrow, {limit_budget:.0f}s)",
            "transfer_forge_limit",
            [
                *py,
                "transfer",
                "--profile",
                "forge_sql",
                "--profile-overrides",
                '{"max_statement_bytes": 4096}',
                "--data-types",
                "narrow",
                "--budget",
                str(limit_budget),
            ],
            verify="prefix",
        ),
    ]
    specs.append(
        CaseSpec(
            "transfer_parallel",
            "transfer, mysql profile, 3 data types in parallel processes (the DAG's fan-out)",
            "transfer_parallel",
            [*py, "transfer_parallel", "--profile", "mysql"],
        )
    )
    if SMALL_INSTALLATION in installations:
        specs.append(
            CaseSpec(
                "transfer_100k",
                f"transfer, mysql profile, {small_rows:,} rows (memory)",
                "transfer_small",
                [*py, "transfer", "--profile", "mysql", "--installation", SMALL_INSTALLATION],
                installation=SMALL_INSTALLATION,
            )
        )
    specs += [
        CaseSpec(
            "validate",
            "validate: validate_data_type, counts + chunk checksums, both sides",
            "transfer_mysql",
            [*py, "validate"],
            verify="green",
            fresh_database=False,
        ),
        *peer_cases(peers, selected),
    ]
    return [s for s in specs if s.name in selected]


# GenericTransfer at its best (figures in the README's peers section): pages of 20,000 rows
# (LIMIT/OFFSET on the key-ordered SELECT: bigger pages mean fewer re-scans of the skipped rows,
# smaller ones less memory) and executemany (mysqlclient sends multi-row INSERTs of up to
# 64 KiB) with one commit per page. fast_executemany is a pyodbc cursor flag (no effect on
# mysqlclient); replace=True only swaps INSERT for REPLACE, extra work on an empty table.
GENERIC_PAGE_SIZE = 20_000
GENERIC_BEST_INSERT_ARGS = '{"executemany": true, "commit_every": 20000}'


def peer_cases(peers: dict[str, str | None], selected: Sequence[str]) -> list[CaseSpec]:
    """GenericTransfer (defaults, best) and dlt (defaults, best), each with its own software on its path."""
    py = [sys.executable, "-m", "include.benchmarks.cases"]
    generic_reads = "reads PostgreSQL directly (not the API)"
    specs = [
        CaseSpec(
            "generic_transfer_default",
            f"peer: GenericTransfer defaults (whole table in memory, row by row; {generic_reads})",
            "generic_default",
            [*py, "generic_transfer"],
        ),
        CaseSpec(
            "generic_transfer_best",
            f"peer: GenericTransfer best (page_size {GENERIC_PAGE_SIZE:,}, executemany, commit_every "
            f"{GENERIC_PAGE_SIZE:,}; {generic_reads})",
            "generic_best",
            [
                *py,
                "generic_transfer",
                "--generic-page-size",
                str(GENERIC_PAGE_SIZE),
                "--insert-args",
                GENERIC_BEST_INSERT_ARGS,
            ],
        ),
        CaseSpec(
            "dlt",
            "peer: dlt defaults, rest_api -> sqlalchemy destination (append; reads the remote's HTTP API, JSON pages)",
            common.bench_database("dlt"),
            [],
        ),
        CaseSpec(
            "dlt_best",
            "peer: dlt best, 3 resources in parallel, files rotated, 2 normalize processes, 6 load threads "
            "(append; reads the remote's HTTP API, JSON pages)",
            common.bench_database("dlt_best"),
            [],
        ),
    ]
    for spec in specs:
        if spec.name.startswith("generic"):
            overlay = peers.get("postgres_provider") or str(PG_OVERLAY)
            spec.extra_env = {
                "PYTHONPATH": f"{ROOT}{os.pathsep}{overlay}",
                "AIRFLOW_CONN_BENCH_PG": common.postgres_conn_json(),
                "AIRFLOW_CONN_BENCH_GENERIC": common.mysql_conn_json(spec.database, charset="utf8mb4"),
            }
        elif spec.name in selected:
            # The runner makes dlt's venv before planning whenever a dlt case is selected.
            spec.python = peers.get("dlt") or str(DLT_VENV / "bin" / "python")
            # The database is the full bench name: the runner passes it on unchanged to this script,
            # which runs in dlt's venv and cannot import the bench's naming.
            spec.argv = [
                spec.python,
                str(common.BENCH_DIR / "dlt_case.py"),
                "--plan",
                str(PLAN_PATH),
                "--database",
                spec.database or "",
                "--settings",
                "best" if spec.name == "dlt_best" else "default",
            ]
    return specs
