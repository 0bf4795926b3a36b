"""The migrations dashboard inside Airflow: served by the API server under /migrations/, linked as "Migrations".

Importing this module builds the FastAPI app and nothing else: no connection is
opened and no target read until someone requests the page.
"""

import sys
from pathlib import Path

_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
if _PROJECT_ROOT not in sys.path:  # plain Airflow puts only dags/ and plugins/ on the path
    sys.path.append(_PROJECT_ROOT)

from airflow.plugins_manager import AirflowPlugin  # noqa: E402
from fastapi import Depends  # noqa: E402

from include.migration.views.dashboard import create_dashboard_app  # noqa: E402
from include.migration.views.dashboard.auth import require_airflow_user  # noqa: E402

URL_PREFIX = "/migrations"

dashboard_app = create_dashboard_app(dependencies=[Depends(require_airflow_user)])


class MigrationsDashboardPlugin(AirflowPlugin):
    """Registers the dashboard app and its navigation entry."""

    name = "migrations_dashboard"
    fastapi_apps = [{"app": dashboard_app, "url_prefix": URL_PREFIX, "name": "Migrations dashboard"}]
    external_views = [
        {
            "name": "Migrations",
            "href": f"{URL_PREFIX}/",
            # With a url_route the UI shows the page inside Airflow (at /plugin/migrations) instead of leaving it.
            "url_route": "migrations",
            "destination": "nav",
            "category": "browse",
        }
    ]
