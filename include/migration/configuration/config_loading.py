"""The configuration files read, merged in order and validated (cached while they are unchanged).

Loading does no I/O beyond reading the files, so DAG parsing can call
:func:`load_config` freely.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml

from include.migration.configuration.config import ConfigError, MigrationConfig
from include.migration.configuration.config_parsing import parse_config

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[3] / "dags" / "migration_config.yaml"
CONFIG_PATH_ENV = "MIGRATION_CONFIG"


def config_paths() -> tuple[Path, ...]:
    """The configuration files in use: ``$MIGRATION_CONFIG`` (``os.pathsep``-separated) or the shipped one."""
    value = os.environ.get(CONFIG_PATH_ENV)
    if not value:
        return (DEFAULT_CONFIG_PATH,)
    return tuple(Path(part) for part in value.split(os.pathsep) if part)


def load_config(path: str | os.PathLike[str] | None = None) -> MigrationConfig:
    """Read and validate the configuration (the files in ``$MIGRATION_CONFIG`` when ``path`` is None).

    Several files are merged in order: a later file's ``data_types`` or
    ``installations`` replace the earlier ones and its ``defaults`` are laid
    over them, so an environment can keep the data types and bring its own
    installations. A wrong installation entry does not fail the load: it is
    kept in ``problems`` (see :func:`~include.migration.configuration.config_parsing.parse_config`).
    """
    paths = (Path(path),) if path is not None else config_paths()
    keys = tuple((str(p.resolve()), p.stat().st_mtime_ns if p.exists() else 0) for p in paths)
    return _load_cached(keys)


@functools.lru_cache(maxsize=8)
def _load_cached(keys: tuple[tuple[str, int], ...]) -> MigrationConfig:
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for path, _mtime in keys:
        raw = _read_yaml(path)
        for key, value in raw.items():
            if key == "defaults" and isinstance(value, dict):
                merged["defaults"] = {**merged.get("defaults", {}), **value}
                origins.update({f"defaults.{k}": path for k in value})
            else:
                merged[key] = value
                origins[key] = path
    return parse_config(merged, source=" + ".join(path for path, _ in keys), strict=False, origins=origins)


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the migration configuration: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping with data_types and installations")
    return raw
