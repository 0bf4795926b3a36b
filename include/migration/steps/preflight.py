"""Pre-flight checks: will this migration fit the target profile? Fail before copying, not half-way.

Checks the profile's table quota, the widest possible row of each data type
against the row limit, and (from one sample page and the source's row count)
the bytes the copy will store against the profile's storage quota.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from include.migration.configuration.config import ColumnType, DataTypeSpec
from include.migration.source.capabilities import RANGE_STATS
from include.migration.source.client import RemoteClient
from include.migration.source.cursors import cursor_mode
from include.migration.source.page_formats import page_converter, resolve_page_format
from include.migration.target.connection import TargetDatabase
from include.migration.target.profiles import TargetProfile
from include.migration.target.schema import QuotaError, check_quotas

_FIXED_BYTES = {"bigint": 8, "int": 4, "double": 8, "boolean": 1, "timestamp": 8, "date": 3}
# Stored size over the statement size of the same rows: row headers, the primary key index, page fill.
STORAGE_OVERHEAD = 1.5


def widest_row_bytes(spec: DataTypeSpec) -> int | None:
    """The most bytes one row can take (utf8mb4), or None when a JSON column makes it unbounded."""
    total = 0
    for column in spec.columns:
        kind: ColumnType = column.type
        if kind.base == "json":
            return None
        if kind.base == "varchar":
            total += 4 * (kind.length or 0) + 2
        elif kind.base == "text":
            total += 65_535 + 2
        elif kind.base == "decimal":
            total += (kind.precision or 0) // 2 + 2
        else:
            total += _FIXED_BYTES[kind.base]
    return total


def check_rows_fit(data_types: Sequence[DataTypeSpec], profile: TargetProfile, installation_id: str) -> None:
    """A data type whose widest row exceeds the profile's row limit cannot be stored: fail now."""
    if profile.max_row_bytes is None:
        return
    for spec in data_types:
        widest = widest_row_bytes(spec)
        if widest is not None and widest > profile.max_row_bytes:
            raise QuotaError(
                f"installation {installation_id!r}, data type {spec.name!r}: a row can take {widest:,} bytes, over the "
                f"{profile.name!r} row limit of {profile.max_row_bytes:,}; narrow its columns"
            )


def estimate_storage(
    client: RemoteClient, db: TargetDatabase, spec: DataTypeSpec, installation_id: str
) -> dict[str, Any]:
    """Rows at the source (when the remote can count) and the bytes they will take in the target."""
    mode = cursor_mode(spec)
    after, extra = mode.request(None)
    page_format = resolve_page_format(spec, client)
    page = client.fetch_page(spec.name, after, spec.page_size, page_format=page_format, **extra)
    table = page_converter(installation_id, spec)(page)
    sizes = db.render_table(table, spec.columns).sizes if table.num_rows else []
    average = sum(sizes) / len(sizes) if sizes else 0.0
    count = None
    if RANGE_STATS in (client.status().get("capabilities") or []):
        count = int(client.range_stats(spec.name, None, None)["count"])
    elif page.after_id is None:
        count = table.num_rows  # the whole data type fits in the sample page
    estimate = int(count * average * STORAGE_OVERHEAD) if count is not None else None
    return {"data_type": spec.name, "rows_at_source": count, "average_row_bytes": round(average, 1), "estimated_bytes": estimate}


def run_preflight(
    *,
    installation_id: str,
    data_types: Sequence[DataTypeSpec],
    profile: TargetProfile,
    db: TargetDatabase,
    client: RemoteClient | None,
) -> dict[str, Any]:
    """All checks; raises :class:`QuotaError` on the first violation, else returns the report."""
    check_quotas(db, data_types, profile, installation_id)
    check_rows_fit(data_types, profile, installation_id)
    report: dict[str, Any] = {"installation": installation_id, "profile": profile.name, "data_types": []}
    if client is None:
        return report
    estimates = [estimate_storage(client, db, spec, installation_id) for spec in data_types]
    report["data_types"] = estimates
    known = [e["estimated_bytes"] for e in estimates if e["estimated_bytes"] is not None]
    report["estimated_bytes"] = sum(known) if len(known) == len(estimates) else None
    if profile.max_stored_bytes is not None and known and sum(known) > profile.max_stored_bytes:
        parts = ", ".join(
            f"{e['data_type']} {e['estimated_bytes'] / 2**20:,.1f} MiB" for e in estimates if e["estimated_bytes"]
        )
        raise QuotaError(
            f"installation {installation_id!r}: the copy needs about {sum(known) / 2**20:,.1f} MiB ({parts}), "
            f"over the {profile.name!r} storage quota of {profile.max_stored_bytes / 2**20:,.1f} MiB; nothing was copied"
        )
    return report
