"""Named target profiles: what a target database accepts, in one place.

Callers never branch on the engine: the writer sizes statements and throttles
requests from the profile, and the dialect (chosen by the profile) renders SQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class TargetProfile:
    """Limits of one kind of target.

    ``max_statement_bytes`` of None means "ask the server" (``max_allowed_packet``),
    capped by ``statement_bytes_cap`` so one statement never holds too much memory.
    """

    name: str
    dialect: Literal["mysql", "sqlite"]
    max_statement_bytes: int | None
    statement_bytes_cap: int = 16 * MIB
    max_rows_per_statement: int = 10_000
    max_bind_parameters: int = 65_535
    max_statements_per_second: float | None = None
    max_ddl_per_minute: float | None = None
    statement_timeout_seconds: float | None = None
    """The longest a statement may run (Forge SQL: 10 s for DML); the server stops it beyond."""
    select_timeout_seconds: float | None = None
    """The longest a SELECT may run (Forge SQL: 5 s)."""
    max_response_bytes: int | None = None
    """The largest answer a query may return (Forge SQL: 4 MiB); validation reads in key ranges sized below it."""
    query_seconds_per_minute: float | None = None
    max_row_bytes: int | None = None
    max_tables: int | None = None
    max_stored_bytes: int | None = None
    supports_transactions: bool = True

    def with_overrides(self, overrides: Mapping[str, float | int | bool]) -> TargetProfile:
        """A copy with some limits changed (from an installation's ``profile_overrides``)."""
        known = {f.name for f in dataclasses.fields(self)} - {"name", "dialect"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"profile {self.name!r}: unknown overrides {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **overrides)  # type: ignore[arg-type]


FORGE_SQL = TargetProfile(
    name="forge_sql",
    dialect="mysql",
    max_statement_bytes=1 * MIB,
    max_rows_per_statement=5_000,
    max_statements_per_second=150.0,
    max_ddl_per_minute=25.0,
    statement_timeout_seconds=10.0,
    select_timeout_seconds=5.0,
    max_response_bytes=4 * MIB,
    query_seconds_per_minute=62.5,
    max_row_bytes=6 * MIB,
    max_tables=200,
    max_stored_bytes=1024 * MIB,
    supports_transactions=False,
)

MYSQL = TargetProfile(name="mysql", dialect="mysql", max_statement_bytes=None)

# SQLite binds at most 32,766 variables per statement; the demo target only.
SQLITE = TargetProfile(
    name="sqlite", dialect="sqlite", max_statement_bytes=64 * MIB, max_bind_parameters=32_766
)

PROFILES: dict[str, TargetProfile] = {p.name: p for p in (FORGE_SQL, MYSQL, SQLITE)}


def get_profile(name: str, overrides: Mapping[str, float | int | bool] | None = None) -> TargetProfile:
    """The named profile, with optional overrides applied."""
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown target profile {name!r}; known: {sorted(PROFILES)}") from None
    return profile.with_overrides(overrides) if overrides else profile
