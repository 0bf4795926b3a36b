"""What every case does before its clock starts: its configuration and installation, imports paid up front."""

from __future__ import annotations

from typing import Any


def config_and_installation(installation_id: str) -> tuple[Any, Any]:
    """The configuration in use (``$MIGRATION_CONFIG``) and the installation ``installation_id`` of it."""
    from include.migration.configuration.config_loading import load_config

    config = load_config()
    return config, config.installation(installation_id)


def load_arrow() -> None:
    """Imports before the clock starts, as in every case: pyarrow loads pandas on its first conversion of a
    Python value (~0.9 s, once per process), which a worker pays once, not per page."""
    import pyarrow as pa

    import include.migration.values.canonical  # noqa: F401
    import include.migration.values.literals  # noqa: F401
    import include.migration.values.pages  # noqa: F401

    pa.array([0])
