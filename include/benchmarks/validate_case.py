"""Full validation of a transfer's target: ``validate_data_type``, counts and chunk checksums on both sides."""

from __future__ import annotations

import argparse
from typing import Any

from include.benchmarks.case_setup import config_and_installation, load_arrow
from include.benchmarks.common import Stopwatch


def validate(args: argparse.Namespace) -> dict[str, Any]:
    """Full validation (validate_data_type: counts and chunk checksums on both sides) of a transfer's target."""
    from include.migration.source.client import RemoteClient
    from include.migration.steps.validation.validator import validate_data_type
    from include.migration.target.connection import MySqlTarget
    from include.migration.target.profiles import get_profile

    load_arrow()
    config, installation = config_and_installation(args.installation)
    profile = get_profile(args.profile)
    db = MySqlTarget.from_conn_id(installation.target_conn_id, profile)
    client = RemoteClient.from_conn_id(installation.remote_conn_id, installation.id)
    capabilities = list(client.status().get("capabilities") or [])
    per_type: dict[str, Any] = {}
    total = Stopwatch()
    for spec in config.data_types_for(installation):
        watch = Stopwatch()
        result = validate_data_type(
            installation_id=installation.id,
            spec=spec,
            client=client,
            capabilities=capabilities,
            db=db,
            profile=profile,
            grace_seconds=0.0,
        )
        per_type[spec.name] = {
            "rows": result.rows_target,
            "rows_source": result.rows_source,
            "seconds": watch.seconds(),
            "green": result.green,
            "chunks": result.chunks,
            "method": result.method,
            "repaired_rows": result.repaired_rows,
            "deleted_rows": result.deleted_rows,
        }
    seconds = total.seconds()
    client.close()
    db.close()
    return {
        "rows": sum(t["rows"] for t in per_type.values()),
        "seconds": seconds,
        "green": all(t["green"] for t in per_type.values()),
        "chunks": sum(t["chunks"] for t in per_type.values()),
        "capabilities": capabilities,
        "per_type": per_type,
    }
