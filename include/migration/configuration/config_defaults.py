"""The configuration's ``defaults`` block: checked once, split by what it sets, laid under every entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from include.migration.configuration.config import ConfigError, DataTypeSpec, InstallationSpec

DATA_TYPE_DEFAULT_KEYS = ("page_size", "max_pages_per_pass", "lag_seconds", "validation_chunk_rows", "page_format")
INSTALLATION_DEFAULT_KEYS = tuple(f for f in InstallationSpec.model_fields if f != "id")


def split_defaults(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``defaults`` block split into data type defaults and installation defaults."""
    defaults = dict(raw.get("defaults") or {})
    return {k: defaults.pop(k) for k in DATA_TYPE_DEFAULT_KEYS if k in defaults}, defaults


def with_defaults(item: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """An installation entry laid over the defaults, ``{installation}`` in its connection ids filled in."""
    item = dict(item) if isinstance(item, dict) else {}
    merged = {**defaults, **item}
    ident = str(item.get("id", ""))
    for key in ("remote_conn_id", "target_conn_id"):
        if isinstance(merged.get(key), str):
            merged[key] = merged[key].format(installation=ident)
    return merged


def check_defaults(raw: dict[str, Any], origin: Callable[[str], str]) -> None:
    """A ``defaults`` error is reported once, as ``defaults.<field>``, naming the file that set it."""
    block = raw.get("defaults")
    if block is None:
        return
    if not isinstance(block, dict):
        raise ConfigError(f"{origin('defaults')}: defaults: must be a mapping of settings")
    known = set(DATA_TYPE_DEFAULT_KEYS) | set(INSTALLATION_DEFAULT_KEYS)
    for key in block:
        if key not in known:
            raise ConfigError(f"{origin(f'defaults.{key}')}: defaults.{key}: unknown setting; known: {sorted(known)}")
    dt_defaults, inst_defaults = split_defaults(raw)
    probes: list[tuple[type[BaseModel], dict[str, Any]]] = [
        (InstallationSpec, with_defaults({"id": "defaults", "remote_conn_id": "r", "target_conn_id": "t"} | inst_defaults, {})),
        (DataTypeSpec, {"name": "defaults", "primary_key": "id", "columns": [{"name": "id", "type": "bigint"}], **dt_defaults}),
    ]
    for model, probe in probes:
        try:
            model.model_validate(probe)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error.get("loc") else "?"
            raise ConfigError(f"{origin(f'defaults.{field}')}: defaults.{field}: {error.get('msg')}") from None
