"""Which page format to ask a remote for, and any page it answers with as one checked Arrow table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from include.migration.configuration.config import DataTypeSpec
from include.migration.source.arrow_pages import ARROW_PAGES
from include.migration.source.client import Page, RemoteClient

if TYPE_CHECKING:
    import pyarrow as pa


def resolve_page_format(data_type: DataTypeSpec, client: RemoteClient) -> str:
    """``json`` or ``arrow``: the data type's ``page_format``, ``auto`` deciding by the remote's capabilities."""
    if data_type.page_format != "auto":
        return data_type.page_format
    capabilities = client.status().get("capabilities") or []
    return "arrow" if ARROW_PAGES in capabilities else "json"


def page_converter(installation_id: str, data_type: DataTypeSpec) -> Callable[[Page], pa.Table]:
    """Page -> checked Arrow table, whatever format the remote answered in (a proxy may drop ``format``)."""
    # Imported here: pyarrow stays out of DAG parsing, which imports the transfer.
    from include.migration.values.pages import PageConverter

    converter = PageConverter(installation_id, data_type)

    def convert(page: Page) -> pa.Table:
        return converter.table(page.table) if page.table is not None else converter.rows(page.headers, page.data)

    return convert
