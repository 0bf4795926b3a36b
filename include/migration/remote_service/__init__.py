"""Reference implementation of the remote (source) side of the migration API.

A FastAPI service over any SQLAlchemy-reachable source database
(:func:`create_app`), a helper to run it in a background thread
(:func:`serve_in_thread`) and a deterministic seeder (:func:`seed_source`).
"""

from include.migration.remote_service.app import create_app
from include.migration.remote_service.seed import generate_rows, seed_source
from include.migration.remote_service.server import RunningServer, serve_in_thread
from include.migration.remote_service.source_schema import SourceSchema, build_source_metadata

__all__ = [
    "RunningServer",
    "SourceSchema",
    "build_source_metadata",
    "create_app",
    "generate_rows",
    "seed_source",
    "serve_in_thread",
]
