"""The peers' own software, installed apart from the project: dlt's virtualenv and GenericTransfer's provider.

Each is rebuilt only when its pinned requirements change.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from include.benchmarks.common import (
    DLT_REQUIREMENTS,
    DLT_VENV,
    PG_OVERLAY,
    PG_OVERLAY_REQUIREMENTS,
    ROOT,
    say,
)


def _uv() -> str:
    """uv: the project's venv's, the running interpreter's (a worktree has no .venv of its own), or on PATH."""
    for candidate in (ROOT / ".venv" / "bin" / "uv", Path(sys.executable).parent / "uv"):
        if candidate.exists():
            return str(candidate)
    return shutil.which("uv") or "uv"


def _ignore_folder(folder: Path) -> None:
    """Keep a bench-made folder out of git without touching the project's .gitignore."""
    marker = folder / ".gitignore"
    if not marker.exists():
        marker.write_text("*\n", encoding="utf-8")


def ensure_dlt_venv() -> str:
    """``.bench-venv-dlt`` with the pins of dlt-requirements.txt; rebuilt when the pins change."""
    python = DLT_VENV / "bin" / "python"
    stamp = DLT_VENV / ".requirements-installed"
    wanted = DLT_REQUIREMENTS.read_text(encoding="utf-8")
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return str(python)
    say(f"creating {DLT_VENV.name} ({', '.join(x for x in wanted.splitlines() if x and not x.startswith('#'))})")
    if not python.exists():
        subprocess.run([_uv(), "venv", "-q", "--python", sys.executable, str(DLT_VENV)], check=True)
    subprocess.run([_uv(), "pip", "install", "-q", "--python", str(python), "-r", str(DLT_REQUIREMENTS)], check=True)
    _ignore_folder(DLT_VENV)
    stamp.write_text(wanted, encoding="utf-8")
    return str(python)


def ensure_postgres_provider() -> str:
    """The postgres provider for GenericTransfer, in its own folder put on that case's PYTHONPATH only."""
    stamp = PG_OVERLAY / ".requirements-installed"
    wanted = PG_OVERLAY_REQUIREMENTS.read_text(encoding="utf-8")
    if stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return str(PG_OVERLAY)
    say(f"installing the postgres provider into {PG_OVERLAY.name}/ (GenericTransfer's source hook)")
    shutil.rmtree(PG_OVERLAY, ignore_errors=True)
    subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--python",
            sys.executable,
            "--target",
            str(PG_OVERLAY),
            "-r",
            str(PG_OVERLAY_REQUIREMENTS),
        ],
        check=True,
    )
    _ignore_folder(PG_OVERLAY)
    stamp.write_text(wanted, encoding="utf-8")
    return str(PG_OVERLAY)
