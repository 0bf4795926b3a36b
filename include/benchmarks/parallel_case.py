"""The DAG's fan-out: one transfer process per data type, all started together."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from include.benchmarks.case_setup import config_and_installation


def transfer_parallel(args: argparse.Namespace) -> dict[str, Any]:
    """The DAG's fan-out: one transfer process per data type, all at once (rate_share = their number)."""
    import subprocess

    from include.migration.target.connection import MySqlTarget
    from include.migration.target.profiles import get_profile
    from include.migration.target.schema import prepare_schema

    config, installation = config_and_installation(args.installation)
    data_types = list(config.data_types_for(installation))
    setup = MySqlTarget.from_conn_id(installation.target_conn_id, get_profile("mysql"))
    prepare_schema(setup, data_types, get_profile("mysql"), installation.id)
    setup.close()
    outs = {spec.name: f"{args.out}.{spec.name}.json" for spec in data_types}
    start_file = f"{args.out}.start"
    for leftover in Path(start_file).parent.glob(Path(start_file).name + "*"):
        leftover.unlink()
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "include.benchmarks.cases",
                "transfer",
                "--out",
                outs[spec.name],
                "--installation",
                installation.id,
                "--profile",
                args.profile,
                "--data-types",
                spec.name,
                "--rate-share",
                str(len(data_types)),
                "--budget",
                str(args.budget),
                "--start-file",
                start_file,
            ]
        )
        for spec in data_types
    ]
    # Start-up (imports, connections) is not timed: every child waits, ready, for one common start.
    while len(list(Path(start_file).parent.glob(Path(start_file).name + ".ready.*"))) < len(children):
        if any(child.poll() not in (None, 0) for child in children):
            break
        time.sleep(0.01)
    began = time.time()
    Path(start_file).touch()
    codes = [child.wait() for child in children]
    if any(codes):
        raise RuntimeError(f"parallel transfers failed: exit codes {codes}")
    parts = {name: json.loads(Path(path).read_text(encoding="utf-8")) for name, path in outs.items()}
    seconds = max(p["finished_at"] for p in parts.values()) - began
    return {
        "rows": sum(p["rows"] for p in parts.values()),
        "seconds": seconds,
        "sent_bytes": sum(p["sent_bytes"] for p in parts.values()),
        "statements": sum(p["statements"] for p in parts.values()),
        "seconds_in_target": sum(p["seconds_in_target"] for p in parts.values()),
        "processes": len(parts),
        "per_type": {name: p["per_type"][name] for name, p in parts.items()},
    }
