"""DAG-file parse time with many configured installations (one subprocess per size).

    MIGRATION_CONFIG=/tmp/bench/parse/config_1000.yaml python -m include.migration.bench.parse_time --out R.json

Times ``DagBag(dag_folder=dags/)`` as the dag-processor would parse the DAG
file, with Airflow already imported (its import time is reported apart).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import yaml

from include.migration.bench.common import ROOT, load_template, write_result


def write_parse_config(path: Path, installations: int) -> Path:
    """The bench's data types with ``installations`` installations, every 10th on forge_sql."""
    raw = load_template()
    raw["installations"] = [
        {"id": f"tenant{n:05d}", **({"target_profile": "forge_sql"} if n % 10 == 0 else {})}
        for n in range(1, installations + 1)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    began = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    imported = time.perf_counter()
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    parsed = time.perf_counter()
    stats = [
        {"file": str(s.file), "duration": s.duration.total_seconds(), "dags": s.dag_num, "tasks": s.task_num}
        for s in getattr(bag, "dagbag_stats", [])
    ]
    write_result(
        args.out,
        {
            "airflow_import_seconds": imported - began,
            "parse_seconds": parsed - imported,
            "dags": len(bag.dag_ids),
            "import_errors": {k: str(v)[-500:] for k, v in bag.import_errors.items()},
            "file_stats": stats,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
