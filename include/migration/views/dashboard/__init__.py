"""The migrations dashboard: a FastAPI app served by the Airflow plugin in ``plugins/``."""

from include.migration.views.dashboard.app import create_dashboard_app

__all__ = ["create_dashboard_app"]
