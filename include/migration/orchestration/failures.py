"""Errors classed by what happens next, with messages a person can act on.

Permanent errors (a value that does not fit, a broken header or pagination
contract, a 4xx from the remote, access denied / unknown database / unknown
table on the target, a configuration error, a row too large) cannot be fixed
by trying again: :func:`classify` turns them into :class:`FatalError`\\ s that
name the installation, data type, connection id and host/database (never a
password) and say what to do; the task wrapper fails such a task at once,
without retries. Transient errors (network, 5xx, 429, a lost connection, lock
wait, deadlock) become :class:`RetryableError`\\ s and are retried as before.
"""

from __future__ import annotations

import dataclasses
import logging

from include.migration.configuration.config import ConfigError
from include.migration.configuration.identifiers import IdentifierError
from include.migration.errors import FatalError, MigrationError, RetryableError
from include.migration.target.error_codes import TARGET_PERMANENT, TARGET_TRANSIENT, mysql_error_code

log = logging.getLogger(__name__)

class TargetConfigurationError(FatalError):
    """The target refused us in a way only a person can fix (credentials, database, privileges, schema)."""


class TargetConnectionError(RetryableError):
    """The target is unreachable or busy for now; the task is retried."""


class ConfigurationError(FatalError):
    """The migration configuration or an Airflow connection is missing or wrong."""


@dataclasses.dataclass(frozen=True)
class Scope:
    """Where a task works: named in every message it produces."""

    installation_id: str
    data_type: str | None = None
    target_conn_id: str | None = None
    remote_conn_id: str | None = None

    def where(self) -> str:
        text = f"installation {self.installation_id!r}"
        return text + (f", data type {self.data_type!r}" if self.data_type else "")


def describe_connection(conn_id: str) -> str:
    """``conn_id`` with its host, port, schema and login as Airflow resolves it (never the password)."""
    try:
        from airflow.sdk.bases.hook import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - the description must never fail the error it describes
        return f"connection {conn_id!r}"
    place = f"{conn.conn_type or '?'}://{conn.host or ''}{f':{conn.port}' if conn.port else ''}/{conn.schema or ''}"
    user = f", user {conn.login!r}" if conn.login else ""
    return f"connection {conn_id!r} ({place}{user})"


def classify(exc: BaseException, scope: Scope) -> BaseException:
    """The error a task should raise for ``exc``: classified and named, or ``exc`` itself when already clear."""
    if isinstance(exc, MigrationError):
        return exc
    if isinstance(exc, (ConfigError, IdentifierError)):
        return ConfigurationError(f"{scope.where()}: invalid configuration: {exc}")
    if type(exc).__name__ == "AirflowNotFoundException":
        return ConfigurationError(
            f"{scope.where()}: {exc}; define it with `airflow connections add`, an AIRFLOW_CONN_* variable or your "
            "secrets backend (see README, Pointing it at a real source and target)"
        )
    code = mysql_error_code(exc)
    if code is None:
        return exc
    where = describe_connection(scope.target_conn_id) if scope.target_conn_id else "the target"
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    if code in TARGET_PERMANENT:
        meaning, todo = TARGET_PERMANENT[code]
        return TargetConfigurationError(
            f"{scope.where()}: target {where}: {meaning} (MySQL error {code}: {message}); {todo}. Not retried: "
            "retrying cannot fix this"
        )
    if code in TARGET_TRANSIENT:
        return TargetConnectionError(
            f"{scope.where()}: target {where}: {TARGET_TRANSIENT[code]} (MySQL error {code}: {message}); retried"
        )
    return exc


def is_permanent(error: BaseException) -> bool:
    """Whether retrying the task cannot help."""
    return isinstance(error, FatalError)
