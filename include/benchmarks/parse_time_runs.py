"""Parse time at scale: a DagBag of ``dags/`` per configuration size, each parsed in a measured subprocess."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from include.benchmarks.common import LOG_DIR, RESULT_DIR, WORK_DIR, say
from include.benchmarks.measure import run_measured


def measure_parse_times(sizes: Sequence[int], base_env: Callable[[], dict[str, str]]) -> list[dict[str, Any]]:
    """For each number of installations in ``sizes``: the parse figures of ``parse_time.py`` and its peak RSS."""
    from include.benchmarks.parse_time import write_parse_config

    out: list[dict[str, Any]] = []
    for size in sizes:
        config = write_parse_config(WORK_DIR / "parse" / f"config_{size}.yaml", size)
        env = base_env()
        env["MIGRATION_CONFIG"] = str(config)
        env["AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT"] = "3600"
        result_path = RESULT_DIR / f"parse_{size}.json"
        result_path.unlink(missing_ok=True)
        say(f"parse time: dags/ with {size:,} installations, file by file")
        status, wall, rss, _cpu = run_measured(
            [sys.executable, "-m", "include.benchmarks.parse_time", "--out", str(result_path),
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
        say(f"parse time: {size:,} installations -> {result['dags']:,} DAGs in {result['dag_files']} files: "
            f"slowest file {result['parse_max_file_seconds']:.1f}s, all files {result['parse_seconds']:.1f}s")
        out.append(result)
    return out
