"""The package's exception hierarchy, classified by what should happen next."""

from __future__ import annotations


class MigrationError(Exception):
    """Base class: a migration step failed; the message names installation and data type."""


class RetryableError(MigrationError):
    """A transient failure (network, 429, 5xx); retrying the same request may succeed."""


class FatalError(MigrationError):
    """A failure that retrying cannot fix (bad input, 4xx, broken pagination)."""
