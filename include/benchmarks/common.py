"""Names, paths and small helpers shared by the bench runner and its case subprocesses.

Isolation: the bench only ever creates, empties or drops MariaDB databases named
``bench_*`` and the PostgreSQL database ``bench_source``; its Airflow home,
configuration, logs and scratch files live under ``/tmp/bench`` (``BENCH_WORK_DIR``).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = Path(os.environ.get("BENCH_WORK_DIR", "/tmp/bench"))
AIRFLOW_HOME = WORK_DIR / "airflow"
LOG_DIR = WORK_DIR / "logs"
RESULT_DIR = WORK_DIR / "results"
CONFIG_TEMPLATE = BENCH_DIR / "bench_config.yaml"
CONFIG_PATH = WORK_DIR / "config.yaml"
PLAN_PATH = WORK_DIR / "plan.json"
ARTIFACT = ROOT / ".test-artifacts" / "bench.json"
PROFILE_ARTIFACT = ROOT / ".test-artifacts" / "bench-profile.txt"
DLT_VENV = ROOT / ".bench-venv-dlt"
DLT_REQUIREMENTS = BENCH_DIR / "dlt-requirements.txt"
PG_OVERLAY = ROOT / ".bench-airflow-postgres"
PG_OVERLAY_REQUIREMENTS = BENCH_DIR / "generic-requirements.txt"

# Database names start with this (``BENCH_DB_PREFIX``): the test suite's smoke run keeps to its own.
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "bench")
if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", DB_PREFIX):
    raise SystemExit(f"BENCH_DB_PREFIX must match [a-z][a-z0-9_]{{0,30}}, got {DB_PREFIX!r}")
SOURCE_DB = f"{DB_PREFIX}_source"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "root"
PG_ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
PG_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={SOURCE_DB}"
SOURCE_URL = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{SOURCE_DB}"
MARIADB: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "passwd": ""}

MAIN_INSTALLATION = "bench"
SMALL_INSTALLATION = "bench_small"
SMALL_ROWS = 100_000
# How the rows of an installation are spread over the data types: most rows are narrow events.
SHARES = {"narrow": 0.5, "medium": 0.3, "wide": 0.2}

_DB_NAME = re.compile(rf"^{DB_PREFIX}_[a-z0-9_]{{1,58}}$")


def say(message: str) -> None:
    """A progress line of the bench run, timestamped and flushed at once."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def bench_database(name: str) -> str:
    """A MariaDB database name of the bench (``<prefix>_<name>``, ``bench_`` by default); anything else is refused."""
    full = name if name.startswith(f"{DB_PREFIX}_") else f"{DB_PREFIX}_{name}"
    if not _DB_NAME.match(full):
        raise ValueError(f"not a bench database name: {full!r}")
    return full


def rows_per_type(total: int, names: list[str]) -> dict[str, int]:
    """Split ``total`` rows over the data types by :data:`SHARES`; the first type takes the rounding."""
    counts = {n: int(total * SHARES.get(n, 1 / len(names))) for n in names[1:]}
    counts = {names[0]: total - sum(counts.values()), **counts}
    return counts


def load_template() -> dict[str, Any]:
    return yaml.safe_load(CONFIG_TEMPLATE.read_text(encoding="utf-8"))


def write_config(installations: list[str], page_size: int | None) -> Path:
    """The bench's migration configuration (data types of the template + these installations)."""
    raw = load_template()
    if page_size:
        raw.setdefault("defaults", {})["page_size"] = page_size
    raw["installations"] = [{"id": i} for i in installations]
    CONFIG_PATH.parent.mkdir(parents=True, exist_ok=True)
    CONFIG_PATH.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return CONFIG_PATH


def mysql_conn_json(database: str, **extra: Any) -> str:
    """An Airflow MySQL connection (``AIRFLOW_CONN_*`` JSON) to a bench database."""
    body: dict[str, Any] = {
        "conn_type": "mysql",
        "host": MARIADB["host"],
        "port": MARIADB["port"],
        "login": MARIADB["user"],
        "schema": bench_database(database),
    }
    if extra:
        body["extra"] = extra
    return json.dumps(body)


def http_conn_json(port: int, token: str) -> str:
    return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http", "password": token})


def postgres_conn_json() -> str:
    return json.dumps(
        {"conn_type": "postgres", "host": PG_HOST, "port": PG_PORT, "login": PG_USER, "schema": SOURCE_DB}
    )


def mariadb_connect(database: str | None = None, **kwargs: Any) -> Any:
    import MySQLdb

    conn = MySQLdb.connect(
        **MARIADB, db=bench_database(database) if database else "", charset="utf8mb4", autocommit=True, **kwargs
    )
    conn.query("SET time_zone = '+00:00'")
    return conn


def reset_database(name: str) -> str:
    """Drop and recreate a ``bench_*`` MariaDB database (utf8mb4_bin, like the package's targets)."""
    database = bench_database(name)
    conn = mariadb_connect()
    try:
        conn.query(f"DROP DATABASE IF EXISTS `{database}`")
        conn.query(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    finally:
        conn.close()
    return database


def read_plan() -> dict[str, Any]:
    return json.loads(PLAN_PATH.read_text(encoding="utf-8"))


def write_result(path: str | os.PathLike[str], result: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(result, default=str, indent=1), encoding="utf-8")


def max_in_window(times: list[float], window: float) -> int:
    """The most events whose start lies within any ``window`` seconds (sorted or not)."""
    ordered = sorted(times)
    best, low = 0, 0
    for high, t in enumerate(ordered):
        while ordered[low] <= t - window:
            low += 1
        best = max(best, high - low + 1)
    return best


def max_busy_in_window(records: list[tuple[float, float]], window: float) -> float:
    """The most statement seconds (``(start, duration)``) started within any ``window`` seconds."""
    ordered = sorted(records)
    best, low, total = 0.0, 0, 0.0
    for start, duration in ordered:
        total += duration
        while ordered[low][0] <= start - window:
            total -= ordered[low][1]
            low += 1
        best = max(best, total)
    return best


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started
