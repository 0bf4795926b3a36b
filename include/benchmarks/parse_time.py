"""DAG-file parse time with many configured installations (one subprocess per size).

    MIGRATION_CONFIG=/tmp/bench/parse/config_1000.yaml python -m include.benchmarks.parse_time --out R.json

Parses every DAG file of ``dags/`` the way the dag-processor does: each file in a fresh process
forked from one that has already imported Airflow (its import time is reported apart), so no file
profits from what another one loaded or cached. Files are parsed one after the other, for
undisturbed figures. Per file: the ``DagBag`` import time that ``dagbag_import_timeout`` limits
(``duration``), and the serialization the dag-processor does next (``serialize_seconds``;
``dag_file_processor_timeout`` limits both).

Reported: ``parse_max_file_seconds`` (also as ``parse_<installations>_s``), the slowest file's
import, which must stay under the 30 s timeout; ``parse_seconds``, the total over all files (what
one parsing cycle costs); and each file's figures in ``file_stats``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import resource
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from include.benchmarks.common import ROOT, load_template, write_result


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


def _parse_file(path: str, out: multiprocessing.connection.Connection) -> None:
    """In the forked child: parse one DAG file, serialize its DAGs, send the figures back."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    started = time.perf_counter()
    bag = DagBag(dag_folder=path, safe_mode=True, load_op_links=False)
    parsed = time.perf_counter()
    serialize_errors = {}
    for dag_id, dag in bag.dags.items():
        try:
            DagSerialization.to_dict(dag)
        except Exception as exc:  # noqa: BLE001 - reported like the dag-processor does, as an import error
            serialize_errors[dag_id] = f"{type(exc).__name__}: {exc}"
    serialized = time.perf_counter()
    stats = bag.dagbag_stats[0] if bag.dagbag_stats else None
    out.send({
        "file": Path(path).name,
        "duration": stats.duration.total_seconds() if stats else parsed - started,
        "wall_seconds": parsed - started,
        "serialize_seconds": serialized - parsed,
        "dags": len(bag.dag_ids),
        "tasks": stats.task_num if stats else 0,
        "dag_ids": sorted(bag.dag_ids),
        "import_errors": {k: str(v)[-500:] for k, v in {**bag.import_errors, **serialize_errors}.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    })
    out.close()


def parse_in_child(path: str) -> dict[str, Any]:
    """One DAG file parsed in a forked child, as the dag-processor parses it."""
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_parse_file, args=(path, send))
    child.start()
    send.close()
    try:
        result: dict[str, Any] = receive.recv()
    except EOFError:
        result = {"file": Path(path).name, "failed": True, "dags": 0, "tasks": 0, "dag_ids": [],
                  "import_errors": {Path(path).name: "the parsing process died"}}
    child.join()
    return result


def summarize(files: list[dict[str, Any]], installations: int | None = None) -> dict[str, Any]:
    """The figures over all files; a DAG id built by two files is reported as an import error."""
    owners: dict[str, list[str]] = {}
    for item in files:
        for dag_id in item["dag_ids"]:
            owners.setdefault(dag_id, []).append(item["file"])
    errors = {k: v for item in files for k, v in item["import_errors"].items()}
    errors.update({dag_id: f"DAG id built by several files: {names}" for dag_id, names in owners.items()
                   if len(names) > 1})
    if installations is None:
        installations = sum(1 for dag_id in owners if dag_id.startswith("migrate_"))
    slowest = max(files, key=lambda f: f.get("duration", 0.0), default=None)
    max_seconds = slowest.get("duration", 0.0) if slowest else 0.0
    return {
        "parse_seconds": sum(f.get("duration", 0.0) for f in files),
        "parse_max_file_seconds": max_seconds,
        f"parse_{installations}_s": max_seconds,
        "slowest_file": slowest["file"] if slowest else None,
        "serialize_seconds": sum(f.get("serialize_seconds", 0.0) for f in files),
        "max_file_with_serialize_seconds": max(
            (f.get("duration", 0.0) + f.get("serialize_seconds", 0.0) for f in files), default=0.0),
        "dag_files": len(files),
        "dags": len(owners),
        "installations": installations,
        "import_errors": errors,
        "file_stats": [{k: v for k, v in f.items() if k != "dag_ids"} for f in files],
        "peak_rss_mb": max((f.get("peak_rss_mb", 0.0) for f in files), default=0.0),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--dag-folder", default=str(ROOT / "dags"))
    parser.add_argument("--installations", type=int, default=None,
                        help="names the parse_<N>_s key (default: the migration DAGs found)")
    args = parser.parse_args()
    began = time.perf_counter()
    # What the dag-processor has loaded before it forks a file's parsing process.
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401
    from airflow.dag_processing.importers import get_importer_registry
    from airflow.serialization.serialized_objects import DagSerialization  # noqa: F401

    imported = time.perf_counter()
    paths = sorted(get_importer_registry().list_dag_files(args.dag_folder, safe_mode=True))
    files = [parse_in_child(path) for path in paths]
    result = {
        "airflow_import_seconds": imported - began,
        "wall_seconds_all_files": time.perf_counter() - imported,
        **summarize(files, args.installations),
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
