"""`make bench` keeps working: a 10,000-row smoke run of our own cases, every target verified.

No figure is asserted (the machine is shared and noisy); the peers (GenericTransfer, dlt) are
skipped because they install their own virtualenvs from the package registry.
"""

import json
import os
import re
import subprocess
import sys

from tests.conftest import DB_PREFIX, ROOT

LAST_LINE = re.compile(
    r"^bench: arrow_vs_server=[0-9.]+ json_vs_server=[0-9.]+ fanout_vs_server_n=[0-9.]+ "
    r"validate_vs_transfer=[0-9.]+ transfer_vs_generic_best=n/a transfer_vs_dlt_best=n/a "
    r"rss_1m_vs_100k=[0-9.]+ parse_5000_s=n/a$"
)


def test_a_small_bench_runs_and_verifies_every_case(tmp_path):
    figures = tmp_path / "bench.json"
    env = {
        **os.environ,
        "BENCH_WORK_DIR": str(tmp_path / "work"),
        "BENCH_DB_PREFIX": f"{DB_PREFIX}_bench",
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable, "-m", "include.benchmarks", "--rows", "10000", "--quick", "--no-parse",
        "--skip", "generic_transfer_default", "generic_transfer_best", "dlt_best", "dlt",
        "--json", str(figures),
    ]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert LAST_LINE.match(run.stdout.strip().splitlines()[-1]), run.stdout[-1000:]
    cases = json.loads(figures.read_text())["cases"]
    assert {
        "ceiling_server", "ceiling_server_n", "ceiling_load_data", "transfer", "transfer_json", "transfer_forge_sql",
        "transfer_parallel", "validate",
    } <= set(cases)
    for name, case in cases.items():
        verified = case["verified"]
        assert case["rows"] > 0 and verified["ok"] is True, (name, verified)
        assert verified["per_type"], (name, verified)
        for data_type, side in verified["per_type"].items():
            counts = (side["lost"], side["duplicated"], side["extra"], side["different"])
            assert counts == (0, 0, 0, 0) and side["source_rows"] == side["target_rows"] > 0, (name, data_type, side)
