"""What a task works with: its installation's configuration and profile, the target, the lease and the remote."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from include.migration.configuration.config import InstallationSpec, MigrationConfig
from include.migration.configuration.config_loading import load_config
from include.migration.source.client import RemoteClient
from include.migration.target.connection import TargetDatabase, open_target
from include.migration.target.lease import DataTypeLease, LeaseOwner
from include.migration.target.profiles import TargetProfile, get_profile
from include.migration.target.state import data_type_job_id


def resolve(installation_id: str, config: MigrationConfig | None = None) -> tuple[MigrationConfig, InstallationSpec, TargetProfile]:
    """The configuration, the installation and its target profile (with overrides)."""
    config = config or load_config()
    installation = config.installation(installation_id)
    return config, installation, get_profile(installation.target_profile, installation.profile_overrides)


MAX_PARALLEL_TASKS = 3
"""Per installation and run, at most this many per-data-type tasks (transfer, validate, reverse) run at once."""


def parallel_tasks(config: MigrationConfig, installation: InstallationSpec) -> int:
    """How many of the installation's per-data-type tasks may run at once: each connection's share of the target."""
    return min(MAX_PARALLEL_TASKS, max(1, len(config.data_types_for(installation))))


@contextlib.contextmanager
def target_database(installation: InstallationSpec, profile: TargetProfile) -> Iterator[TargetDatabase]:
    """An open connection to the installation's target, closed afterwards.

    It keeps to its share of the profile's statement rate and query-time budget (``target/gate.py``): the
    installation's parallel tasks together stay within the profile.
    """
    db = open_target(installation.target_conn_id, profile, share=_share(installation))
    try:
        yield db
    finally:
        db.close()


def _share(installation: InstallationSpec) -> int:
    return parallel_tasks(load_config(), installation)


def data_type_lease(
    installation: InstallationSpec, profile: TargetProfile, db: TargetDatabase, data_type: str, owner: LeaseOwner
) -> DataTypeLease:
    """The lease that keeps other runs off ``data_type`` while this task works on it (see ``lease.py``)."""
    return DataTypeLease(
        installation_id=installation.id,
        data_type=data_type,
        job_id=data_type_job_id(data_type),
        owner=owner,
        db=db,
        connect=lambda: open_target(installation.target_conn_id, profile, share=_share(installation)),
        wait_seconds=installation.lease_wait_seconds,
    )


@contextlib.contextmanager
def data_type_session(
    installation: InstallationSpec, profile: TargetProfile, data_type: str, owner: LeaseOwner
) -> Iterator[tuple[TargetDatabase, DataTypeLease, RemoteClient]]:
    """The target, the data type's lease (held throughout) and the remote: what every per-data-type task works with."""
    with (
        target_database(installation, profile) as db,
        data_type_lease(installation, profile, db, data_type, owner) as lease,
        remote_client(installation) as client,
    ):
        yield db, lease, client


@contextlib.contextmanager
def remote_client(installation: InstallationSpec) -> Iterator[RemoteClient]:
    """The installation's remote client, closed afterwards."""
    client = RemoteClient.from_conn_id(installation.remote_conn_id, installation.id)
    try:
        yield client
    finally:
        client.close()
