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
from typing import Any

from include.migration.config import ConfigError
from include.migration.errors import FatalError, MigrationError, RetryableError
from include.migration.identifiers import IdentifierError

log = logging.getLogger(__name__)

# MySQL / MariaDB / TiDB error codes that retrying cannot fix, with what they mean and what to do.
TARGET_PERMANENT: dict[int, tuple[str, str]] = {
    1044: ("access denied to the database", "grant the connection's user access to this database"),
    1045: ("access denied: wrong user or password", "fix the login and password of the connection"),
    1049: ("the database does not exist", "create the database, or fix the connection's schema"),
    1142: ("the user lacks a privilege for this statement", "grant the user CREATE, ALTER, SELECT, INSERT, UPDATE, DELETE"),
    1146: ("a table does not exist", "trigger a new run (prepare_target creates the tables) or check the table name"),
    1054: ("a column does not exist", "trigger a new run (prepare_target adds columns) or check the column name"),
    2005: ("the host name does not resolve", "fix the connection's host"),
}
# Codes worth retrying: the server is busy, restarting or unreachable for now.
TARGET_TRANSIENT: dict[int, str] = {
    1040: "too many connections",
    1053: "the server is shutting down",
    1205: "lock wait timeout",
    1213: "deadlock",
    2002: "cannot connect (socket)",
    2003: "cannot connect: is the server running and reachable?",
    2006: "the server went away",
    2013: "lost the connection during a query",
    2055: "lost the connection",
}


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


def mysql_error_code(exc: BaseException) -> int | None:
    """The numeric error code of a MySQLdb error, or None."""
    if type(exc).__module__.split(".")[0] not in ("MySQLdb", "_mysql_exceptions"):
        return None
    args: Any = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


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
