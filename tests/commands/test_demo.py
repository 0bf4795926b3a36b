"""`make demo` keeps working: the demo module run as a process, on a small data set."""

import os
import re
import subprocess
import sys

from tests.conftest import ROOT

WIRE_UPDATED_AT_CHECKPOINT = r'checkpoint \{"updated_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", "key": \d+\}'


def test_demo_migrates_every_installation(airflow_db, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_") and k != "MIGRATION_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    demo_dir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "include.migration.commands.demo", "--rows", "700", "--dir", str(demo_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo OK" in done.stdout
    # rows at source and rows in target, for 3 installations x 3 data types
    assert len(re.findall(r"│\s+700 │\s+700 │", done.stdout)) == 9

    # Short: a few progress lines before the table, no Airflow log line on the terminal.
    before_table = done.stdout.split("Migration demo: source against target")[0].splitlines()
    assert len(before_table) < 40, done.stdout
    assert not re.search(r"\[(info|warning|debug)\s*\]", done.stdout + done.stderr), done.stdout[:3000]
    assert done.stderr == ""
    runs = re.findall(r"^run [12] of migrate_\w+: success, [\d,]+ rows copied in \d+\.\ds$", done.stdout, re.M)
    assert len(runs) == 6, done.stdout  # 3 installations x 2 runs, one line each
    # Written back by the pipeline when each installation converged, and read back from the remote.
    assert re.findall(r"^remote status: (\w+) (\w+)$", done.stdout, re.M) == [
        ("acme", "DONE"), ("globex", "DONE"), ("initech", "DONE")]
    # The rollback drill (a change, an insert and a delete in acme's target sent back) and the fleet's verdict.
    assert re.search(r"^reverse sync: acme 3 rows back, validation green$", done.stdout, re.M), done.stdout
    assert re.search(r"^fleet: ready to decommission \(DONE 3\)$", done.stdout, re.M), done.stdout

    # The log file is named and holds Airflow's and the tasks' logs, checkpoints in their wire form.
    log_file = demo_dir / "airflow.log"
    assert f"Airflow and task logs go to {log_file}" in done.stdout
    log = log_file.read_text()
    assert "Marking run <DagRun migrate_acme" in log  # Airflow's own logging
    assert re.search(r"transfer acme/users: 700 rows in \d+ pages, \d+ statements, checkpoint 700, end of data", log)
    assert re.search(rf"transfer acme/issues: 700 rows in \d+ pages, \d+ statements, {WIRE_UPDATED_AT_CHECKPOINT}", log)
    assert re.search(rf"transfer acme/issues starting after {WIRE_UPDATED_AT_CHECKPOINT}", log)  # the second run
    assert "transfer acme/users starting after checkpoint null" in log  # the first run
    transfer_lines = [line for line in log.splitlines() if "[include.migration.steps.transfer]" in line]
    assert len(transfer_lines) >= 36  # 3 installations x 3 data types x 2 runs, a start and an end line each
    assert not [line for line in transfer_lines if "datetime" in line]  # was `(datetime.datetime(...), 7)`
