"""Reference implementation of the remote (source) side of the migration API.

A FastAPI service over any SQLAlchemy-reachable source database
(:func:`create_app`), a helper to run it in a background thread
(:func:`serve_in_thread`), the creation of missing source tables
(:func:`init_source`), a deterministic seeder (:func:`seed_source`) and
source mutations for tests and the demo (:func:`insert_rows`,
:func:`update_rows`, :func:`delete_rows`).
"""

from include.reference_remote.app import CAPABILITIES, create_app
from include.reference_remote.mutations import delete_rows, insert_rows, update_rows
from include.reference_remote.seed import generate_rows, seed_source
from include.reference_remote.server import RunningServer, serve_in_thread
from include.reference_remote.source_schema import SourceSchema, build_source_metadata, init_source

__all__ = [
    "CAPABILITIES",
    "RunningServer",
    "SourceSchema",
    "build_source_metadata",
    "create_app",
    "delete_rows",
    "generate_rows",
    "init_source",
    "insert_rows",
    "seed_source",
    "serve_in_thread",
    "update_rows",
]
