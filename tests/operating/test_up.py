"""``make up`` as a dev server: help, taken ports, loopback only, readiness, user connections, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.conftest import ROOT

INSTALLATIONS = ("acme", "globex", "initech")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_prints_help_and_starts_nothing(tmp_path):
    done = subprocess.run(["make", "-s", "up", "ARGS=--help"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "usage: make up" in done.stdout and "--port" in done.stdout and "--remote-port" in done.stdout
    assert "starting" not in done.stdout


def test_a_taken_port_is_named_and_nothing_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "include.migration.commands.up", "--port", str(port), "--remote-port", str(free_port()),
             "--demo-dir", str(tmp_path / "demo")],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 2
    assert re.search(rf"port {port} for the Airflow UI is taken by pid {os.getpid()} .*make up PORT={port + 1}", done.stdout)
    assert not (tmp_path / "demo").exists()


def _runs(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "airflow.db") as conn:
        return dict(conn.execute("SELECT dag_id, state FROM dag_run WHERE state IN ('success', 'failed')").fetchall())


def test_up_serves_on_loopback_keeps_user_connections_and_stops_on_ctrl_c(tmp_path):
    home, demo = tmp_path / "home", tmp_path / "demo"
    demo.mkdir()
    tokens = {i: f"token-{i}" for i in INSTALLATIONS}
    (demo / "tokens.json").write_text(json.dumps(tokens))
    port, remote_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "MIGRATION_CONFIG"))}
    env.update(AIRFLOW_HOME=str(home), PYTHONPATH=str(ROOT))
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    # A connection the user defined for globex (here pointing at the same demo remote) must be kept as it is.
    subprocess.run(
        [airflow, "connections", "add", "migration_remote_globex", "--conn-type", "http", "--conn-host", "127.0.0.1",
         "--conn-port", str(remote_port), "--conn-schema", "http", "--conn-password", tokens["globex"]],
        env=env, check=True, capture_output=True, timeout=120,
    )
    output = tmp_path / "up.out"
    with output.open("wb") as sink:
        up = subprocess.Popen(
            [sys.executable, "-m", "include.migration.commands.up", "--port", str(port), "--remote-port", str(remote_port),
             "--demo-dir", str(demo), "--rows", "300"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while "ready:" not in output.read_text():
            assert up.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(1)
        text = output.read_text()
        assert "using your own connections migration_remote_globex" in text
        tree = [psutil.Process(up.pid), *psutil.Process(up.pid).children(recursive=True)]
        pids = {p.pid for p in tree}
        listening = {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("tcp")
                     if c.pid in pids and c.status == psutil.CONN_LISTEN}
        assert ("127.0.0.1", port) in listening and ("127.0.0.1", remote_port) in listening
        assert {ip for ip, _ in listening} == {"127.0.0.1"}, listening
        # Airflow's components retitle themselves over /proc/PID/environ; the remote keeps it readable.
        environments = [e for c in psutil.Process(up.pid).children() if (e := c.environ())]
        assert environments
        for child_env in environments:
            assert "AIRFLOW_CONN_MIGRATION_REMOTE_GLOBEX" not in child_env
            assert "AIRFLOW_CONN_MIGRATION_REMOTE_ACME" in child_env
        # The DAGs were unpaused only once the remote answered: every first run succeeds.
        while len(_runs(home)) < len(INSTALLATIONS):
            assert time.monotonic() < deadline + 240, (_runs(home), output.read_text())
            time.sleep(2)
        assert _runs(home) == {f"migrate_{i}": "success" for i in INSTALLATIONS}
        # Ctrl-C in a terminal signals the whole foreground process group.
        tree = [psutil.Process(up.pid), *psutil.Process(up.pid).children(recursive=True)]
        stopped_at = time.monotonic()
        os.killpg(up.pid, signal.SIGINT)
        _gone, alive = psutil.wait_procs(tree, timeout=10)
        assert not alive, [p.cmdline() for p in alive]
        assert time.monotonic() - stopped_at < 10
        assert up.wait(timeout=1) == 0
        assert "stopped" in output.read_text()
    finally:
        if up.poll() is None:
            for process in [psutil.Process(up.pid), *psutil.Process(up.pid).children(recursive=True)]:
                process.kill()
    config = (home / "airflow.cfg").read_text()
    assert re.search(r"^load_examples = False$", config, flags=re.MULTILINE), "examples enabled in airflow.cfg"


def test_the_make_airflow_home_never_loads_examples():
    assert re.search(r"^load_examples = False$", (ROOT / ".airflow" / "airflow.cfg").read_text(), flags=re.MULTILINE)
