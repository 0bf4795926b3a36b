"""The overview's entries: one installation, its data types, their last validation, throughput window and history."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class ValidationSummary:
    """The newest validation of one data type."""

    green: bool
    validated_at: str | None
    run_id: str | None
    rows_source: int
    rows_target: int
    chunks: int
    mismatched_chunks: int
    repaired_rows: int
    deleted_rows: int
    method: str
    duration_seconds: float


@dataclasses.dataclass(frozen=True)
class ThroughputWindow:
    """The transfers a throughput is measured over (see ``THROUGHPUT_WINDOW``) and what they added up to."""

    transfers: int
    rows: int
    seconds: float
    first_finished_at: str | None
    last_finished_at: str | None

    @property
    def rows_per_second(self) -> float | None:
        """The throughput: rows over seconds (None when no time was measured)."""
        return self.rows / self.seconds if self.seconds > 0 else None


@dataclasses.dataclass(frozen=True)
class DataTypeOverview:
    """One data type of one installation."""

    name: str
    target_table: str
    status: str | None
    rows_target: int | None
    rows_source: int | None
    progress_percent: float | None
    checkpoint: Any
    rows_copied: int | None
    pages_copied: int | None
    created_at: str | None
    updated_at: str | None
    last_validation: ValidationSummary | None
    last_error: str | None
    throughput_rows_per_second: float | None
    throughput_window: ThroughputWindow | None
    eta_seconds: float | None


@dataclasses.dataclass(frozen=True)
class HistoryPoint:
    """One validation record: the target's row count of a data type after a run."""

    validated_at: str | None
    run_id: str | None
    data_type: str
    rows_target: int
    rows_source: int
    green: bool


@dataclasses.dataclass(frozen=True)
class InstallationOverview:
    """One installation; ``error`` is set (and the rest mostly empty) when its target could not be read."""

    id: str
    enabled: bool
    dag_id: str
    target_profile: str
    status: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    run_id: str | None = None
    quiet_passes: int | None = None
    last_error: str | None = None
    rows_target: int | None = None
    rows_source: int | None = None
    progress_percent: float | None = None
    data_types: tuple[DataTypeOverview, ...] = ()
    history: tuple[HistoryPoint, ...] = ()
    error: str | None = None
    failed_run: dict[str, Any] | None = None
    """The installation DAG's most recent run when it failed, from Airflow's metadata: run and failed tasks."""
    validations_for_readiness: dict[str, Any] | None = None
    """Per data type the newest final check and the newest validation (green, when, run): what
    ``fleet.judge_readiness`` judges the cut-over from, without reading the target again."""

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON-able dicts and lists (tuples become lists)."""
        return dataclasses.asdict(self, dict_factory=_json_dict)


def _json_dict(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in items}
