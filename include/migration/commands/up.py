"""``make up``: a local Airflow over the demo data, to click through the UI and the dashboard.

Starts, on 127.0.0.1 only: the reference remote over a seeded SQLite source,
and Airflow's api-server, scheduler (LocalExecutor), dag-processor and
triggerer. It waits until the remote and the api-server answer before it
unpauses the demo DAGs, so no first run fails with "connection refused".
Ctrl-C stops every process it started. Component logs go to
``$AIRFLOW_HOME/up-logs/``.

Connections: the demo sets ``AIRFLOW_CONN_*`` only for connection ids that
are neither in the environment nor in Airflow's metadata database; a
connection you defined is used as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DEMO_DIR = ROOT / ".demo" / "up"
STOP_SECONDS = 5.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make up",
        description="A local Airflow over the demo data (UI, dashboard, hourly DAGs), bound to 127.0.0.1. "
        "Ctrl-C stops everything.",
        epilog="From make: make up PORT=8081 REMOTE_PORT=8001 FRESH=1, or make up ARGS=--help.",
    )
    parser.add_argument("--port", type=int, default=8080, help="the Airflow UI / API port (default 8080)")
    parser.add_argument("--remote-port", type=int, default=8000, help="the reference remote's port (default 8000)")
    parser.add_argument("--fresh", action="store_true", help="empty the demo targets first, so the migration starts over")
    parser.add_argument("--demo-dir", type=Path, default=DEFAULT_DEMO_DIR, help="where the demo source and targets live")
    parser.add_argument("--rows", type=int, default=5_000, help="rows per installation and data type when seeding")
    return parser


def port_owner(port: int) -> str | None:
    """None when 127.0.0.1:``port`` is free, else a description of who holds it."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return None
        except OSError:
            pass
    import psutil

    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                process = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({' '.join(process.cmdline())[:80]})"
    return "another process"


def installation_statuses(demo_dir: Path, installations: Sequence[str]) -> dict[str, str]:
    """The migration status each demo target records (``-`` where it has none yet)."""
    statuses = {}
    for ident in installations:
        path = demo_dir / f"target_{ident}.db"
        status = "-"
        if path.exists():
            with contextlib.closing(sqlite3.connect(path)) as conn, contextlib.suppress(sqlite3.Error):
                row = conn.execute("SELECT status FROM _migration_state WHERE job_id = '__DATA_MIGRATION__'").fetchone()
                status = row[0] if row else "-"
        statuses[ident] = status
    return statuses


def defined_connection_ids() -> set[str]:
    """Connection ids in Airflow's metadata database."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return set(session.scalars(select(Connection.conn_id)))


def demo_connections(config, demo_dir: Path, remote_port: int, tokens: dict[str, str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """``AIRFLOW_CONN_*`` values of the demo installations: the remote on loopback, SQLite targets."""
    values = {}
    for installation in config.enabled_installations:
        values[installation.remote_conn_id] = json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": remote_port, "schema": "http",
             "password": tokens[installation.id]}
        )
        values[installation.target_conn_id] = json.dumps(
            {"conn_type": "sqlite", "host": str(demo_dir / f"target_{installation.id}.db")}
        )
    return values


class Processes:
    """The processes ``make up`` started, each in its own session so that only we decide how they stop."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it open
        self.started[name] = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.started.items() if p.poll() is not None}

    def stop(self, seconds: float = STOP_SECONDS) -> None:
        """SIGTERM everything (tasks included), SIGKILL what is left after ``seconds``."""
        import psutil

        tree: list[psutil.Process] = []
        for process in self.started.values():
            with contextlib.suppress(psutil.Error):
                parent = psutil.Process(process.pid)
                tree += [parent, *parent.children(recursive=True)]
        for member in tree:
            with contextlib.suppress(psutil.Error):
                member.terminate()
        _gone, alive = psutil.wait_procs(tree, timeout=seconds)
        for member in alive:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(alive, timeout=2)
        for process in self.started.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered (e.g. 401 without a token)
    except OSError:
        return False


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as answer:
            health = json.loads(answer.read())
    except (OSError, ValueError):
        return False
    return all((health.get(p) or {}).get("status") == "healthy" for p in ("metadatabase", "scheduler", "dag_processor", "triggerer"))


def _say(message: str) -> None:
    print(f"make up: {message}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for what, port, variable in (("the Airflow UI", args.port, "PORT"), ("the reference remote", args.remote_port, "REMOTE_PORT")):
        owner = port_owner(port)
        if owner is not None:
            _say(f"port {port} for {what} is taken by {owner}; choose another, e.g. make up {variable}={port + 1}")
            return 2

    os.environ.setdefault("MIGRATION_CONFIG", str(ROOT / "dags" / "migration_config.yaml"))
    from include.migration.commands.settings import load_settings, never_load_examples
    from include.migration.configuration.config_loading import load_config
    from include.migration.orchestration.dag_factory import DAG_ID_PREFIX
    from include.reference_remote.seed import seed_source

    config = load_config()
    installations = [i.id for i in config.enabled_installations]
    demo_dir: Path = args.demo_dir
    demo_dir.mkdir(parents=True, exist_ok=True)
    source = demo_dir / "source.db"
    if not source.exists():
        _say(f"seeding {len(installations)} installations x {args.rows:,} rows per data type into {source}")
        seed_source(f"sqlite:///{source}", config.data_types, installations, args.rows)
    if args.fresh:
        for stale in demo_dir.glob("target_*.db*"):
            stale.unlink()
    statuses = installation_statuses(demo_dir, installations)
    if all(s == "DONE" for s in statuses.values()):
        _say(f"every demo installation ({', '.join(installations)}) is DONE already: their runs stop at check_status "
             "and copy nothing. `make up FRESH=1` empties the demo targets to watch the migration again.")
    tokens_file = demo_dir / "tokens.json"
    if not tokens_file.exists():
        tokens_file.write_text(json.dumps({i: secrets.token_urlsafe(24) for i in installations}))
    tokens: dict[str, str] = json.loads(tokens_file.read_text())

    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    home = Path(env.get("AIRFLOW_HOME") or Path.home() / "airflow")
    env.update({
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(args.port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{args.port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{args.port}/execution/",
    })
    never_load_examples(home)
    defined = defined_connection_ids()
    kept = []
    for conn_id, value in demo_connections(config, demo_dir, args.remote_port, tokens).items():
        variable = f"AIRFLOW_CONN_{conn_id.upper()}"
        if conn_id in defined or variable in os.environ:
            kept.append(conn_id)
        else:
            env[variable] = value
    if kept:
        _say(f"using your own connections {', '.join(sorted(kept))} (the demo sets only the others)")
    # Pools and variables only: the settings file's sample connections are not the demo's.
    load_settings(ROOT / "airflow_settings.yaml", airflow=(str(Path(venv_bin) / "airflow"),), env=env,
                  kinds=("pools", "variables"))

    airflow = str(Path(venv_bin) / "airflow")
    processes = Processes(home / "up-logs")
    interrupted = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        processes.start("remote", [
            sys.executable, "-m", "include.reference_remote", "serve", "--source-url", f"sqlite:///{source}",
            "--config", os.environ["MIGRATION_CONFIG"].split(os.pathsep)[0], "--tokens-file", str(tokens_file),
            "--host", "127.0.0.1", "--port", str(args.remote_port),
        ], env)
        processes.start("api-server", [airflow, "api-server", "--host", "127.0.0.1", "--port", str(args.port)], env)
        processes.start("scheduler", [airflow, "scheduler", "--skip-serve-logs"], env)
        processes.start("dag-processor", [airflow, "dag-processor"], env)
        processes.start("triggerer", [airflow, "triggerer", "--skip-serve-logs"], env)
        _say(f"starting the remote and Airflow (logs in {processes.log_dir}); Ctrl-C stops everything")
        deadline = time.monotonic() + 300
        while not (_answers(f"http://127.0.0.1:{args.remote_port}/data-migration/status") and _healthy(args.port)):
            if interrupted:
                return 130
            if processes.exited():
                _say(f"a component exited while starting: {processes.exited()}; see {processes.log_dir}")
                return 1
            if time.monotonic() > deadline:
                _say(f"Airflow did not become healthy in 300 s; see {processes.log_dir}")
                return 1
            time.sleep(1)
        while subprocess.run([airflow, "dags", "unpause", "--treat-dag-id-as-regex", "-y", f"^{DAG_ID_PREFIX}"],
                             env=env, capture_output=True, text=True).stdout.count(DAG_ID_PREFIX) < len(installations):
            if interrupted:
                return 130
            time.sleep(2)  # the dag-processor has not serialized every DAG yet
        _say(f"ready: Airflow UI http://127.0.0.1:{args.port}/ (dashboard /migrations/), reference remote "
             f"http://127.0.0.1:{args.remote_port}/; the DAGs {', '.join(DAG_ID_PREFIX + i for i in installations)} "
             "are unpaused. Ctrl-C to stop.")
        while not interrupted:
            if processes.exited():
                _say(f"a component exited: {processes.exited()}; stopping; see {processes.log_dir}")
                return 1
            time.sleep(0.5)
        return 0
    finally:
        _say("stopping")
        processes.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _say("stopped")


if __name__ == "__main__":
    sys.exit(main())
