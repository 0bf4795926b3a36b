"""The errors of a value that does not fit its column, naming installation, data type, key, column and value.

Kept free of pyarrow: the remote client raises them and is imported when DAGs are parsed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from include.migration.errors import FatalError

if TYPE_CHECKING:
    from include.migration.configuration.config import ColumnSpec, DataTypeSpec


class ConversionError(FatalError):
    """A page value cannot be stored in its target column."""

    def __init__(
        self, message: str, *, key: Any = None, column: ColumnSpec | None = None, value: Any = None, why: str = ""
    ) -> None:
        super().__init__(message)
        self.key = key
        self.column = column
        self.value = value
        self.why = why


class HeaderMismatchError(FatalError):
    """The remote's page headers do not match the configured columns."""


def conversion_error(
    installation_id: str, data_type: DataTypeSpec, key: Any, column: ColumnSpec, value: Any, why: str
) -> ConversionError:
    """The error for a value that does not fit its column: installation, data type, key, column, value."""
    return ConversionError(
        f"installation {installation_id!r}, data type {data_type.name!r}, key {key!r}, "
        f"column {column.name!r} ({column.type}): {why}; value {value!r:.120}. "
        "Fix the value at the source or the column type in the configuration, then re-run: "
        "the checkpoint has not moved past this page",
        key=key, column=column, value=value, why=why,
    )
