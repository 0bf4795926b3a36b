"""The migrations dashboard as a FastAPI app: ``GET /`` (the page) and ``GET /api/overview`` (JSON).

Creating the app does no I/O and imports nothing heavy, so the Airflow plugin can
build it at import; each request reads every installation's target afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.params import Depends
from fastapi.responses import HTMLResponse, JSONResponse

from include.migration.views.dashboard.page import render_page

OverviewSource = Callable[[], dict[str, Any]]
_NO_STORE = {"Cache-Control": "no-store"}


def _read_overview() -> dict[str, Any]:
    from include.migration.views.overview import overview_document

    return overview_document()


def create_dashboard_app(
    overview: OverviewSource | None = None, *, dependencies: Sequence[Depends] = ()
) -> FastAPI:
    """The dashboard app; ``overview`` returns the overview document (default: read every target now),
    ``dependencies`` guard every route (the Airflow plugin passes its login check)."""
    source = overview or _read_overview
    app = FastAPI(
        title="Migrations dashboard",
        description="Migration status of every installation, read from each installation's target.",
        dependencies=list(dependencies),
        openapi_url=None,  # no schema or docs pages: two routes, both documented here
    )

    # Plain `def` handlers: FastAPI runs them in its thread pool, so slow targets do not block the loop.
    @app.get("/", response_class=HTMLResponse, summary="The dashboard page")
    def page() -> HTMLResponse:
        return HTMLResponse(render_page(source()), headers=_NO_STORE)

    @app.get("/api/overview", summary="The overview of every installation as JSON")
    def api_overview() -> JSONResponse:
        return JSONResponse(source(), headers=_NO_STORE)

    return app
