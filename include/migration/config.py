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
from collections.abc import Callable, Sequence
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


class CompositeKeyUnsupported(ValueError):
    """This part of the package handles single-column keys only."""


class DataTypeSpec(_Frozen):
    """One logical table: its endpoint, key, columns and target table."""

    name: str
    primary_key: str | tuple[str, ...]
    """One key column, or several (a composite key, e.g. a join table's ``[issue_id, label]``)."""
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

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key_names(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError("primary_key: at least one column")
            return value[0] if len(value) == 1 else tuple(value)
        return value

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
        key_names = self.key_names
        if len(set(key_names)) != len(key_names):
            raise ValueError(f"primary_key {list(key_names)} names a column twice")
        for key_name in key_names:
            if key_name not in names:
                raise ValueError(f"primary_key {key_name!r} is not one of the columns {names}")
            key = self.column(key_name)
            if key.type.base not in _KEY_TYPES:
                raise ValueError(f"primary_key {key.name!r} has type {key.type}; keys must be bigint, int or varchar")
        if self.composite_key and self.cursor_mode != "key":
            raise ValueError(f"a composite primary_key {list(key_names)} pages by key: cursor_mode updated_at "
                             "is for single-column keys")
        if self.composite_key and self.soft_delete_column is not None:
            raise ValueError(f"a composite primary_key {list(key_names)} cannot be combined with soft_delete_column")
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
        if any(self.column(k).nullable for k in key_names):
            object.__setattr__(
                self,
                "columns",
                tuple(c.model_copy(update={"nullable": False}) if c.name in key_names else c for c in self.columns),
            )
        return self

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def key_names(self) -> tuple[str, ...]:
        """The key's columns, in key order (one for most data types)."""
        key = self.primary_key
        return key if isinstance(key, tuple) else (key,)

    @property
    def composite_key(self) -> bool:
        return isinstance(self.primary_key, tuple)

    @property
    def key_indexes(self) -> tuple[int, ...]:
        """Where the key's columns are among :attr:`column_names`."""
        names = self.column_names
        return tuple(names.index(k) for k in self.key_names)

    def key_of(self, row: Sequence[Any]) -> Any:
        """A row's key: the value of its key column, or a tuple of them for a composite key."""
        if self.composite_key:
            return tuple(row[i] for i in self.key_indexes)
        return row[self.key_index]

    @property
    def key_column(self) -> ColumnSpec:
        return self.column(self._single_key("key_column"))

    @property
    def key_index(self) -> int:
        return self.column_names.index(self._single_key("key_index"))

    def _single_key(self, what: str) -> str:
        if isinstance(self.primary_key, tuple):
            # A path that has not learnt composite keys yet: fail loudly, never treat one column as the key.
            raise CompositeKeyUnsupported(f"data type {self.name!r}: {what} of a composite primary key "
                                          f"{list(self.primary_key)}")
        return self.primary_key


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
    reverse_sync: bool = False
    """Run ``reverse_<installation>`` hourly (the dual-write period); it can always be triggered by hand."""
    reverse_batch_rows: Annotated[int, Field(ge=1, le=5_000)] = 1_000
    """Rows and deletes per batch sent back to the remote (its remote-writes endpoint takes at most 5,000)."""
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


class FleetSpec(_Frozen):
    """When the whole fleet may be cut over: every enabled installation DONE with a recent green final check."""

    final_check_max_age_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 24.0


class AlertsSpec(_Frozen):
    """Where failure and stalled alerts go; one place for every installation's DAG."""

    email: EmailAlertSpec | None = None
    webhook: WebhookAlertSpec | None = None
    stalled_after_runs: Annotated[int, Field(ge=1)] = 3
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0


class InstallationProblem(_Frozen):
    """An installation entry that is wrong: its DAG fails at once with ``message``; the others are unaffected."""

    index: int
    id: str | None
    enabled: bool = True
    message: str


class MigrationConfig(_Frozen):
    """The whole file: data types and installations, cross-checked.

    ``problems`` holds the installation entries that are wrong (with file, installation and field
    named), kept apart so that one typo does not stop every other installation.
    """

    data_types: tuple[DataTypeSpec, ...]
    installations: tuple[InstallationSpec, ...]
    alerts: AlertsSpec = AlertsSpec()
    fleet: FleetSpec = FleetSpec()
    problems: tuple[InstallationProblem, ...] = ()

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
        raise ConfigError(f"unknown data type {name!r}; configured: {[d.name for d in self.data_types]}")

    def installation(self, installation_id: str) -> InstallationSpec:
        for spec in self.installations:
            if spec.id == installation_id:
                return spec
        for problem in self.problems:
            if problem.id == installation_id:
                raise ConfigError(problem.message)
        raise ConfigError(f"unknown installation {installation_id!r}; configured: {[i.id for i in self.installations]}")

    def data_types_for(self, installation: InstallationSpec) -> tuple[DataTypeSpec, ...]:
        """The data types an installation migrates, in configuration order."""
        if not installation.data_types:
            return self.data_types
        return tuple(self.data_type(name) for name in installation.data_types)

    @property
    def enabled_installations(self) -> tuple[InstallationSpec, ...]:
        return tuple(i for i in self.installations if i.enabled)


_DATA_TYPE_DEFAULT_KEYS = ("page_size", "max_pages_per_pass", "lag_seconds", "validation_chunk_rows", "page_format")
_INSTALLATION_DEFAULT_KEYS = tuple(f for f in InstallationSpec.model_fields if f != "id")


def _installation_defaults(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``defaults`` block split into data type defaults and installation defaults."""
    defaults = dict(raw.get("defaults") or {})
    return {k: defaults.pop(k) for k in _DATA_TYPE_DEFAULT_KEYS if k in defaults}, defaults


def _with_defaults(item: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    item = dict(item) if isinstance(item, dict) else {}
    merged = {**defaults, **item}
    ident = str(item.get("id", ""))
    for key in ("remote_conn_id", "target_conn_id"):
        if isinstance(merged.get(key), str):
            merged[key] = merged[key].format(installation=ident)
    return merged


def _check_defaults(raw: dict[str, Any], origin: Callable[[str], str]) -> None:
    """A ``defaults`` error is reported once, as ``defaults.<field>``, naming the file that set it."""
    block = raw.get("defaults")
    if block is None:
        return
    if not isinstance(block, dict):
        raise ConfigError(f"{origin('defaults')}: defaults: must be a mapping of settings")
    known = set(_DATA_TYPE_DEFAULT_KEYS) | set(_INSTALLATION_DEFAULT_KEYS)
    for key in block:
        if key not in known:
            raise ConfigError(f"{origin(f'defaults.{key}')}: defaults.{key}: unknown setting; known: {sorted(known)}")
    dt_defaults, inst_defaults = _installation_defaults(raw)
    probes: list[tuple[type[BaseModel], dict[str, Any]]] = [
        (InstallationSpec, _with_defaults({"id": "defaults", "remote_conn_id": "r", "target_conn_id": "t"} | inst_defaults, {})),
        (DataTypeSpec, {"name": "defaults", "primary_key": "id", "columns": [{"name": "id", "type": "bigint"}], **dt_defaults}),
    ]
    for model, probe in probes:
        try:
            model.model_validate(probe)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error.get("loc") else "?"
            raise ConfigError(f"{origin(f'defaults.{field}')}: defaults.{field}: {error.get('msg')}") from None


def _describe(error: dict[str, Any], raw: dict[str, Any], prefix_loc: tuple[Any, ...] = ()) -> str:
    loc = [*prefix_loc, *error.get("loc", ())]
    where = ".".join(str(p) for p in loc) or "(top level)"
    prefix = ""
    if len(loc) >= 2 and loc[0] in ("installations", "data_types") and isinstance(loc[1], int):
        items = raw.get(loc[0]) or []
        item = items[loc[1]] if loc[1] < len(items) and isinstance(items[loc[1]], dict) else {}
        label = "installation" if loc[0] == "installations" else "data type"
        key = item.get("id") if loc[0] == "installations" else item.get("name")
        prefix = f"{label} {key!r}: " if key is not None else f"{label} #{loc[1]}: "
    return f"{prefix}{where}: {error.get('msg')}"


def _installation_problem(
    index: int, item: Any, merged: dict[str, Any], data_types: tuple[DataTypeSpec, ...], raw: dict[str, Any], source: str
) -> tuple[InstallationSpec | None, InstallationProblem | None]:
    """One installation entry validated on its own: the spec, or the problem naming file, installation and field."""
    ident = str(item["id"]) if isinstance(item, dict) and item.get("id") is not None else None
    enabled = not (isinstance(item, dict) and item.get("enabled") is False)
    try:
        spec = InstallationSpec.model_validate(merged)
    except ValidationError as exc:
        lines = [_describe(e, raw, ("installations", index)) for e in exc.errors()]
        return None, InstallationProblem(index=index, id=ident, enabled=enabled, message=f"{source}: " + "; ".join(lines))
    known = [d.name for d in data_types]
    unknown = [n for n in spec.data_types if n not in known]
    if unknown:
        message = (f"{source}: installation {spec.id!r}: installations.{index}.data_types: unknown data types {unknown}; "
                   f"configured: {known}")
        return None, InstallationProblem(index=index, id=spec.id, enabled=enabled, message=message)
    return spec, None


def parse_config(
    raw: Any, source: str = "<memory>", *, strict: bool = True, origins: dict[str, str] | None = None
) -> MigrationConfig:
    """Validate an already-loaded mapping; errors name the file, the installation and the field.

    Errors in ``defaults``, ``data_types`` or ``alerts`` concern every installation and raise
    :class:`ConfigError`. An error in one installation's entry raises too when ``strict``; otherwise it
    is kept in ``problems`` and every other installation loads. ``origins`` names the file of each part
    of merged files (``defaults.<key>``, ``data_types``, ``installations``, ``alerts``).
    """
    def origin(part: str) -> str:
        return (origins or {}).get(part) or (origins or {}).get(part.split(".")[0]) or source

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping with data_types and installations")
    unknown = set(raw) - {"defaults", "data_types", "installations", "alerts", "fleet"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level keys {sorted(unknown)}")
    _check_defaults(raw, origin)
    dt_defaults, inst_defaults = _installation_defaults(raw)
    shared = {
        "data_types": [{**dt_defaults, **(d or {})} for d in raw.get("data_types") or []],
        "installations": [],
        **{key: raw[key] for key in ("alerts", "fleet") if key in raw},
    }
    try:
        base = MigrationConfig.model_validate(shared)
    except ValidationError as exc:
        lines = [_describe(e, shared) for e in exc.errors()]
        where = origin("alerts") if all(e["loc"][0] == "alerts" for e in exc.errors()) else origin("data_types")
        raise ConfigError(f"{where}: invalid migration configuration:\n  " + "\n  ".join(lines)) from None
    installations: list[InstallationSpec] = []
    problems: list[InstallationProblem] = []
    items = raw.get("installations") or []
    for index, item in enumerate(items):
        spec, problem = _installation_problem(
            index, item, _with_defaults(item, inst_defaults), base.data_types, raw, origin("installations")
        )
        if spec is not None and any(i.id == spec.id for i in installations):
            problem = InstallationProblem(index=index, id=spec.id, message=(
                f"{origin('installations')}: installation {spec.id!r}: installations.{index}.id: duplicate ids "
                f"[{spec.id!r}]: another entry has the same id"))
            spec = None
        if spec is not None:
            installations.append(spec)
        if problem is not None:
            problems.append(problem)
    if strict and problems:
        raise ConfigError("invalid migration configuration:\n  " + "\n  ".join(p.message for p in problems))
    return base.model_copy(update={"installations": tuple(installations), "problems": tuple(problems)})


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
    kept in ``problems`` (see :func:`parse_config`).
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
