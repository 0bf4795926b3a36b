"""``[core] hostname_callable`` of the suite's workers: two workers on one machine, told apart.

A task instance's ``hostname`` is the machine's name, the same for both
workers here; each worker process gets ``MIGRATION_WORKER_NAME`` and the task
instances it runs record that name instead.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    return os.environ.get("MIGRATION_WORKER_NAME") or socket.getfqdn()
