"""The migration configuration: one YAML file, validated into frozen objects.

The file declares the data types (what to copy and how) and the installations
(whom to copy it for). Loading it does no I/O beyond reading the file, so DAG
parsing can call :func:`load_config` freely.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from include.migration.identifiers import validate_identifier

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "dags" / "migration_config.yaml"
CONFIG_PATH_ENV = "MIGRATION_CONFIG"

_TYPE_PATTERN = re.compile(
    r"^(?P<base>bigint|int|varchar|text|decimal|double|boolean|timestamp|date|json)"
    r"(?:\((?P<args>\d+(?:,\s*\d+)?)\))?$"
)
_KEY_TYPES = {"bigint", "int", "varchar"}


class ConfigError(ValueError):
    """The configuration file is invalid; the message names file, installation and field."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnType(_Frozen):
    """A column's logical type: ``bigint``, ``varchar(255)``, ``decimal(12,2)``, ..."""

    base: Literal["bigint", "int", "varchar", "text", "decimal", "double", "boolean", "timestamp", "date", "json"]
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @classmethod
    def parse(cls, text: str) -> ColumnType:
        match = _TYPE_PATTERN.match(text.strip().lower())
        if not match:
            raise ValueError(
                f"unknown column type {text!r}; expected one of bigint, int, varchar(n), text, "
                "decimal(p,s), double, boolean, timestamp, date, json"
            )
        base, args = match["base"], match["args"]
        numbers = [int(a) for a in args.split(",")] if args else []
        if base == "varchar":
            if len(numbers) != 1 or not 1 <= numbers[0] <= 16383:
                raise ValueError(f"varchar needs one length between 1 and 16383, got {text!r}")
            return cls(base=base, length=numbers[0])
        if base == "decimal":
            if len(numbers) != 2 or not (1 <= numbers[0] <= 65 and 0 <= numbers[1] <= min(30, numbers[0])):
                raise ValueError(f"decimal needs (precision 1-65, scale 0-30 and <= precision), got {text!r}")
            return cls(base=base, precision=numbers[0], scale=numbers[1])
        if numbers:
            raise ValueError(f"type {base} takes no arguments, got {text!r}")
        return cls(base=base)

    def __str__(self) -> str:
        if self.base == "varchar":
            return f"varchar({self.length})"
        if self.base == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.base


class ColumnSpec(_Frozen):
    """One column of a data type, as the remote sends it and the target stores it."""

    name: str
    type: ColumnType
    nullable: bool = True

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return validate_identifier(value, "column")

    @field_validator("type", mode="before")
    @classmethod
    def _parse_type(cls, value: Any) -> Any:
        return ColumnType.parse(value) if isinstance(value, str) else value


class DataTypeSpec(_Frozen):
    """One logical table: its endpoint, key, columns and target table."""

    name: str
    primary_key: str
    columns: tuple[ColumnSpec, ...]
    target_table: str = ""
    source_table: str = ""
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    cursor_mode: Literal["key", "updated_at"] = "key"
    updated_at_column: str | None = None
    lag_seconds: Annotated[float, Field(ge=0)] = 60.0
    soft_delete_column: str | None = None
    max_pages_per_pass: Annotated[int, Field(ge=1)] = 1_000_000
    validation_chunk_rows: Annotated[int, Field(ge=10, le=100_000)] = 2_000
    page_format: Literal["auto", "json", "arrow"] = "auto"
    """``auto``: Arrow pages when the remote announces ``arrow-pages``, JSON otherwise."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", value):
            raise ValueError(f"data type name {value!r} must match [a-z][a-z0-9_]{{0,63}} (it is part of a URL path)")
        return value

    @model_validator(mode="after")
    def _check(self) -> DataTypeSpec:
        if not self.target_table:
            object.__setattr__(self, "target_table", self.name)
        if not self.source_table:
            object.__setattr__(self, "source_table", self.name)
        validate_identifier(self.target_table, "target_table")
        validate_identifier(self.source_table, "source_table")
        if not self.columns:
            raise ValueError("columns: at least one column is required")
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"columns: duplicate column names {duplicates}")
        if self.primary_key not in names:
            raise ValueError(f"primary_key {self.primary_key!r} is not one of the columns {names}")
        key = self.key_column
        if key.type.base not in _KEY_TYPES:
            raise ValueError(f"primary_key {key.name!r} has type {key.type}; keys must be bigint, int or varchar")
        if self.cursor_mode == "updated_at":
            if not self.updated_at_column:
                raise ValueError("cursor_mode updated_at needs updated_at_column")
            if self.updated_at_column not in names or self.column(self.updated_at_column).type.base != "timestamp":
                raise ValueError(f"updated_at_column {self.updated_at_column!r} must be a timestamp column")
        elif self.updated_at_column is not None:
            raise ValueError("updated_at_column is only used with cursor_mode updated_at")
        if self.soft_delete_column is not None:
            if self.soft_delete_column in names:
                raise ValueError(f"soft_delete_column {self.soft_delete_column!r} must not be one of the columns")
            validate_identifier(self.soft_delete_column, "soft_delete_column")
        if key.nullable:
            object.__setattr__(
                self,
                "columns",
                tuple(c.model_copy(update={"nullable": False}) if c.name == key.name else c for c in self.columns),
            )
        return self

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def key_column(self) -> ColumnSpec:
        return next(c for c in self.columns if c.name == self.primary_key)

    @property
    def key_index(self) -> int:
        return self.column_names.index(self.primary_key)


class InstallationSpec(_Frozen):
    """One customer installation: where its data comes from and where it goes."""

    id: str
    enabled: bool = True
    remote_conn_id: str
    target_conn_id: str
    target_profile: Literal["forge_sql", "mysql", "sqlite"] = "mysql"
    profile_overrides: dict[str, float | int | bool] = Field(default_factory=dict)
    data_types: tuple[str, ...] = ()
    transfer_budget_seconds: Annotated[float, Field(gt=0, le=900)] = 840.0
    quiet_passes_required: Annotated[int, Field(ge=1, le=100)] = 1
    validation_grace_seconds: Annotated[float, Field(ge=0, le=600)] = 30.0
    lease_wait_seconds: Annotated[float, Field(ge=0, le=600)] = 30.0
    """How long a run waits for a data type another run is working on before it skips it."""
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    retry_delay_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    """The first retry's delay; later ones back off exponentially (at most 10 minutes)."""

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", value):
            raise ValueError(f"installation id {value!r} must match [A-Za-z0-9][A-Za-z0-9_.-]{{0,99}}")
        return value


class EmailAlertSpec(_Frozen):
    """Failure e-mails through the smtp provider."""

    to: tuple[str, ...]
    smtp_conn_id: str = "smtp_default"
    from_email: str = "airflow-migration@localhost"


class WebhookAlertSpec(_Frozen):
    """Failure webhooks (JSON POST) through the http provider; the connection holds URL and auth."""

    http_conn_id: str
    endpoint: str = ""


class AlertsSpec(_Frozen):
    """Where failure and stalled alerts go; one place for every installation's DAG."""

    email: EmailAlertSpec | None = None
    webhook: WebhookAlertSpec | None = None
    stalled_after_runs: Annotated[int, Field(ge=1)] = 3
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0


class MigrationConfig(_Frozen):
    """The whole file: data types and installations, cross-checked."""

    data_types: tuple[DataTypeSpec, ...]
    installations: tuple[InstallationSpec, ...]
    alerts: AlertsSpec = AlertsSpec()

    @model_validator(mode="after")
    def _check(self) -> MigrationConfig:
        names = [d.name for d in self.data_types]
        if len(set(names)) != len(names):
            raise ValueError(f"data_types: duplicate names {sorted({n for n in names if names.count(n) > 1})}")
        tables = [d.target_table for d in self.data_types]
        if len(set(tables)) != len(tables):
            raise ValueError("data_types: two data types write the same target_table")
        ids = [i.id for i in self.installations]
        if len(set(ids)) != len(ids):
            raise ValueError(f"installations: duplicate ids {sorted({i for i in ids if ids.count(i) > 1})}")
        return self

    def data_type(self, name: str) -> DataTypeSpec:
        for spec in self.data_types:
            if spec.name == name:
                return spec
        raise KeyError(f"unknown data type {name!r}; configured: {[d.name for d in self.data_types]}")

    def installation(self, installation_id: str) -> InstallationSpec:
        for spec in self.installations:
            if spec.id == installation_id:
                return spec
        raise KeyError(f"unknown installation {installation_id!r}")

    def data_types_for(self, installation: InstallationSpec) -> tuple[DataTypeSpec, ...]:
        """The data types an installation migrates, in configuration order."""
        if not installation.data_types:
            return self.data_types
        return tuple(self.data_type(name) for name in installation.data_types)

    @property
    def enabled_installations(self) -> tuple[InstallationSpec, ...]:
        return tuple(i for i in self.installations if i.enabled)


def _apply_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """Fill per-installation and per-data-type fields from the ``defaults`` block."""
    defaults = dict(raw.get("defaults") or {})
    dt_keys = ("page_size", "max_pages_per_pass", "lag_seconds", "validation_chunk_rows", "page_format")
    dt_defaults = {k: defaults.pop(k) for k in dt_keys if k in defaults}
    out = {key: value for key, value in raw.items() if key != "defaults"}
    out["data_types"] = [{**dt_defaults, **(d or {})} for d in raw.get("data_types") or []]
    installations = []
    for item in raw.get("installations") or []:
        item = dict(item or {})
        merged = {**defaults, **item}
        ident = str(item.get("id", ""))
        for key in ("remote_conn_id", "target_conn_id"):
            if isinstance(merged.get(key), str):
                merged[key] = merged[key].format(installation=ident)
        installations.append(merged)
    out["installations"] = installations
    return out


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    loc = list(error.get("loc", ()))
    where = ".".join(str(p) for p in loc) or "(top level)"
    prefix = ""
    if len(loc) >= 2 and loc[0] in ("installations", "data_types") and isinstance(loc[1], int):
        items = raw.get(loc[0]) or []
        item = items[loc[1]] if loc[1] < len(items) and isinstance(items[loc[1]], dict) else {}
        label = "installation" if loc[0] == "installations" else "data type"
        key = item.get("id") if loc[0] == "installations" else item.get("name")
        prefix = f"{label} {key!r}: " if key is not None else f"{label} #{loc[1]}: "
    return f"{prefix}{where}: {error.get('msg')}"


def parse_config(raw: Any, source: str = "<memory>") -> MigrationConfig:
    """Validate an already-loaded mapping; errors name ``source``, the installation and the field."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping with data_types and installations")
    unknown = set(raw) - {"defaults", "data_types", "installations", "alerts"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level keys {sorted(unknown)}")
    prepared = _apply_defaults(raw)
    try:
        return MigrationConfig.model_validate(prepared)
    except ValidationError as exc:
        lines = [_describe(e, prepared) for e in exc.errors()]
        raise ConfigError(f"{source}: invalid migration configuration:\n  " + "\n  ".join(lines)) from None


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
    installations.
    """
    paths = (Path(path),) if path is not None else config_paths()
    keys = tuple((str(p.resolve()), p.stat().st_mtime_ns if p.exists() else 0) for p in paths)
    return _load_cached(keys)


@functools.lru_cache(maxsize=8)
def _load_cached(keys: tuple[tuple[str, int], ...]) -> MigrationConfig:
    merged: dict[str, Any] = {}
    for path, _mtime in keys:
        raw = _read_yaml(path)
        for key, value in raw.items():
            if key == "defaults" and isinstance(value, dict):
                merged["defaults"] = {**merged.get("defaults", {}), **value}
            else:
                merged[key] = value
    return parse_config(merged, source=" + ".join(path for path, _ in keys))


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
