"""``make bench``: the package's transfer against the ceiling and the peers, in one run on this machine.

Steps: seed ``bench_source`` (PostgreSQL, COPY) -> serve it through the
reference remote (uvicorn, its own process) -> run every case in its own
subprocess (peak RSS from ``wait4``) -> verify each target -> parse-time at
scale -> print a table and, last, the ratios line; figures also go to
``.test-artifacts/bench.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from include.migration.bench import common
from include.migration.bench.common import (
    AIRFLOW_HOME,
    CONFIG_PATH,
    DLT_REQUIREMENTS,
    DLT_VENV,
    LOG_DIR,
    MAIN_INSTALLATION,
    PG_OVERLAY,
    PG_OVERLAY_REQUIREMENTS,
    PLAN_PATH,
    RESULT_DIR,
    ROOT,
    SMALL_INSTALLATION,
    SMALL_ROWS,
    SOURCE_URL,
    WORK_DIR,
)

MB = 1_000_000
LAST_LINE_KEYS = (
    "transfer_vs_ceiling",
    "transfer_vs_generic",
    "transfer_vs_dlt",
    "validate_vs_transfer",
    "rss_1m_vs_100k",
    "load_data_vs_ceiling_load_data",
)


@dataclasses.dataclass
class CaseSpec:
    name: str
    label: str
    database: str | None
    argv: list[str]
    installation: str = MAIN_INSTALLATION
    python: str = sys.executable
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    verify: str = "checksum"  # checksum | prefix | sample | green
    fresh_database: bool = True
    note: str = ""


# --------------------------------------------------------------------------- environment


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_services() -> None:
    """MariaDB and PostgreSQL on loopback; start them as .ci/run does when they are down."""

    def up(command: list[str]) -> bool:
        return subprocess.run(command, check=False, capture_output=True).returncode == 0

    maria = ["mariadb-admin", "-h", "127.0.0.1", "-u", "root", "ping"]
    pg = ["pg_isready", "-h", "127.0.0.1", "-p", "5432"]
    if not up(maria):
        _say("starting MariaDB")
        subprocess.run(
            ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"], check=False
        )
    if not up(pg):
        _say("starting PostgreSQL")
        version = max(os.listdir("/etc/postgresql"))
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    for _ in range(60):
        if up(maria) and up(pg):
            return
        time.sleep(1)
    raise SystemExit("bench: MariaDB (127.0.0.1:3306) or PostgreSQL (127.0.0.1:5432) is not reachable")


def _uv() -> str:
    candidate = ROOT / ".venv" / "bin" / "uv"
    return str(candidate) if candidate.exists() else shutil.which("uv") or "uv"


def _ignore_folder(folder: Path) -> None:
    """Keep a bench-made folder out of git without touching the project's .gitignore."""
    marker = folder / ".gitignore"
    if not marker.exists():
        marker.write_text("*\n", encoding="utf-8")


def ensure_dlt_venv() -> str:
    """``.bench-venv-dlt`` with the pins of dlt-requirements.txt; rebuilt when the pins change."""
    python = DLT_VENV / "bin" / "python"
    stamp = DLT_VENV / ".requirements-installed"
    wanted = DLT_REQUIREMENTS.read_text(encoding="utf-8")
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return str(python)
    _say(f"creating {DLT_VENV.name} ({', '.join(x for x in wanted.splitlines() if x and not x.startswith('#'))})")
    if not python.exists():
        subprocess.run([_uv(), "venv", "-q", "--python", sys.executable, str(DLT_VENV)], check=True)
    subprocess.run([_uv(), "pip", "install", "-q", "--python", str(python), "-r", str(DLT_REQUIREMENTS)], check=True)
    _ignore_folder(DLT_VENV)
    stamp.write_text(wanted, encoding="utf-8")
    return str(python)


def ensure_postgres_provider() -> str:
    """The postgres provider for GenericTransfer, in its own folder put on that case's PYTHONPATH only."""
    stamp = PG_OVERLAY / ".requirements-installed"
    wanted = PG_OVERLAY_REQUIREMENTS.read_text(encoding="utf-8")
    if stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return str(PG_OVERLAY)
    _say(f"installing the postgres provider into {PG_OVERLAY.name}/ (GenericTransfer's source hook)")
    shutil.rmtree(PG_OVERLAY, ignore_errors=True)
    subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--python",
            sys.executable,
            "--target",
            str(PG_OVERLAY),
            "-r",
            str(PG_OVERLAY_REQUIREMENTS),
        ],
        check=True,
    )
    _ignore_folder(PG_OVERLAY)
    stamp.write_text(wanted, encoding="utf-8")
    return str(PG_OVERLAY)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Remote:
    """The reference remote, served by uvicorn in its own process (no GIL shared with the transfer)."""

    def __init__(self, tokens: dict[str, str], env: dict[str, str]) -> None:
        self.tokens = tokens
        self.env = env
        self.port = _free_port()
        self.tokens_file = WORK_DIR / "tokens.json"
        self.tokens_file.write_text(json.dumps(tokens), encoding="utf-8")
        self.log = open(LOG_DIR / "remote.log", "a", encoding="utf-8")  # noqa: SIM115
        self.url = f"http://127.0.0.1:{self.port}"
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "include.migration.bench.remote",
                "serve",
                "--source-url",
                SOURCE_URL,
                "--config",
                str(CONFIG_PATH),
                "--tokens-file",
                str(self.tokens_file),
                "--port",
                str(self.port),
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self._wait_ready()

    def ensure_running(self) -> bool:
        """Restart the remote on the same port when something stopped it; True when it had to."""
        if self.process.poll() is None:
            return False
        _say(
            f"the remote (pid {self.process.pid}) was stopped from outside (exit {self.process.returncode}); "
            "restarting it on the same port"
        )
        self.restarts += 1
        self._start()
        return True

    def _wait_ready(self) -> None:
        import requests

        token = next(iter(self.tokens.values()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: the remote exited at start; see {LOG_DIR / 'remote.log'}")
            try:
                response = requests.get(
                    f"{self.url}/data-migration/status", headers={"Authorization": f"Bearer {token}"}, timeout=2
                )
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit("bench: the remote did not answer within 60 s")

    def client(self, installation: str) -> Any:
        import requests

        from include.migration.source.client import RemoteClient

        return RemoteClient(requests.Session(), self.url, self.tokens[installation], installation)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --------------------------------------------------------------------------- running cases


def run_measured(
    argv: list[str], env: dict[str, str], log_path: Path, timeout: float
) -> tuple[int, float, float, float]:
    """Run ``argv``; returns (exit status, wall seconds, peak RSS in MB and CPU seconds of that process, from wait4).

    The peak RSS is the largest of the process and the children it waited for, not their sum.
    """
    with open(log_path, "w", encoding="utf-8") as log:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        return (
            process.returncode,
            time.perf_counter() - started,
            usage.ru_maxrss / 1024,
            usage.ru_utime + usage.ru_stime,
        )


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.rows = args.rows
        self.small_rows = min(SMALL_ROWS, self.rows)
        self.results: dict[str, dict[str, Any]] = {}
        self.source_stats: dict[tuple[str, str], Any] = {}
        self.installations = [MAIN_INSTALLATION] + ([SMALL_INSTALLATION] if self.rows > SMALL_ROWS else [])
        self.tokens = {i: secrets.token_urlsafe(24) for i in self.installations}
        self.remote: Remote | None = None
        self.started = time.perf_counter()

    # environment ----------------------------------------------------------

    def base_env(self) -> dict[str, str]:
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
        env = self.base_env()
        if case.database:
            env[f"AIRFLOW_CONN_BENCH_TARGET_{case.installation.upper()}"] = common.mysql_conn_json(case.database)
        env.update(case.extra_env)
        return env

    def prepare(self) -> None:
        for folder in (WORK_DIR, AIRFLOW_HOME, LOG_DIR, RESULT_DIR):
            folder.mkdir(parents=True, exist_ok=True)
        os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
        ensure_services()
        common.write_config(self.installations, self.args.page_size)
        from include.migration.config import load_config

        self.config = load_config(CONFIG_PATH)
        self.data_types = list(self.config.data_types)
        names = [d.name for d in self.data_types]
        self.plan_rows = {MAIN_INSTALLATION: common.rows_per_type(self.rows, names)}
        if SMALL_INSTALLATION in self.installations:
            self.plan_rows[SMALL_INSTALLATION] = common.rows_per_type(self.small_rows, names)
        self.peers: dict[str, str | None] = {"dlt": None, "postgres_provider": None}
        if "dlt" in self.selected():
            self.peers["dlt"] = ensure_dlt_venv()
        if any(c.startswith("generic") for c in self.selected()):
            self.peers["postgres_provider"] = ensure_postgres_provider()
        from include.migration.bench.seed import seed

        _say(f"seeding {common.SOURCE_DB}: {self.plan_rows}")
        self.seeding = seed(self.plan_rows, force=self.args.reseed)
        _say(
            f"seeded in {self.seeding['seconds']:.1f}s"
            if self.seeding["seeded"]
            else "source already seeded (same plan): kept"
        )
        self.remote = Remote(self.tokens, self.base_env())
        _say(f"reference remote on {self.remote.url} (pid {self.remote.process.pid})")
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
        cases = "include.migration.bench.cases"
        py = [sys.executable, "-m", cases]
        limit_budget = 5.0 if self.quick else 20.0
        specs = [
            CaseSpec(
                "ceiling_insert",
                "ceiling: INSERT .. ON DUPLICATE KEY UPDATE (rows in memory)",
                "ceiling_insert",
                [*py, "ceiling_insert"],
            ),
            CaseSpec(
                "ceiling_load_data",
                "ceiling: LOAD DATA LOCAL INFILE (rows in memory)",
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
        if SMALL_INSTALLATION in self.installations:
            specs.append(
                CaseSpec(
                    "transfer_100k",
                    f"transfer, mysql profile, {self.small_rows:,} rows (memory)",
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
            CaseSpec(
                "generic_transfer_default",
                "peer: GenericTransfer defaults (row by row)",
                "generic_default",
                [*py, "generic_transfer"],
            ),
            CaseSpec(
                "generic_transfer",
                "peer: GenericTransfer insert_args executemany=True",
                "generic_executemany",
                [*py, "generic_transfer", "--insert-args", '{"executemany": true}'],
            ),
            CaseSpec("dlt", "peer: dlt rest_api -> sqlalchemy destination (append)", "dlt", [], verify="sample"),
        ]
        for spec in specs:
            if spec.name.startswith("generic"):
                overlay = self.peers.get("postgres_provider") or str(PG_OVERLAY)
                spec.extra_env = {
                    "PYTHONPATH": f"{ROOT}{os.pathsep}{overlay}",
                    "AIRFLOW_CONN_BENCH_PG": common.postgres_conn_json(),
                    "AIRFLOW_CONN_BENCH_GENERIC": common.mysql_conn_json(spec.database, charset="utf8mb4"),
                }
            if spec.name == "dlt":
                spec.python = self.peers.get("dlt") or str(DLT_VENV / "bin" / "python")
                spec.argv = [
                    spec.python,
                    str(common.BENCH_DIR / "dlt_case.py"),
                    "--plan",
                    str(PLAN_PATH),
                    "--database",
                    common.bench_database("dlt"),
                ]
        return [s for s in specs if s.name in self.selected()]

    def selected(self) -> list[str]:
        every = [
            "ceiling_insert",
            "ceiling_load_data",
            "transfer",
            "transfer_forge_sql",
            "transfer_forge_sql_limited",
            "transfer_parallel",
            "transfer_100k",
            "validate",
            "generic_transfer_default",
            "generic_transfer",
            "dlt",
        ]
        chosen = self.args.cases or every
        return [c for c in every if c in chosen and c not in (self.args.skip or [])]

    def run_case(self, case: CaseSpec) -> dict[str, Any]:
        if case.database and case.fresh_database:
            common.reset_database(case.database)
        out = RESULT_DIR / f"{case.name}.json"
        out.unlink(missing_ok=True)
        argv = [*case.argv, "--out", str(out)]
        if case.database and case.name != "dlt":
            argv += ["--database", case.database, "--installation", case.installation]
        _say(f"case {case.name}: {case.label}")
        timeout = 600.0 if self.quick else 4 * 3600.0
        assert self.remote is not None
        self.remote.ensure_running()
        status, wall, rss, cpu = run_measured(argv, self.case_env(case), LOG_DIR / f"{case.name}.log", timeout)
        if (status != 0 or not out.exists()) and self.remote.ensure_running():
            _say(f"case {case.name} failed while the remote was down: running it again")
            if case.database and case.fresh_database:
                common.reset_database(case.database)
            status, wall, rss, cpu = run_measured(argv, self.case_env(case), LOG_DIR / f"{case.name}.log", timeout)
        if status != 0 or not out.exists():
            tail = (LOG_DIR / f"{case.name}.log").read_text(encoding="utf-8", errors="replace")[-3000:]
            _say(f"case {case.name} FAILED (exit {status}); log tail:\n{tail}")
            return {"case": case.name, "label": case.label, "failed": True, "exit": status, "peak_rss_mb": rss}
        result = json.loads(out.read_text(encoding="utf-8"))
        result.update(
            {
                "case": case.name,
                "label": case.label,
                "peak_rss_mb": rss,
                "wall_seconds": wall,
                "process_cpu_seconds": cpu,
                "database": common.bench_database(case.database) if case.database else None,
            }
        )
        result["rows_per_second"] = result["rows"] / result["seconds"] if result.get("seconds") else 0.0
        verified = self.verify(case, result)
        result["verified"] = verified
        _say(
            f"case {case.name}: {result['rows']:,} rows in {result['seconds']:.1f}s = "
            f"{result['rows_per_second']:,.0f} rows/s, peak RSS {rss:,.0f} MB; verified: {verified['summary']}"
        )
        return result

    # verification ---------------------------------------------------------

    def source_stat(self, installation: str, spec: Any, up_to: Any = None) -> Any:
        from include.migration.checksum import ChunkStats

        key = (installation, spec.name, up_to)
        if key not in self.source_stats:
            assert self.remote is not None
            self.remote.ensure_running()
            client = self.remote.client(installation)
            try:
                self.source_stats[key] = ChunkStats.from_dict(client.range_stats(spec.name, None, up_to))
            finally:
                client.close()
        return self.source_stats[key]

    def verify(self, case: CaseSpec, result: dict[str, Any]) -> dict[str, Any]:
        from include.migration.target.connection import MySqlTarget
        from include.migration.target.profiles import get_profile
        from include.migration.validation.chunks import Chunk
        from include.migration.validation.target_side import TargetReader

        started = time.perf_counter()
        if case.verify == "green":
            ok = bool(result.get("green")) and result["rows"] == sum(self.plan_rows[case.installation].values())
            return {
                "ok": ok,
                "method": "validate_data_type green, rows = seeded rows",
                "summary": "green" if ok else "RED",
                "seconds": 0.0,
            }
        if case.verify == "sample":
            return self.verify_sampled(case, result)
        db = MySqlTarget(common.mariadb_connect(case.database), get_profile("mysql"))
        details = {}
        ok = True
        try:
            for spec in self.data_types:
                if case.verify == "prefix":
                    per = result.get("per_type", {}).get(spec.name)
                    if per is None:
                        continue
                    checkpoint = self._checkpoint(db, spec.name)
                    source = self.source_stat(case.installation, spec, up_to=checkpoint)
                    target = TargetReader(db, spec).stats(Chunk(None, None))
                    good = source == target and target.count == per["rows"]
                else:
                    source = self.source_stat(case.installation, spec)
                    target = TargetReader(db, spec).stats(Chunk(None, None))
                    good = source == target and source.count == self.plan_rows[case.installation][spec.name]
                details[spec.name] = {
                    "ok": good,
                    "source": dataclasses.asdict(source),
                    "target": dataclasses.asdict(target),
                }
                ok &= good
        finally:
            db.close()
        method = (
            "count + checksum (package canonical row hashes) of the copied key prefix vs the remote's range-stats"
            if case.verify == "prefix"
            else "count + checksum (package canonical row hashes) vs the remote's range-stats"
        )
        return {
            "ok": ok,
            "method": method,
            "summary": ("count+checksum OK" if ok else "MISMATCH"),
            "per_type": details,
            "seconds": time.perf_counter() - started,
        }

    def _checkpoint(self, db: Any, data_type: str) -> Any:
        rows = db.query("SELECT checkpoint FROM `_migration_state` WHERE job_id = %s", (f"data_type:{data_type}",))
        value = json.loads(rows[0][0]) if rows and rows[0][0] else None
        return value

    def verify_sampled(self, case: CaseSpec, result: dict[str, Any], sample: int = 300) -> dict[str, Any]:
        """For peers with their own column types: exact count + canonical hashes of sampled rows."""
        from include.migration.bench.seed import source_rows
        from include.migration.checksum import RowHasher

        started = time.perf_counter()
        conn = common.mariadb_connect(case.database)
        rng = random.Random(7)
        details = {}
        ok = True
        try:
            cursor = conn.cursor()
            for spec in self.data_types:
                expected = self.plan_rows[case.installation][spec.name]
                cursor.execute(f"SELECT COUNT(*), COUNT(DISTINCT `{spec.primary_key}`) FROM `{spec.target_table}`")
                count, distinct = cursor.fetchone()
                keys = sorted({1, expected, *(rng.randint(1, expected) for _ in range(sample))}) if expected else []
                source = {row[spec.key_index]: row for row in source_rows(case.installation, spec, keys=keys)}
                columns = ", ".join(f"`{c}`" for c in spec.column_names)
                marks = ", ".join(["%s"] * len(keys))
                cursor.execute(
                    f"SELECT {columns} FROM `{spec.target_table}` WHERE `{spec.primary_key}` IN ({marks})", keys
                )
                target = {row[spec.key_index]: row for row in cursor.fetchall()}
                hasher = RowHasher(spec)
                differing = [
                    k
                    for k in keys
                    if k not in target or k not in source or hasher.hash(source[k]) != hasher.hash(target[k])
                ]
                good = count == expected and distinct == expected and not differing
                details[spec.name] = {
                    "ok": good,
                    "count": count,
                    "expected": expected,
                    "sampled": len(keys),
                    "differing_keys": differing[:10],
                }
                ok &= good
        finally:
            conn.close()
        return {
            "ok": ok,
            "method": f"count + distinct keys + canonical row hash of {sample}+2 sampled rows per table "
            "(dlt's column types differ)",
            "summary": "count+sample OK" if ok else "MISMATCH",
            "per_type": details,
            "seconds": time.perf_counter() - started,
        }

    # parse time -----------------------------------------------------------

    def parse_times(self) -> list[dict[str, Any]]:
        from include.migration.bench.parse_time import write_parse_config

        sizes = self.args.parse_sizes or ([100, 1000] if self.quick else [100, 1000, 5000])
        out: list[dict[str, Any]] = []
        for size in sizes:
            config = write_parse_config(WORK_DIR / "parse" / f"config_{size}.yaml", size)
            env = self.base_env()
            env["MIGRATION_CONFIG"] = str(config)
            env["AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT"] = "3600"
            result_path = RESULT_DIR / f"parse_{size}.json"
            result_path.unlink(missing_ok=True)
            _say(f"parse time: dags/ with {size:,} installations, file by file")
            status, wall, rss, _cpu = run_measured(
                [sys.executable, "-m", "include.migration.bench.parse_time", "--out", str(result_path),
                 "--installations", str(size)],
                env,
                LOG_DIR / f"parse_{size}.log",
                3600.0,
            )
            if status != 0 or not result_path.exists():
                out.append({"installations": size, "failed": True, "exit": status})
                continue
            result = json.loads(result_path.read_text(encoding="utf-8"))
            result.update({"installations": size, "peak_rss_mb": rss, "wall_seconds": wall})
            _say(f"parse time: {size:,} installations -> {result['dags']:,} DAGs in {result['dag_files']} files: "
                 f"slowest file {result['parse_max_file_seconds']:.1f}s, all files {result['parse_seconds']:.1f}s")
            out.append(result)
        return out

    # report ---------------------------------------------------------------

    def ratios(self) -> dict[str, Any]:
        r = self.results

        def rate(name: str) -> float | None:
            item = r.get(name)
            return item.get("rows_per_second") if item and not item.get("failed") else None

        def ratio(a: float | None, b: float | None) -> float | None:
            return a / b if a and b else None

        transfer = rate("transfer")
        rss_full = r.get("transfer", {}).get("peak_rss_mb")
        rss_small = r.get("transfer_100k", {}).get("peak_rss_mb") if "transfer_100k" in r else rss_full
        return {
            "transfer_vs_ceiling": ratio(transfer, rate("ceiling_insert")),
            "transfer_vs_generic": ratio(transfer, rate("generic_transfer")),
            "transfer_vs_dlt": ratio(transfer, rate("dlt")),
            "validate_vs_transfer": ratio(rate("validate"), transfer),
            "rss_1m_vs_100k": ratio(rss_full, rss_small),
            "load_data_vs_ceiling_load_data": "n/a",
        }

    def report(self, parse: list[dict[str, Any]]) -> None:
        from rich.console import Console
        from rich.table import Table

        console = Console(width=200)
        payload = self.payload_of(self.results.get("ceiling_insert", {}))
        split = ", ".join(f"{k} {v:,}" for k, v in self.plan_rows[MAIN_INSTALLATION].items())
        table = Table(title=f"make bench: {self.rows:,} rows ({split}), page size {self.data_types[0].page_size}")
        for header in ("case", "rows", "seconds", "rows/s", "MB/s", "sent MB", "peak RSS MB", "verified", "notes"):
            table.add_column(
                header, justify="left" if header in ("case", "verified", "notes") else "right", overflow="fold"
            )
        for name, item in self.results.items():
            if item.get("failed"):
                table.add_row(
                    item.get("label", name),
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    f"{item.get('peak_rss_mb', 0):,.0f}",
                    "[red]FAILED[/]",
                    f"exit {item.get('exit')}; see {LOG_DIR}/{name}.log",
                )
                continue
            rows, seconds = item["rows"], item["seconds"]
            own_payload = self.payload_of(item)
            mbs = own_payload / seconds / MB if own_payload and seconds else None
            item["payload_bytes_estimated"] = own_payload
            item["payload_mb_per_second"] = mbs
            verified = item.get("verified", {})
            mark = "[green]" if verified.get("ok") else "[red]"
            table.add_row(
                item["label"],
                f"{rows:,}",
                f"{seconds:,.1f}",
                f"{item['rows_per_second']:,.0f}",
                f"{mbs:,.2f}" if mbs else "-",
                f"{item['sent_bytes'] / MB:,.1f}" if item.get("sent_bytes") else "-",
                f"{item['peak_rss_mb']:,.0f}",
                f"{mark}{verified.get('summary', '-')}[/]",
                self.notes(name, item),
            )
        console.print(table)
        if "transfer" in self.results and not self.results["transfer"].get("failed"):
            per = Table(title="transfer (mysql profile) per data type")
            for header in (
                "data type",
                "rows",
                "seconds",
                "rows/s",
                "statements",
                "sent MB",
                "HTTP MB",
                "seconds in target",
            ):
                per.add_column(header, justify="right")
            for name, t in self.results["transfer"]["per_type"].items():
                per.add_row(
                    name,
                    f"{t['rows']:,}",
                    f"{t['seconds']:.1f}",
                    f"{t['rows'] / t['seconds']:,.0f}",
                    f"{t['statements']:,}",
                    f"{t['sent_bytes'] / MB:,.1f}",
                    f"{t['http_bytes'] / MB:,.1f}",
                    f"{t['seconds_in_target']:.1f}",
                )
            console.print(per)
        if parse:
            pt = Table(title="DAG-file parse time (each file of dags/ in its own process, Airflow already imported)")
            for header in (
                "installations",
                "DAG files",
                "DAGs",
                "tasks",
                "slowest file s",
                "all files s",
                "ms per DAG",
                "serialize s (all files)",
                "import errors",
                "slowest file under the default 30 s dagbag_import_timeout",
                "peak RSS MB",
            ):
                pt.add_column(header, justify="right")
            for p in parse:
                if p.get("failed"):
                    pt.add_row(f"{p['installations']:,}", *(["-"] * 3), "FAILED", *(["-"] * 6))
                    continue
                tasks = sum(int(f.get("tasks", 0)) for f in p.get("file_stats", []))
                slowest = p["parse_max_file_seconds"]
                pt.add_row(
                    f"{p['installations']:,}",
                    str(p["dag_files"]),
                    f"{p['dags']:,}",
                    f"{tasks:,}",
                    f"{slowest:.1f}",
                    f"{p['parse_seconds']:.1f}",
                    f"{1000 * p['parse_seconds'] / max(p['dags'], 1):.1f}",
                    f"{p['serialize_seconds']:.1f}",
                    str(len(p["import_errors"])),
                    "yes" if slowest < 30 else "[red]NO[/]",
                    f"{p['peak_rss_mb']:,.0f}",
                )
            console.print(pt)
        console.print(
            f"payload = the rows rendered as SQL literals by mysqlclient ({(payload or 0) / MB:,.1f} MB for "
            f"{self.rows:,} rows): MB/s is payload/seconds for every case; 'sent MB' is what the case "
            "itself sent where the bench sees it (statements, or the LOAD DATA file)."
        )

    def payload_of(self, item: dict[str, Any]) -> float | None:
        """The payload bytes of a case's rows: its rows per data type x the ceiling's literal bytes per row."""
        ceiling = self.results.get("ceiling_insert", {}).get("per_type") or {}
        per_row = {n: t["payload_bytes"] / t["rows"] for n, t in ceiling.items() if t.get("rows")}
        per_type = item.get("per_type") or {}
        if not per_row or not per_type or any(n not in per_row for n in per_type):
            return None
        return sum(t.get("rows", 0) * per_row[n] for n, t in per_type.items())

    def notes(self, name: str, item: dict[str, Any]) -> str:
        if name.startswith("transfer_forge"):
            return (
                f"writes: max {item['max_statements_per_second']}/s in any 1 s (<=150), max statement "
                f"{item['max_statement_bytes'] / 1024:,.0f} KiB (<=1024), {item['max_query_seconds_per_minute']:.1f} "
                f"query s/min (<=62.5), {item['statements']:,} statements; with checkpoint updates: max "
                f"{item.get('max_requests_per_second_all', '-')}/s, "
                f"{item.get('max_query_seconds_per_minute_all', 0):.1f} s/min"
            )
        if name == "transfer_parallel":
            return (
                f"{item['processes']} processes; {item['seconds_in_target']:.1f}s in target (summed); "
                f"CPU {item.get('process_cpu_seconds', 0):.0f}s (all 3 processes)"
            )
        if name == "transfer":
            return (
                f"CPU {item.get('process_cpu_seconds', 0):.0f}s; {item['statements']:,} statements, "
                f"max {item['max_statement_bytes'] / 1024:,.0f} KiB, {item['seconds_in_target']:.1f}s in target, "
                f"HTTP {item['http_bytes'] / MB:,.0f} MB"
            )
        if name == "ceiling_insert":
            return f"{item['statements']:,} statements (same sizing as the writer)"
        if name == "ceiling_load_data":
            return f"render {item['render_seconds']:.1f}s + load; REPLACE INTO"
        if name == "validate":
            return f"{item['chunks']:,} chunks, {'remote range-stats' if item['capabilities'] else 'page scan'}"
        if name == "dlt":
            steps = item.get("steps_seconds", {})
            return "dlt " + ", ".join(f"{k} {v:.1f}s" for k, v in steps.items())
        if name.startswith("generic"):
            return "whole table in memory (get_records), commit_every=1000"
        return ""

    def write_json(self, parse: list[dict[str, Any]], ratios: dict[str, Any]) -> None:
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
        }
        target.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")

    # main -----------------------------------------------------------------

    def run(self) -> int:
        self.prepare()
        try:
            for case in self.case_specs():
                self.results[case.name] = self.run_case(case)
            if self.args.cprofile:
                self.results["transfer_profiled"] = self.profile()
            if self.args.py_spy:
                self.results["transfer_py_spy"] = self.py_spy()
        finally:
            if self.remote is not None:
                self.remote.stop()
            if not self.args.keep_databases:
                self.drop_databases()
        parse = [] if self.args.no_parse else self.parse_times()
        ratios = self.ratios()
        self.report(parse)
        self.write_json(parse, ratios)
        failed = [n for n, r in self.results.items() if r.get("failed") or not r.get("verified", {}).get("ok")]
        if failed:
            print(f"bench: failed or unverified cases: {', '.join(failed)} (logs in {LOG_DIR})")
        print("bench: " + " ".join(f"{k}={_fmt(ratios[k])}" for k in LAST_LINE_KEYS))
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

    def profile(self) -> dict[str, Any]:
        import pstats

        case = CaseSpec(
            "transfer_profiled",
            "transfer, mysql profile, under cProfile (all threads)",
            "transfer_profile",
            [
                sys.executable,
                "-m",
                "include.migration.bench.cases",
                "transfer",
                "--profile",
                "mysql",
                "--profile-out",
                str(WORK_DIR / "transfer.prof"),
            ],
        )
        result = self.run_case(case)
        stats = pstats.Stats(str(WORK_DIR / "transfer.prof"))
        common.PROFILE_ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        with open(common.PROFILE_ARTIFACT, "w", encoding="utf-8") as handle:
            stats.stream = handle  # type: ignore[attr-defined]
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(40)
        _say(f"profile written to {common.PROFILE_ARTIFACT} (raw: {WORK_DIR / 'transfer.prof'}*)")
        return result

    def py_spy(self) -> dict[str, Any]:
        """The transfer under py-spy (sampling, all threads, idle included): collapsed stacks + a summary."""
        tool = shutil.which(self.args.py_spy) or self.args.py_spy
        raw = WORK_DIR / "transfer.py-spy.txt"
        case = CaseSpec(
            "transfer_py_spy",
            "transfer, mysql profile, under py-spy (sampling)",
            "transfer_profile",
            [
                tool,
                "record",
                "--rate",
                "200",
                "--idle",
                "--threads",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--",
                sys.executable,
                "-m",
                "include.migration.bench.cases",
                "transfer",
                "--profile",
                "mysql",
            ],
        )
        result = self.run_case(case)
        if raw.exists():
            summary = summarize_collapsed(raw.read_text(encoding="utf-8"))
            target = common.PROFILE_ARTIFACT.with_name("bench-py-spy.txt")
            target.write_text(summary, encoding="utf-8")
            _say(f"py-spy summary written to {target} (raw stacks: {raw})")
        return result


def summarize_collapsed(text: str, top: int = 30) -> str:
    """Self and inclusive sample shares per function and thread from py-spy's collapsed (raw) stacks."""
    import collections

    per_thread: dict[str, int] = collections.Counter()
    self_samples: dict[tuple[str, str], int] = collections.Counter()
    inclusive: dict[tuple[str, str], int] = collections.Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        n = int(count)
        per_thread[thread] += n
        if frames:
            self_samples[(thread, _short(frames[-1]))] += n
        for name in {_short(f) for f in frames}:
            inclusive[(thread, name)] += n
    lines = []
    for thread, total in per_thread.most_common():
        lines.append(f"== {thread}: {total} samples")
        lines.append("   self%  incl%  function")
        ranked = sorted(((k[1], v) for k, v in self_samples.items() if k[0] == thread), key=lambda kv: -kv[1])[:top]
        for name, n in ranked:
            lines.append(f"  {100 * n / total:5.1f}  {100 * inclusive[(thread, name)] / total:5.1f}  {name}")
        lines.append("")
    return "\n".join(lines)


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.migration.bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=None, help="rows in the data set (default 1,000,000; --quick 10,000)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke mode: fewer parse sizes, short limiter case")
    parser.add_argument("--page-size", type=int, default=None, help="override the data types' page_size (default 500)")
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
