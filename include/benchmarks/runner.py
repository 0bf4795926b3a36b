"""``make bench``: the package's transfer against the ceiling and the peers, in one run on this machine.

Steps: seed ``bench_source`` (PostgreSQL, COPY) -> serve it through the
reference remote (uvicorn, its own process) -> run every case in its own
subprocess (peak RSS from ``wait4``) -> verify each target -> parse-time at
scale -> print a table and, last, the ratios line; figures also go to
``.test-artifacts/bench.json``.

This module runs those steps in order; each has its own module: ``services``
and ``peers`` (what the run needs), ``remote_process``, ``case_plan`` and
``measure`` (the cases), ``verification``, ``parse_time_runs``, ``report`` and
``profiling``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from include.benchmarks import common
from include.benchmarks.case_plan import CaseSpec, plan_cases, selected_cases
from include.benchmarks.common import (
    AIRFLOW_HOME,
    CONFIG_PATH,
    LOG_DIR,
    MAIN_INSTALLATION,
    PLAN_PATH,
    RESULT_DIR,
    ROOT,
    SMALL_INSTALLATION,
    SMALL_ROWS,
    WORK_DIR,
    say,
)
from include.benchmarks.measure import run_measured
from include.benchmarks.parse_time_runs import measure_parse_times
from include.benchmarks.peers import ensure_dlt_venv, ensure_postgres_provider
from include.benchmarks.process_cpu import cores_of, cpu_between, snapshot
from include.benchmarks.profiling import run_under_cprofile, run_under_py_spy
from include.benchmarks.remote_process import Remote
from include.benchmarks.report import last_line, print_report, ratios
from include.benchmarks.services import ensure_services
from include.benchmarks.verification import Verifier


class Bench:
    """One bench run: prepare the source, remote and peers, run and verify the cases, report."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.rows = args.rows
        self.small_rows = min(SMALL_ROWS, self.rows)
        self.results: dict[str, dict[str, Any]] = {}
        self.installations = [MAIN_INSTALLATION] + ([SMALL_INSTALLATION] if self.rows > SMALL_ROWS else [])
        self.tokens = {i: secrets.token_urlsafe(24) for i in self.installations}
        self.remote: Remote | None = None
        self.verifier: Verifier | None = None
        self.started = time.perf_counter()

    # environment ----------------------------------------------------------

    def base_env(self) -> dict[str, str]:
        """The environment of every subprocess: the bench's Airflow home and configuration, the remote's connections."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
        env.update(
            {
                "AIRFLOW_HOME": str(AIRFLOW_HOME),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                "MIGRATION_CONFIG": str(CONFIG_PATH),
                "PYTHONPATH": str(ROOT),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        if self.remote is not None:
            for installation, token in self.tokens.items():
                env[f"AIRFLOW_CONN_BENCH_REMOTE_{installation.upper()}"] = common.http_conn_json(
                    self.remote.port, token
                )
        return env

    def case_env(self, case: CaseSpec) -> dict[str, str]:
        """The environment of one case: :meth:`base_env` with its target connection and its own additions."""
        env = self.base_env()
        if case.database:
            env[f"AIRFLOW_CONN_BENCH_TARGET_{case.installation.upper()}"] = common.mysql_conn_json(case.database)
        env.update(case.extra_env)
        return env

    def prepare(self) -> None:
        """Folders, services, configuration, peers, the seeded source, the remote and the plan file."""
        for folder in (WORK_DIR, AIRFLOW_HOME, LOG_DIR, RESULT_DIR):
            folder.mkdir(parents=True, exist_ok=True)
        os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
        ensure_services()
        common.write_config(self.installations, self.args.page_size)
        from include.migration.configuration.config_loading import load_config

        self.config = load_config(CONFIG_PATH)
        self.data_types = list(self.config.data_types)
        names = [d.name for d in self.data_types]
        self.plan_rows = {MAIN_INSTALLATION: common.rows_per_type(self.rows, names)}
        if SMALL_INSTALLATION in self.installations:
            self.plan_rows[SMALL_INSTALLATION] = common.rows_per_type(self.small_rows, names)
        self.peers: dict[str, str | None] = {"dlt": None, "postgres_provider": None}
        if any(c.startswith("dlt") for c in self.selected()):
            self.peers["dlt"] = ensure_dlt_venv()
        if any(c.startswith("generic") for c in self.selected()):
            self.peers["postgres_provider"] = ensure_postgres_provider()
        from include.benchmarks.seed import seed

        say(f"seeding {common.SOURCE_DB}: {self.plan_rows}")
        self.seeding = seed(self.plan_rows, force=self.args.reseed)
        say(
            f"seeded in {self.seeding['seconds']:.1f}s"
            if self.seeding["seeded"]
            else "source already seeded (same plan): kept"
        )
        self.remote = Remote(self.tokens, self.base_env())
        self.verifier = Verifier(self.remote, self.data_types, self.plan_rows)
        say(f"reference remote on {self.remote.url} (pid {self.remote.process.pid})")
        PLAN_PATH.write_text(
            json.dumps(
                {
                    "work_dir": str(WORK_DIR),
                    "remote_url": self.remote.url,
                    "tokens": self.tokens,
                    "rows": self.plan_rows,
                    "page_size": self.data_types[0].page_size,
                    "data_types": [d.model_dump(mode="json") for d in self.data_types],
                },
                indent=1,
            ),
            encoding="utf-8",
        )

    # cases ----------------------------------------------------------------

    def case_specs(self) -> list[CaseSpec]:
        """The cases this run measures, in bench order."""
        return plan_cases(
            quick=self.quick,
            installations=self.installations,
            small_rows=self.small_rows,
            peers=self.peers,
            selected=self.selected(),
        )

    def selected(self) -> list[str]:
        """The names of the cases this run measures (``--cases`` without ``--skip``)."""
        return selected_cases(self.args.cases, self.args.skip)

    def run_case(self, case: CaseSpec) -> dict[str, Any]:
        """Run one case in its own measured subprocess (again once when the remote was down), then verify it."""
        if case.database and case.fresh_database:
            common.reset_database(case.database)
        out = RESULT_DIR / f"{case.name}.json"
        out.unlink(missing_ok=True)
        argv = [*case.argv, "--out", str(out)]
        if case.database and not case.name.startswith("dlt"):
            argv += ["--database", case.database, "--installation", case.installation]
        say(f"case {case.name}: {case.label}")
        timeout = 600.0 if self.quick else 4 * 3600.0
        assert self.remote is not None and self.verifier is not None
        self.remote.ensure_running()
        status, wall, rss, cpu, others = self.measure(case, argv, timeout)
        if (status != 0 or not out.exists()) and self.remote.ensure_running():
            say(f"case {case.name} failed while the remote was down: running it again")
            if case.database and case.fresh_database:
                common.reset_database(case.database)
            status, wall, rss, cpu, others = self.measure(case, argv, timeout)
        cpu_seconds = {"worker": cpu, **others}
        if status != 0 or not out.exists():
            tail = (LOG_DIR / f"{case.name}.log").read_text(encoding="utf-8", errors="replace")[-3000:]
            say(f"case {case.name} FAILED (exit {status}); log tail:\n{tail}")
            return {"case": case.name, "label": case.label, "failed": True, "exit": status, "peak_rss_mb": rss}
        result = json.loads(out.read_text(encoding="utf-8"))
        result.update(
            {
                "case": case.name,
                "label": case.label,
                "peak_rss_mb": rss,
                "wall_seconds": wall,
                "process_cpu_seconds": cpu,
                "cpu_seconds": cpu_seconds,
                "cpu_cores": cores_of(cpu_seconds, wall),
                "database": common.bench_database(case.database) if case.database else None,
            }
        )
        result["rows_per_second"] = result["rows"] / result["seconds"] if result.get("seconds") else 0.0
        verified = self.verifier.verify(case, result)
        result["verified"] = verified
        say(
            f"case {case.name}: {result['rows']:,} rows in {result['seconds']:.1f}s = "
            f"{result['rows_per_second']:,.0f} rows/s, peak RSS {rss:,.0f} MB; verified: {verified['summary']}"
        )
        return result

    def measure(
        self, case: CaseSpec, argv: list[str], timeout: float
    ) -> tuple[int, float, float, float, dict[str, float]]:
        """:func:`run_measured` of one case, and the CPU seconds the remote, PostgreSQL and MariaDB spent meanwhile."""
        assert self.remote is not None
        before = snapshot(self.remote.process.pid)
        status, wall, rss, cpu = run_measured(argv, self.case_env(case), LOG_DIR / f"{case.name}.log", timeout)
        return status, wall, rss, cpu, cpu_between(before, snapshot(self.remote.process.pid))

    # figures --------------------------------------------------------------

    def write_json(self, parse: list[dict[str, Any]], ratios: dict[str, Any]) -> None:
        """The run's figures to ``--json`` (``.test-artifacts/bench.json`` by default)."""
        target = Path(self.args.json)
        target.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "generated_at": dt.datetime.now(dt.UTC).isoformat(),
            "rows": self.rows,
            "quick": self.quick,
            "plan_rows": self.plan_rows,
            "page_size": self.data_types[0].page_size,
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "seeding": self.seeding,
            "cases": self.results,
            "parse_time": parse,
            "ratios": ratios,
            "total_seconds": time.perf_counter() - self.started,
            "remote_restarts": self.remote.restarts if self.remote else 0,
            "verification": self.verifier.totals if self.verifier else None,
        }
        target.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")

    # main -----------------------------------------------------------------

    def run(self) -> int:
        """The whole run; 1 when a case failed or its target did not verify."""
        self.prepare()
        try:
            for case in self.case_specs():
                self.results[case.name] = self.run_case(case)
            if self.args.cprofile:
                self.results["transfer_profiled"] = run_under_cprofile(self.run_case)
            if self.args.py_spy:
                self.results["transfer_py_spy"] = run_under_py_spy(self.run_case, self.args.py_spy)
        finally:
            if self.remote is not None:
                self.remote.stop()
            if not self.args.keep_databases:
                self.drop_databases()
        sizes = self.args.parse_sizes or ([100, 1000] if self.quick else [100, 1000, 5000])
        parse = [] if self.args.no_parse else measure_parse_times(sizes, self.base_env)
        figures = ratios(self.results, parse)
        print_report(
            self.results, parse, total_rows=self.rows, plan_rows=self.plan_rows,
            page_size=self.data_types[0].page_size, figures=figures,
        )
        self.write_json(parse, figures)
        if self.verifier is not None:
            print(self.verifier.total_line())
        failed = [n for n, r in self.results.items() if r.get("failed") or not r.get("verified", {}).get("ok")]
        if failed:
            print(f"bench: failed or unverified cases: {', '.join(failed)} (logs in {LOG_DIR})")
        print(last_line(figures))
        return 1 if failed else 0

    def drop_databases(self) -> None:
        """Drop the bench_* MariaDB databases this run wrote (never any other database)."""
        names = {common.bench_database(c.database) for c in self.case_specs() if c.database}
        names |= {common.bench_database("transfer_profile")} if (self.args.cprofile or self.args.py_spy) else set()
        conn = common.mariadb_connect()
        try:
            for name in sorted(names):
                conn.query(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m include.benchmarks``: the options parsed, the bench run; its exit status."""
    parser = argparse.ArgumentParser(prog="python -m include.benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=None, help="rows in the data set (default 1,000,000; --quick 10,000)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke mode: fewer parse sizes, short limiter case")
    parser.add_argument(
        "--page-size", type=int, default=None, help="override the data types' page_size (default 2,000: bench_config)"
    )
    parser.add_argument("--cases", nargs="*", default=None, help="run only these cases")
    parser.add_argument("--skip", nargs="*", default=None, help="skip these cases")
    parser.add_argument("--parse-sizes", type=int, nargs="*", default=None, help="installations for parse time")
    parser.add_argument("--no-parse", action="store_true", help="skip the parse-time measurement")
    parser.add_argument("--reseed", action="store_true", help="seed the source again even when it holds the same plan")
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="also run the transfer (mysql profile) under cProfile, all threads; top functions to "
        ".test-artifacts/bench-profile.txt",
    )
    parser.add_argument("--json", default=str(common.ARTIFACT), help="where the figures go (default %(default)s)")
    parser.add_argument(
        "--keep-databases",
        action="store_true",
        help="keep the bench_* MariaDB databases of the cases for inspection (default: dropped)",
    )
    parser.add_argument(
        "--py-spy",
        default=None,
        metavar="PY_SPY",
        help="also run the transfer under this py-spy executable (not installed by the bench)",
    )
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 10_000 if args.quick else 1_000_000
    if args.rows < 10:
        parser.error("--rows must be at least 10")
    return Bench(args).run()
