"""The transfer loop of one data type: fetch, convert, upsert, checkpoint, repeat.

Rows are written before the checkpoint that covers them, so a crash between
the two replays one page, which the primary-key upsert makes harmless. The next
pages are fetched back to back and converted and rendered into statements in
two background stages while the current page is written (``prefetch.py``), so
the remote, the client and the target work at the same time. Pages come as Arrow
when the remote offers them, as JSON otherwise; either becomes one checked Arrow
table (``values/pages.py``) rendered a column at a time. The loop stops at the end of
data or when its time budget is spent; an unfinished data type continues from
its checkpoint in the next run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from include.migration.configuration.config import DataTypeSpec, InstallationSpec
from include.migration.source.client import Page, RemoteClient
from include.migration.source.cursors import cursor_mode
from include.migration.source.page_formats import page_converter, resolve_page_format
from include.migration.source.paginator import KeysetPaginator
from include.migration.steps.heap import page_loop_collection
from include.migration.steps.prefetch import Prefetcher
from include.migration.target.connection import TargetDatabase
from include.migration.target.lease import DataTypeLease, LeaseLostError
from include.migration.target.profiles import TargetProfile
from include.migration.target.state import StateStore
from include.migration.target.writer import PreparedWrite, TargetUnavailableError, UpsertWriter

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TransferResult:
    """What one transfer did; small enough for XCom."""

    installation: str
    data_type: str
    rows: int
    pages: int
    checkpoint: Any
    done: bool
    seconds: float
    statements: int
    rows_written: int
    """Rows in the statements this transfer sent (a replayed page counts again): what it wrote, not what moved."""
    max_statement_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_transfer(
    *,
    installation: InstallationSpec,
    data_type: DataTypeSpec,
    client: RemoteClient,
    db: TargetDatabase,
    profile: TargetProfile,
    run_id: str | None,
    budget_seconds: float,
    lease: DataTypeLease | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TransferResult:
    """Copy ``data_type`` from its checkpoint until the end of data or the budget; see module docs.

    With ``lease`` (held by the caller) every write first checks that the lease is still held and the
    checkpoint moves only under it, so a run that lost the data type to another stops at once.
    """
    started = clock()
    deadline = started + budget_seconds
    state = StateStore(db)
    row = state.start_data_type(data_type.name, run_id)
    mode = cursor_mode(data_type)
    paginator = KeysetPaginator(
        installation.id, data_type.name, cursor=mode.from_checkpoint(row.checkpoint), max_pages=data_type.max_pages_per_pass
    )
    writer = UpsertWriter(db, data_type, profile, installation_id=installation.id)
    page_format = resolve_page_format(data_type, client)
    convert = page_converter(installation.id, data_type)
    # Checkpoints are logged in their wire form, as the state table stores them and set_checkpoints takes them.
    log.info(
        "transfer %s/%s starting after checkpoint %s (budget %.0fs, %s pages)",
        installation.id, data_type.name, json.dumps(mode.to_checkpoint(paginator.cursor), default=str),
        budget_seconds, page_format,
    )

    def fetch(cursor: Any) -> Page:
        after, extra = mode.request(cursor)
        return client.fetch_page(data_type.name, after, data_type.page_size, page_format=page_format, **extra)

    def prepare(page: Page) -> tuple[Page, list[Any], PreparedWrite]:
        batch = convert(page)
        return page, mode.row_cursors(batch), writer.prepare(batch)

    prefetcher: Prefetcher[Page, tuple[Page, list[Any], PreparedWrite]] = Prefetcher(
        start=paginator.cursor,
        fetch=fetch,
        next_cursor=lambda page: mode.page_cursor(page) if page.row_count else None,
        keep_fetching=lambda: clock() < deadline,
        prepare=prepare,
    )
    try:
        with page_loop_collection(), prefetcher as pages:
            for page, row_cursors, prepared in pages:
                # The remote's cursor only steers prefetching; each page is checked here before it is written.
                cursor = paginator.advance(row_cursors, mode.page_cursor(page))
                if row_cursors:
                    if lease is not None:
                        lease.check()
                    writer.send(prepared)
                    _save_checkpoint(
                        state, installation.id, data_type.name, mode.to_checkpoint(cursor), len(row_cursors), lease
                    )
                if paginator.done:
                    break
    except LeaseLostError:
        raise  # another run works on the data type now: its status is that run's to record
    except Exception as exc:
        try:
            state.fail_data_type(data_type.name, f"{type(exc).__name__}: {exc}")
        except Exception as unrecorded:  # noqa: BLE001 - a dead target must not hide the error that killed it
            log.error("transfer %s/%s: could not record the failure: %s", installation.id, data_type.name, unrecorded)
        raise
    result = TransferResult(
        installation=installation.id,
        data_type=data_type.name,
        rows=paginator.rows,
        pages=paginator.pages,
        checkpoint=mode.to_checkpoint(paginator.cursor),
        done=paginator.done,
        seconds=round(clock() - started, 3),
        statements=writer.stats.statements,
        rows_written=writer.stats.rows,
        max_statement_bytes=writer.stats.max_statement_bytes,
    )
    state.record_transfer(data_type.name, run_id, result.rows, result.seconds)
    log.info(
        "transfer %s/%s: %d rows in %d pages, %d statements, checkpoint %s, %s",
        installation.id, data_type.name, result.rows, result.pages, result.statements,
        json.dumps(result.checkpoint, default=str),
        "end of data" if result.done else "budget spent, continues next run",
    )
    return result


def _save_checkpoint(
    state: StateStore, installation_id: str, data_type: str, checkpoint: Any, rows: int, lease: DataTypeLease | None
) -> None:
    """Persist the checkpoint after its rows (under the lease, when held); a lost target names where the transfer stands."""
    try:
        moved = state.save_checkpoint(data_type, checkpoint, rows, 1, lease.fence if lease is not None else None)
    except Exception as exc:
        if type(exc).__name__ not in ("OperationalError", "InterfaceError"):
            raise
        raise TargetUnavailableError(
            f"installation {installation_id!r}, data type {data_type!r}: could not save checkpoint {checkpoint!r} "
            f"after writing its rows: {exc}; a re-run replays this page from the previous checkpoint (the upsert "
            "makes that harmless) once the target is reachable"
        ) from exc
    if not moved and lease is not None:
        raise lease.lost(
            f"installation {installation_id!r}, data type {data_type!r}: another run took the data type over "
            f"before checkpoint {checkpoint!r} was saved; this task stops and leaves the data type to it"
        )
