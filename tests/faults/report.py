"""The fault report: one row per case, written to ``.test-artifacts/fault-report.md``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT

REPORT_PATH = ROOT / ".test-artifacts" / "fault-report.md"
RECOVERED = "recovered"
FAILED_CLEANLY = "failed cleanly"
FAILED = "FAILED"


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
    rows_different: int = 0
    """Keys on both sides whose rows differ in some value, plus copy rows under a key the origin lacks."""


RECORDS: list[CaseRecord] = []


def record_after(record: CaseRecord, assertions: Callable[[], None]) -> CaseRecord:
    """Run the case's last assertions, then record it: as it ended when they pass, as FAILED when one does not."""
    try:
        assertions()
    except BaseException:
        RECORDS.append(dataclasses.replace(record, outcome=FAILED))
        raise
    RECORDS.append(record)
    return record

_COLUMNS = ("case", "outcome", "rows at source", "rows in target", "rows lost", "rows duplicated", "rows different",
            "detail")


def render(records: list[CaseRecord]) -> str:
    """The report as a Markdown table."""
    lines = [
        "# Fault report",
        "",
        "Every case ends recovered (the copy equals its origin) or failed cleanly (a clear error, then a",
        "re-run without the fault recovers). After recovery both sides are read with their own drivers and",
        "every value normalised to text by the tests (not by the package), then compared row by row: lost are",
        "origin keys the copy lacks; different are keys whose rows differ plus copy rows under a key the",
        "origin lacks; duplicated are copy rows beyond one per key plus copy rows repeating an origin row's",
        "values under another key. A case is recorded only once its assertions passed. Reverse-sync cases",
        "(\"reverse:\") count the other way round: the target is the origin, the remote the copy.",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join("---" if i < 2 or i == len(_COLUMNS) - 1 else "---:" for i in range(len(_COLUMNS))) + "|",
    ]
    for r in records:
        cells = (r.case, r.outcome, r.rows_source, r.rows_target, r.rows_lost, r.rows_duplicated, r.rows_different,
                 r.detail)
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    lost = sum(r.rows_lost for r in records)
    duplicated = sum(r.rows_duplicated for r in records)
    different = sum(r.rows_different for r in records)
    lines += ["", f"{len(records)} cases; {lost} rows lost, {duplicated} rows duplicated, {different} rows different "
              "in total."]
    return "\n".join(lines) + "\n"


def write(records: list[CaseRecord], path: Path = REPORT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(records), encoding="utf-8")
    return path
