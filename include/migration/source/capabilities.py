"""The optional capabilities a remote announces in ``status``, named once for the client and the reference remote."""

RANGE_STATS = "range-stats"
ROW_HASHES = "row-hashes"
ARROW_PAGES = "arrow-pages"
STATUS_UPDATES = "status-updates"
REMOTE_WRITES = "remote-writes"
