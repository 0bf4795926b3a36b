"""MySQL / MariaDB / TiDB error codes: which ones retrying cannot fix, which ones pass, and how to read one."""

from __future__ import annotations

from typing import Any

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


def mysql_error_code(exc: BaseException) -> int | None:
    """The numeric error code of a MySQLdb error, or None."""
    if type(exc).__module__.split(".")[0] not in ("MySQLdb", "_mysql_exceptions"):
        return None
    args: Any = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
