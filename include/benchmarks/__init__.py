"""``make bench``: the package's transfer measured against the ceiling and the peers (see runner.py)."""
