"""The parse-time bench: each DAG file in its own process; the slowest file and the total reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from include.benchmarks.parse_time import summarize, write_parse_config
from include.migration.orchestration.dag_shards import DAG_FILE_SHARDS
from tests.conftest import ROOT


def _file(name: str, duration: float, dag_ids: list[str], errors: dict[str, str] | None = None) -> dict:
    return {"file": name, "duration": duration, "serialize_seconds": duration / 2, "dags": len(dag_ids),
            "tasks": 3 * len(dag_ids), "dag_ids": dag_ids, "import_errors": errors or {}, "peak_rss_mb": 100.0}


def test_summarize_reports_the_slowest_file_the_total_and_duplicates():
    files = [_file("a.py", 2.0, ["migrate_x", "reverse_x"]), _file("b.py", 5.0, ["migrate_y", "reverse_y"]),
             _file("c.py", 1.0, ["migrate_y"], {"c.py": "boom"})]
    result = summarize(files)
    assert result["parse_max_file_seconds"] == result["parse_2_s"] == 5.0 and result["slowest_file"] == "b.py"
    assert result["parse_seconds"] == 8.0 and result["serialize_seconds"] == 4.0
    assert result["max_file_with_serialize_seconds"] == 7.5
    assert result["dags"] == 4 and result["installations"] == 2 and result["dag_files"] == 3
    assert result["import_errors"] == {"c.py": "boom", "migrate_y": "DAG id built by several files: ['b.py', 'c.py']"}
    assert "dag_ids" not in result["file_stats"][0] and result["file_stats"][1]["tasks"] == 6
    assert summarize(files, installations=5000)["parse_5000_s"] == 5.0


def test_parse_time_parses_every_dag_file_in_its_own_process(tmp_path, airflow_db):
    config = write_parse_config(tmp_path / "config.yaml", 40)
    out = tmp_path / "result.json"
    env = dict(os.environ, MIGRATION_CONFIG=str(config), PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "include.benchmarks.parse_time", "--out", str(out),
                    "--installations", "40"], cwd=ROOT, env=env, check=True, capture_output=True)
    result = json.loads(out.read_text())
    assert result["import_errors"] == {} and result["dags"] == 80 and result["dag_files"] == DAG_FILE_SHARDS
    assert sum(f["dags"] for f in result["file_stats"]) == 80
    assert 0 < result["parse_40_s"] == max(f["duration"] for f in result["file_stats"]) <= result["parse_seconds"]
