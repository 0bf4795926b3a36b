"""Pages -> checked Arrow tables: an Arrow page as it is, a JSON page's rows decoded into columns.

Both go through the same column checks (``checks.fit_column``); the output has
the configured columns in configured order, in their checked types, ready for
the SQL literals, the row hashes and the cursors. A value that does not fit
fails the page with a :class:`~include.migration.values.errors.ConversionError`
naming the installation, data type, key, column and value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from include.migration.configuration.config import ColumnSpec, DataTypeSpec
from include.migration.values.checks import Unfit, fit_column
from include.migration.values.errors import ConversionError, HeaderMismatchError, conversion_error
from include.migration.values.json_columns import json_texts, natural_array, single_value_array
from include.migration.values.types import checked_type, wire_type

# The Arrow types an Arrow page may carry each base type as.
_ARROW_ACCEPTS = {
    "bigint": pa.types.is_integer,
    "int": pa.types.is_integer,
    "varchar": lambda k: pa.types.is_string(k) or pa.types.is_large_string(k),
    "text": lambda k: pa.types.is_string(k) or pa.types.is_large_string(k),
    "json": lambda k: pa.types.is_string(k) or pa.types.is_large_string(k),
    "decimal": lambda k: pa.types.is_decimal(k) or pa.types.is_integer(k),
    "double": lambda k: pa.types.is_floating(k) or pa.types.is_integer(k),
    "boolean": pa.types.is_boolean,
    "timestamp": pa.types.is_timestamp,
    "date": pa.types.is_date,
}


class PageConverter:
    """Checks the pages of one data type of one installation."""

    def __init__(self, installation_id: str, data_type: DataTypeSpec) -> None:
        self.installation_id = installation_id
        self.data_type = data_type
        self._names = list(data_type.column_names)
        self._order_cache: dict[tuple[str, ...], tuple[int, ...]] = {}

    def column_order(self, headers: Sequence[str]) -> tuple[int, ...]:
        """Positions of the configured columns within the page headers; fails on any mismatch."""
        key = tuple(headers)
        cached = self._order_cache.get(key)
        if cached is not None:
            return cached
        expected = self.data_type.column_names
        missing = [c for c in expected if c not in key]
        extra = [h for h in key if h not in expected]
        duplicated = sorted({h for h in key if key.count(h) > 1})
        if missing or extra or duplicated:
            raise HeaderMismatchError(
                f"installation {self.installation_id!r}, data type {self.data_type.name!r}: page headers "
                f"{list(key)} do not match the configured columns {list(expected)} "
                f"(missing {missing}, unexpected {extra}, duplicated {duplicated}); "
                "update the data type's columns in the configuration or fix the remote"
            )
        order = tuple(key.index(c) for c in expected)
        self._order_cache[key] = order
        return order

    def table(self, page: pa.Table) -> pa.Table:
        """An Arrow page's columns in configured order, checked and cast."""
        order = self.column_order(page.column_names)
        misfits = _Misfits(self)
        arrays = []
        for position, column in zip(order, self.data_type.columns):
            values = page.column(position)
            values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
            if not _ARROW_ACCEPTS[column.type.base](values.type):
                raise HeaderMismatchError(
                    f"installation {self.installation_id!r}, data type {self.data_type.name!r}: column "
                    f"{column.name!r} ({column.type}) arrives as Arrow type {values.type}, expected "
                    f"{wire_type(column.type)}; fix the remote or the column type in the configuration"
                )
            with misfits.column(column):
                arrays.append(fit_column(values, column))
        misfits.raise_first(lambda index: self.data_type.key_of(
            {i: page.column(order[i])[index].as_py() for i in self.data_type.key_indexes}))
        return pa.Table.from_arrays(arrays, names=self._names)

    def rows(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
        """A JSON page's rows (lists in header order) as a checked table."""
        order = self.column_order(headers)
        width = len(headers)
        for row_number, row in enumerate(rows):
            if type(row) is not list or len(row) != width:
                raise ConversionError(
                    f"installation {self.installation_id!r}, data type {self.data_type.name!r}: row {row_number} "
                    f"of the page has {len(row) if isinstance(row, (list, tuple)) else type(row).__name__} values, "
                    f"expected {width}"
                )
        columns = list(zip(*rows)) if rows else [()] * width
        misfits = _Misfits(self)
        arrays = []
        for position, column in zip(order, self.data_type.columns):
            with misfits.column(column):
                arrays.append(self._json_column(columns[position], column))
        misfits.raise_first(lambda index: self.data_type.key_of(
            {i: rows[index][order[i]] for i in self.data_type.key_indexes}))
        return pa.Table.from_arrays(arrays, names=self._names)

    def _json_column(self, values: Sequence[Any], column: ColumnSpec) -> pa.Array:
        if not values:
            return pa.array([], checked_type(column.type))
        if column.type.base == "json":
            return fit_column(json_texts(values), column, json_checked=True)
        natural = natural_array(values, column)
        if natural is not None:
            return fit_column(natural, column)
        # Values of mixed JSON kinds: each checked on its own, by the same checks.
        fitted = []
        for index, value in enumerate(values):
            try:
                fitted.append(fit_column(single_value_array(value, column), column))
            except Unfit as unfit:
                raise Unfit(index, unfit.why, value) from None
        return pa.concat_arrays(fitted)



class _Misfits:
    """The values of a page that do not fit, one per column; the page fails on the first in row order."""

    def __init__(self, converter: PageConverter) -> None:
        self._converter = converter
        self._found: list[tuple[int, int, ColumnSpec, Unfit]] = []

    @contextlib.contextmanager
    def column(self, column: ColumnSpec) -> Iterator[None]:
        try:
            yield
        except Unfit as unfit:
            self._found.append((unfit.index, len(self._found), column, unfit))

    def raise_first(self, key_at: Callable[[int], Any]) -> None:
        if not self._found:
            return
        index, _, column, unfit = min(self._found, key=lambda found: found[:2])
        converter = self._converter
        raise conversion_error(
            converter.installation_id, converter.data_type, key_at(index), column, unfit.value, unfit.why
        )


def table_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """A checked table as row tuples (for drivers that bind values instead of taking SQL text)."""
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*columns))
