"""Validation and quoting of SQL identifiers that come from configuration.

Identifiers are never taken from remote responses or request text. Anything
outside a conservative character set (backticks, quotes, semicolons, comment
markers, whitespace) is rejected rather than escaped, so a hostile name fails
loudly at configuration time.
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class IdentifierError(ValueError):
    """An identifier from configuration is not safe to use."""


def validate_identifier(name: str, what: str = "identifier") -> str:
    """Return ``name`` when it is a plain identifier of at most 64 characters, else raise."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise IdentifierError(
            f"{what} {name!r} is not allowed: use letters, digits and underscores, "
            "starting with a letter or underscore, at most 64 characters"
        )
    return name


def quote_identifier(name: str, quote: str = "`") -> str:
    """Quote a validated identifier for SQL (backticks for MySQL, double quotes elsewhere)."""
    return f"{quote}{validate_identifier(name)}{quote}"
