"""The source side as seen by the migration: the remote API client and its paginator."""
