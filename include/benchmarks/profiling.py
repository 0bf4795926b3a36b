"""The transfer under a profiler: cProfile of every thread, or py-spy sampling summarized per function and thread."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import Any

from include.benchmarks import common
from include.benchmarks.case_plan import CaseSpec
from include.benchmarks.common import WORK_DIR, say


def run_under_cprofile(run_case: Callable[[CaseSpec], dict[str, Any]]) -> dict[str, Any]:
    """The transfer (mysql profile) under cProfile, all threads; its top functions go to ``PROFILE_ARTIFACT``."""
    import pstats

    case = CaseSpec(
        "transfer_profiled",
        "transfer, mysql profile, under cProfile (all threads)",
        "transfer_profile",
        [
            sys.executable,
            "-m",
            "include.benchmarks.cases",
            "transfer",
            "--profile",
            "mysql",
            "--profile-out",
            str(WORK_DIR / "transfer.prof"),
        ],
    )
    result = run_case(case)
    stats = pstats.Stats(str(WORK_DIR / "transfer.prof"))
    common.PROFILE_ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    with open(common.PROFILE_ARTIFACT, "w", encoding="utf-8") as handle:
        stats.stream = handle  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(40)
    say(f"profile written to {common.PROFILE_ARTIFACT} (raw: {WORK_DIR / 'transfer.prof'}*)")
    return result


def run_under_py_spy(run_case: Callable[[CaseSpec], dict[str, Any]], py_spy: str) -> dict[str, Any]:
    """The transfer under py-spy (sampling, all threads, idle included): collapsed stacks + a summary."""
    tool = shutil.which(py_spy) or py_spy
    raw = WORK_DIR / "transfer.py-spy.txt"
    case = CaseSpec(
        "transfer_py_spy",
        "transfer, mysql profile, under py-spy (sampling)",
        "transfer_profile",
        [
            tool,
            "record",
            "--rate",
            "200",
            "--idle",
            "--threads",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--",
            sys.executable,
            "-m",
            "include.benchmarks.cases",
            "transfer",
            "--profile",
            "mysql",
        ],
    )
    result = run_case(case)
    if raw.exists():
        summary = summarize_collapsed(raw.read_text(encoding="utf-8"))
        target = common.PROFILE_ARTIFACT.with_name("bench-py-spy.txt")
        target.write_text(summary, encoding="utf-8")
        say(f"py-spy summary written to {target} (raw stacks: {raw})")
    return result


def summarize_collapsed(text: str, top: int = 30) -> str:
    """Self and inclusive sample shares per function and thread from py-spy's collapsed (raw) stacks."""
    import collections

    per_thread: dict[str, int] = collections.Counter()
    self_samples: dict[tuple[str, str], int] = collections.Counter()
    inclusive: dict[tuple[str, str], int] = collections.Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        n = int(count)
        per_thread[thread] += n
        if frames:
            self_samples[(thread, _short(frames[-1]))] += n
        for name in {_short(f) for f in frames}:
            inclusive[(thread, name)] += n
    lines = []
    for thread, total in per_thread.most_common():
        lines.append(f"== {thread}: {total} samples")
        lines.append("   self%  incl%  function")
        ranked = sorted(((k[1], v) for k, v in self_samples.items() if k[0] == thread), key=lambda kv: -kv[1])[:top]
        for name, n in ranked:
            lines.append(f"  {100 * n / total:5.1f}  {100 * inclusive[(thread, name)] / total:5.1f}  {name}")
        lines.append("")
    return "\n".join(lines)


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"
