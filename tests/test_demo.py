"""`make demo` keeps working: the demo module run as a process, on a small data set."""

import os
import re
import subprocess
import sys

from tests.conftest import ROOT


def test_demo_migrates_every_installation(airflow_db):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_") and k != "MIGRATION_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "include.migration.demo", "--rows", "700"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo OK" in done.stdout
    # rows at source and rows in target, for 3 installations x 3 data types
    assert len(re.findall(r"│\s+700 │\s+700 │", done.stdout)) == 9
