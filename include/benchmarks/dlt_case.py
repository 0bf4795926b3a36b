"""The dlt peer: dlt's REST API source against the reference remote, into MariaDB via dlt's sqlalchemy destination.

Runs with the interpreter of ``.bench-venv-dlt`` (dlt and its pins, see
dlt-requirements.txt), never the project's: it imports nothing from the package.

    .bench-venv-dlt/bin/python include/benchmarks/dlt_case.py --plan PLAN.json --out RESULT.json

Paging follows the contract: the cursor is ``pagination.afterId`` of each page,
sent back as the ``after`` query parameter, until it is null; bearer token auth.
Pages carry ``headers`` + ``data`` (arrays), so each row is zipped with the
configured column names. Column hints give dlt the configured types (decimal
precision and scale, timestamps, JSON kept as JSON), the primary key and
nullability, as a careful dlt user would.

Two settings (``--settings``), written into the result's ``configuration``:

* ``default``: dlt as installed, nothing tuned.
* ``best``: the documented performance levers of dlt 1.31 (docs: "Optimizing dlt"
  and the sqlalchemy destination), see :data:`BEST`.

Either way dlt reads the remote's HTTP API (JSON pages): the rest_api source
fetches one resource's pages one after another, since a cursor paginator only
learns the next cursor from the page before (dlt has no concurrent paging);
``parallelized`` runs the three resources side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from typing import Any

READS = "reads the remote's HTTP API (JSON pages)"

# The best settings found at small scale (see the README's peers section for the figures):
# - three resources extracted in parallel threads (``parallelized``), one per data type;
# - files rotated every FILE_ITEMS rows in extract and normalize, so that normalize's process
#   pool (2 workers: the machine has 2 cores) and load's thread pool get several files each;
# - bigger in-memory buffers than the 5,000-item default, no gzip of the intermediate files;
# - typed-jsonl load files: parquet wrote the JSON columns encoded twice (a JSON string holding
#   the document), and dlt's bulk path for parquet into MySQL, ADBC, needs a driver no package
#   registry ships (without it parquet ends in the same INSERTs after pyarrow's to_pylist);
# - normalize's default start method (fork): spawn re-imports dlt in every worker (~7 s more);
# - append, no primary key or unique index created (dlt's defaults: merge would add
#   DELETE + INSERT from a staging dataset).
FILE_ITEMS = 20_000
BEST: dict[str, str] = {
    "EXTRACT__WORKERS": "3",
    "EXTRACT__MAX_PARALLEL_ITEMS": "20",
    "DATA_WRITER__BUFFER_MAX_ITEMS": "20000",
    "DATA_WRITER__DISABLE_COMPRESSION": "true",
    "EXTRACT__DATA_WRITER__FILE_MAX_ITEMS": str(FILE_ITEMS),
    "NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS": str(FILE_ITEMS),
    "NORMALIZE__WORKERS": "2",
    "LOAD__WORKERS": "6",
}
BEST_FILE_FORMAT = "typed-jsonl"


def _configuration(settings: str, page_size: int) -> dict[str, Any]:
    """The settings in force (dlt reads its own from the environment: anything set outside wins)."""
    levers = {k: os.environ[k] for k in sorted(BEST) if k in os.environ}
    return {
        "settings": settings,
        "reads": READS,
        "page_size": page_size,
        "paginator": "cursor (pagination.afterId -> after): pages of a resource one after another",
        "parallelized_resources": settings == "best",
        "loader_file_format": BEST_FILE_FORMAT if settings == "best" else "typed-jsonl (default)",
        "write_disposition": "append",
        "environment": levers,
    }


def _hint(column: dict[str, Any], is_key: bool) -> dict[str, Any]:
    base = column["type"]["base"]
    hint: dict[str, Any]
    if base in ("bigint", "int"):
        hint = {"data_type": "bigint"}
    elif base == "varchar":
        hint = {"data_type": "text", "precision": column["type"]["length"]}
    elif base == "text":
        hint = {"data_type": "text"}
    elif base == "decimal":
        hint = {"data_type": "decimal", "precision": column["type"]["precision"], "scale": column["type"]["scale"]}
    elif base == "double":
        hint = {"data_type": "double"}
    elif base == "boolean":
        hint = {"data_type": "bool"}
    elif base == "timestamp":
        hint = {"data_type": "timestamp", "precision": 6, "timezone": False}
    elif base == "date":
        hint = {"data_type": "date"}
    elif base == "json":
        hint = {"data_type": "json"}
    else:
        raise AssertionError(base)
    hint["nullable"] = bool(column.get("nullable", True)) and not is_key
    if is_key:
        hint["primary_key"] = True
    return hint


def _zipper(names: list[str]) -> Any:
    """Row array -> record (dlt passes ``meta`` to a map step with a second parameter: keep one)."""

    def to_record(row: list[Any]) -> dict[str, Any]:
        return dict(zip(names, row))

    return to_record


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--installation", default="bench")
    parser.add_argument("--database", default="bench_dlt")
    parser.add_argument("--settings", choices=("default", "best"), default="default")
    args = parser.parse_args()
    with open(args.plan, encoding="utf-8") as handle:
        plan = json.load(handle)
    work = os.path.join(plan["work_dir"], "dlt")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    os.environ.setdefault("DLT_DATA_DIR", work)
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    if args.settings == "best":
        for key, value in BEST.items():
            os.environ.setdefault(key, value)
    import dlt
    from dlt.sources.rest_api import rest_api_source

    installation = args.installation
    token = plan["tokens"][installation]
    resources = []
    for spec in plan["data_types"]:
        to_record = _zipper([c["name"] for c in spec["columns"]])
        resources.append(
            {
                "name": spec["name"],
                "table_name": spec["target_table"],
                "primary_key": spec["primary_key"],
                "write_disposition": "append",
                "columns": {c["name"]: _hint(c, c["name"] == spec["primary_key"]) for c in spec["columns"]},
                "endpoint": {
                    "path": f"{spec['name']}/",
                    "params": {"limit": spec["page_size"]},
                    "data_selector": "data",
                    "headers": {"X-Installation-Id": installation},
                },
                "processing_steps": [{"map": to_record}],
            }
        )
    source = rest_api_source(
        {
            "client": {
                "base_url": f"{plan['remote_url']}/data-migration/",
                "auth": {"type": "bearer", "token": token},
                "paginator": {"type": "cursor", "cursor_path": "pagination.afterId", "cursor_param": "after"},
            },
            "resource_defaults": {"endpoint": {"params": {}}},
            "resources": resources,
        },
        name="bench_remote",
        max_table_nesting=0,
        parallelized=args.settings == "best",
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench_dlt",
        pipelines_dir=os.path.join(work, "pipelines"),
        destination=dlt.destinations.sqlalchemy(
            credentials=f"mysql+mysqldb://root@127.0.0.1:3306/{args.database}?charset=utf8mb4"
        ),
        dataset_name=args.database,
    )
    started = time.perf_counter()
    if args.settings == "best":
        info = pipeline.run(source, loader_file_format=BEST_FILE_FORMAT)
    else:
        info = pipeline.run(source)
    seconds = time.perf_counter() - started
    trace = pipeline.last_trace
    steps = {}
    for step in getattr(trace, "steps", []) or []:
        if step.started_at and step.finished_at:
            steps[step.step] = (step.finished_at - step.started_at).total_seconds()
    counts = {}
    with pipeline.sql_client() as client:
        for spec in plan["data_types"]:
            counts[spec["name"]] = int(client.execute_sql(f"SELECT COUNT(*) FROM `{spec['target_table']}`")[0][0])
    result = {
        "case": "dlt" if args.settings == "default" else "dlt_best",
        "rows": sum(counts.values()),
        "seconds": seconds,
        "steps_seconds": steps,
        "per_type": {name: {"rows": n} for name, n in counts.items()},
        "dlt_version": dlt.__version__,
        "configuration": _configuration(args.settings, plan["page_size"]),
        "has_failed_jobs": bool(getattr(info, "has_failed_jobs", False)),
    }
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, default=str, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
