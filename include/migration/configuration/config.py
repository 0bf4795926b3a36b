"""The migration configuration's objects: data types, installations and alerts, validated and frozen.

The configuration declares the data types (what to copy and how) and the
installations (whom to copy it for). This module says what a valid one is;
``config_parsing`` validates a loaded mapping into it and ``config_loading``
reads and merges the files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from include.migration.configuration.column_type_parsing import parse_column_type
from include.migration.configuration.identifiers import validate_identifier

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
        """A column type from its configuration text; a ValueError names what is wrong with it."""
        return cls(**parse_column_type(text))

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
