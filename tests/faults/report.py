"""The fault report: one row per case, written to ``.test-artifacts/fault-report.md``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.conftest import ROOT

REPORT_PATH = ROOT / ".test-artifacts" / "fault-report.md"
RECOVERED = "recovered"
FAILED_CLEANLY = "failed cleanly"


@dataclasses.dataclass(frozen=True)
class CaseRecord:
    """How one fault case ended and what the target held afterwards."""

    case: str
    outcome: str
    rows_source: int
    rows_target: int
    rows_lost: int
    rows_duplicated: int
    detail: str = ""


RECORDS: list[CaseRecord] = []

_COLUMNS = ("case", "outcome", "rows at source", "rows in target", "rows lost", "rows duplicated", "detail")


def render(records: list[CaseRecord]) -> str:
    """The report as a Markdown table."""
    lines = [
        "# Fault report",
        "",
        "Every case ends recovered (the target equals the source) or failed cleanly (a clear error, then a",
        "re-run without the fault recovers). Rows are counted after recovery.",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join("---" if i < 2 or i == 6 else "---:" for i in range(len(_COLUMNS))) + "|",
    ]
    for r in records:
        cells = (r.case, r.outcome, r.rows_source, r.rows_target, r.rows_lost, r.rows_duplicated, r.detail)
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    lost = sum(r.rows_lost for r in records)
    duplicated = sum(r.rows_duplicated for r in records)
    lines += ["", f"{len(records)} cases; {lost} rows lost, {duplicated} rows duplicated in total."]
    return "\n".join(lines) + "\n"


def write(records: list[CaseRecord], path: Path = REPORT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(records), encoding="utf-8")
    return path
