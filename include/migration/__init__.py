"""Per-installation migration from a paginated remote SQL API into MySQL-compatible targets."""
