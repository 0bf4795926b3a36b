"""The package's transfer: ``run_transfer`` end to end (remote -> conversion -> target), measured."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from include.benchmarks.case_setup import config_and_installation, load_arrow
from include.benchmarks.common import Stopwatch, max_busy_in_window, max_in_window
from include.benchmarks.thread_profiler import maybe_profiler
from include.benchmarks.transfer_meters import CountingTarget, count_http_bytes


def transfer(args: argparse.Namespace) -> dict[str, Any]:
    """``run_transfer`` end to end (remote -> conversion -> target) for every data type, one after another."""
    from include.migration.source.client import RemoteClient
    from include.migration.steps.transfer import run_transfer
    from include.migration.target.connection import MySqlTarget
    from include.migration.target.profiles import get_profile
    from include.migration.target.schema import prepare_schema

    load_arrow()
    config, installation = config_and_installation(args.installation)
    data_types = [d for d in config.data_types_for(installation) if not args.data_types or d.name in args.data_types]
    if getattr(args, "page_format", None):
        data_types = [d.model_copy(update={"page_format": args.page_format}) for d in data_types]
    overrides = json.loads(args.profile_overrides) if args.profile_overrides else None
    profile = get_profile(args.profile, overrides)
    # DDL under the mysql profile: forge_sql's 25 DDL/min would only slow the untimed set-up.
    setup = MySqlTarget.from_conn_id(installation.target_conn_id, get_profile("mysql"))
    prepare_schema(setup, data_types, get_profile("mysql"), installation.id)
    setup.close()
    inner = MySqlTarget.from_conn_id(installation.target_conn_id, profile, args.rate_share)
    db = CountingTarget(inner)
    per_type: dict[str, Any] = {}
    http_bytes = requests = 0
    if args.start_file:
        _wait_for_start(args.start_file, args.data_types or [])
    started_at = time.time()
    total = Stopwatch()
    profiler = maybe_profiler(args)
    for spec in data_types:
        client = RemoteClient.from_conn_id(installation.remote_conn_id, installation.id)
        counter = count_http_bytes(client)
        first = len(db.statements)
        watch = Stopwatch()
        result = run_transfer(
            installation=installation,
            data_type=spec,
            client=client,
            db=db,
            profile=profile,
            run_id="bench",
            budget_seconds=args.budget,
        )
        seconds = watch.seconds()
        client.close()
        mine = db.statements[first:]
        per_type[spec.name] = {
            "rows": result.rows,
            "seconds": seconds,
            "pages": result.pages,
            "done": result.done,
            "statements": len(mine),
            "sent_bytes": sum(s[2] for s in mine),
            "max_statement_bytes": max((s[2] for s in mine), default=0),
            "seconds_in_target": sum(s[1] for s in mine),
            "http_bytes": counter[0],
        }
        http_bytes += counter[0]
        requests += counter[1]
    seconds = total.seconds()
    finished_at = time.time()
    if profiler is not None:
        profiler.finish(args.profile_out)
    inner.close()
    records = db.statements
    starts = [s[0] for s in records]
    everything = [(s[0], s[1]) for s in records] + db.others
    return {
        "rows": sum(t["rows"] for t in per_type.values()),
        "seconds": seconds,
        "sent_bytes": sum(s[2] for s in records),
        "statements": len(records),
        "max_statement_bytes": max((s[2] for s in records), default=0),
        "max_statements_per_second": max_in_window(starts, 1.0),
        "max_query_seconds_per_minute": max_busy_in_window([(s[0], s[1]) for s in records], 60.0),
        "other_requests": len(db.others),
        "seconds_in_other_requests": sum(o[1] for o in db.others),
        "max_requests_per_second_all": max_in_window([e[0] for e in everything], 1.0),
        "max_query_seconds_per_minute_all": max_busy_in_window(everything, 60.0),
        "seconds_in_target": sum(s[1] for s in records),
        "http_bytes": http_bytes,
        "http_requests": requests,
        "profile": profile.name,
        "profile_overrides": overrides or {},
        "started_at": started_at,
        "finished_at": finished_at,
        "done": all(t["done"] for t in per_type.values()),
        "per_type": per_type,
    }


def _wait_for_start(start_file: str, names: Sequence[str]) -> None:
    """Set-up done: say so, then wait for the common start signal (parallel transfers start together)."""
    Path(f"{start_file}.ready.{'-'.join(names) or 'all'}").touch()
    deadline = time.monotonic() + 600
    while not Path(start_file).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no start signal {start_file} within 600 s")
        time.sleep(0.005)
