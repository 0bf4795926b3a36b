"""A command run as a measured subprocess: exit status, wall seconds, peak RSS and CPU seconds from ``wait4``."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

from include.benchmarks.common import ROOT


def run_measured(
    argv: list[str], env: dict[str, str], log_path: Path, timeout: float
) -> tuple[int, float, float, float]:
    """Run ``argv``; returns (exit status, wall seconds, peak RSS in MB and CPU seconds of that process, from wait4).

    The peak RSS is the largest of the process and the children it waited for, not their sum.
    """
    with open(log_path, "w", encoding="utf-8") as log:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        return (
            process.returncode,
            time.perf_counter() - started,
            usage.ru_maxrss / 1024,
            usage.ru_utime + usage.ru_stime,
        )
