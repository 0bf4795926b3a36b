"""The validation results table each target holds: one row per validation run and data type."""

from __future__ import annotations

from include.migration.configuration.config import ColumnSpec, DataTypeSpec

VALIDATION_TABLE = "_migration_validation"

VALIDATION_TABLE_SPEC = DataTypeSpec(
    name="migration_validation",
    primary_key="validation_id",
    target_table=VALIDATION_TABLE,
    columns=tuple(
        ColumnSpec(name=n, type=t, nullable=nullable)
        for n, t, nullable in [
            ("validation_id", "varchar(400)", False),
            ("run_id", "varchar(255)", True),
            ("data_type", "varchar(128)", False),
            ("green", "boolean", False),
            ("rows_source", "bigint", False),
            ("rows_target", "bigint", False),
            ("chunks", "int", False),
            ("mismatched_chunks", "text", True),
            ("mismatching_keys", "text", True),
            ("repaired_rows", "bigint", False),
            ("deleted_rows", "bigint", False),
            ("method", "varchar(64)", False),
            ("duration_seconds", "double", False),
            ("validated_at", "timestamp", False),
            ("error", "text", True),
            ("checksum", "varchar(20)", True),
            ("final_check", "boolean", True),
        ]
    ),
)
