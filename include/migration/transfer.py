"""The transfer loop of one data type: fetch, convert, upsert, checkpoint, repeat.

Rows are written before the checkpoint that covers them, so a crash between
the two replays one page, which the primary-key upsert makes harmless. The next
page is fetched and converted in a background thread while the current one is
written, so the remote and the target work at the same time. The loop stops at
the end of data or when its time budget is spent; an unfinished data type
continues from its checkpoint in the next run.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from include.migration.config import DataTypeSpec, InstallationSpec
from include.migration.conversion import RowConverter
from include.migration.source.client import Page, RemoteClient
from include.migration.source.cursors import cursor_mode
from include.migration.source.paginator import KeysetPaginator
from include.migration.state import StateStore
from include.migration.target.connection import TargetDatabase
from include.migration.target.profiles import TargetProfile
from include.migration.target.writer import TargetUnavailableError, UpsertWriter

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
    rate_share: int = 1,
    clock: Callable[[], float] = time.monotonic,
) -> TransferResult:
    """Copy ``data_type`` from its checkpoint until the end of data or the budget; see module docs."""
    started = clock()
    deadline = started + budget_seconds
    state = StateStore(db)
    row = state.start_data_type(data_type.name, run_id)
    mode = cursor_mode(data_type)
    paginator = KeysetPaginator(
        installation.id, data_type.name, cursor=mode.from_checkpoint(row.checkpoint), max_pages=data_type.max_pages_per_pass
    )
    converter = RowConverter(installation.id, data_type)
    writer = UpsertWriter(db, data_type, profile, installation_id=installation.id, rate_share=rate_share)
    log.info(
        "transfer %s/%s starting after checkpoint %r (budget %.0fs)",
        installation.id, data_type.name, paginator.cursor, budget_seconds,
    )

    def fetch(cursor: Any) -> tuple[Page, list[tuple[Any, ...]]]:
        after, extra = mode.request(cursor)
        page = client.fetch_page(data_type.name, after, data_type.page_size, **extra)
        return page, converter.convert(page.headers, page.data)

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
            pending: concurrent.futures.Future[tuple[Page, list[tuple[Any, ...]]]] | None
            pending = pool.submit(fetch, paginator.cursor)
            try:
                while pending is not None:
                    page, rows = pending.result()
                    pending = None
                    cursor = paginator.advance(mode.row_cursors(rows), mode.page_cursor(page))
                    if not paginator.done and clock() < deadline:
                        pending = pool.submit(fetch, cursor)
                    if rows:
                        writer.write(rows)
                        writer.throttled()  # the checkpoint UPDATE counts against the profile's DML rate too
                        _save_checkpoint(state, installation.id, data_type.name, mode.to_checkpoint(cursor), len(rows))
            finally:
                if pending is not None:
                    pending.cancel()
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
        max_statement_bytes=writer.stats.max_statement_bytes,
    )
    log.info(
        "transfer %s/%s: %d rows in %d pages, %d statements, checkpoint %r, %s",
        installation.id, data_type.name, result.rows, result.pages, result.statements, result.checkpoint,
        "end of data" if result.done else "budget spent, continues next run",
    )
    return result


def _save_checkpoint(state: StateStore, installation_id: str, data_type: str, checkpoint: Any, rows: int) -> None:
    """Persist the checkpoint after its rows; a lost target names where the transfer stands."""
    try:
        state.save_checkpoint(data_type, checkpoint, rows, 1)
    except Exception as exc:
        if type(exc).__name__ not in ("OperationalError", "InterfaceError"):
            raise
        raise TargetUnavailableError(
            f"installation {installation_id!r}, data type {data_type!r}: could not save checkpoint {checkpoint!r} "
            f"after writing its rows: {exc}; a re-run replays this page from the previous checkpoint (the upsert "
            "makes that harmless) once the target is reachable"
        ) from exc
