"""What landed in a case's target, checked after the case in the runner's process (never in its time or memory).

Every target is compared with the source value by value (``value_compare``):
the source rows read straight from PostgreSQL, the target rows straight from
MariaDB, each value normalised to a reviewer's text by its configured column
type (``reviewer_text``), nothing taken from the package's own hashing. The
same comparison serves the package's transfers, the ceilings and the peers
(only the configured columns are compared, so dlt's ``_dlt_load_id`` and
``_dlt_id`` do not count). Modes (``CaseSpec.verify``):

- ``values``: every source row of the installation against every target row;
- ``prefix``: the source rows up to the checkpoint the target's
  ``_migration_state`` holds (a budget-limited transfer), for the data types
  the case copied;
- ``green``: the validate case: its own result green, and its target (the
  transfer's) compared as in ``values``.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import time
from typing import Any

from include.benchmarks import common
from include.benchmarks.case_plan import CaseSpec
from include.benchmarks.value_compare import (
    ColumnShape,
    ComparisonError,
    TableShape,
    compare_table,
    connect_target,
)

STATE_TABLE = "_migration_state"
KINDS = ("lost", "duplicated", "extra", "different")


def table_shape(spec: Any) -> TableShape:
    """A data type's tables and columns (from the bench's configuration) as the comparator takes them."""
    key = spec.primary_key if isinstance(spec.primary_key, tuple) else (spec.primary_key,)
    columns = tuple(ColumnShape(c.name, c.type.base, c.type.scale) for c in spec.columns)
    return TableShape(spec.source_table, spec.target_table, tuple(key), columns)


def _compare_one(shape: TableShape, installation: str, database: str, up_to: Any) -> dict[str, Any]:
    """One table's comparison as a dict (in a worker process); an impossible comparison is an error, never a pass."""
    started = time.perf_counter()
    target = {k: v for k, v in common.MARIADB.items()} | {"db": database}
    try:
        compared = compare_table(
            shape, source_dsn=common.PG_DSN, installation_id=installation, target=target, up_to=up_to
        ).as_dict()
    except Exception as error:  # noqa: BLE001 - any failure (ComparisonError included) is reported as unverified
        compared = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    compared["seconds"] = round(time.perf_counter() - started, 2)
    return compared


class Verifier:
    """Verifies each case's target against the source database; keeps the run's totals for :meth:`total_line`."""

    def __init__(self, remote: Any, data_types: list[Any], plan_rows: dict[str, dict[str, int]]) -> None:
        self.remote = remote  # kept for the runner's signature; the comparison reads PostgreSQL directly
        self.data_types = data_types
        self.plan_rows = plan_rows
        self.totals = {"cases": 0, "rows": 0, **{k: 0 for k in KINDS}, "unverified": []}

    def verify(self, case: CaseSpec, result: dict[str, Any]) -> dict[str, Any]:
        """The case's ``verified``: {ok, method, summary, seconds, per_type}; the modes in the module docstring."""
        started = time.perf_counter()
        database = common.bench_database(case.database) if case.database else None
        if database is None:
            return {"ok": False, "method": "none", "summary": "no target database", "seconds": 0.0, "per_type": {}}
        specs = self.data_types
        bounds: dict[str, Any] = {}
        if case.verify == "prefix":
            specs = [s for s in specs if s.name in result.get("per_type", {})]
            try:
                bounds = self._checkpoints(database, [s.name for s in specs])
            except ComparisonError as error:
                return {"ok": False, "method": "prefix", "summary": f"NOT VERIFIED: {error}", "seconds": 0.0,
                        "per_type": {}}
        # The costliest tables first, so the two workers finish together.
        cost = {s.name: self.plan_rows[case.installation].get(s.name, 0) * len(s.columns) for s in specs}
        per_type = self._compare(case.installation, database, sorted(specs, key=lambda s: -cost[s.name]), bounds)
        per_type = {s.name: per_type[s.name] for s in specs if s.name in per_type}
        ok = bool(per_type) and all(p["ok"] for p in per_type.values())
        if case.verify in ("values", "green"):
            seeded = self.plan_rows[case.installation]
            for spec in specs:
                side = per_type[spec.name]
                if side.get("source_rows") != seeded[spec.name]:
                    side["ok"] = ok = False
                    side["error"] = f"source holds {side.get('source_rows')} rows, seeded {seeded[spec.name]}"
        method = "source (PostgreSQL) vs target (MariaDB) value by value, as a reviewer's text per column type"
        if case.verify == "prefix":
            method += ", source keys up to the target's checkpoint"
        summary = self._summary(per_type, ok)
        if case.verify == "green":
            green = bool(result.get("green"))
            ok = ok and green
            method = "validate_data_type green; its target " + method
            summary = ("green; " if green else "RED; ") + summary
        self._count(case.name, per_type, ok)
        return {
            "ok": ok,
            "method": method,
            "summary": summary,
            "seconds": round(time.perf_counter() - started, 2),
            "per_type": per_type,
        }

    def _compare(
        self, installation: str, database: str, specs: list[Any], bounds: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """Each data type's comparison, two tables at a time (separate processes: the normalising is CPU-bound)."""
        if not specs:
            return {}
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(2, len(specs)), mp_context=context) as pool:
            futures = {
                s.name: pool.submit(_compare_one, table_shape(s), installation, database, bounds.get(s.name))
                for s in specs
            }
            compared = {}
            for name, future in futures.items():
                try:
                    compared[name] = future.result()
                except Exception as error:  # noqa: BLE001 - a broken worker is an unverified table, not a crash
                    compared[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
            return compared

    def _checkpoints(self, database: str, names: list[str]) -> dict[str, Any]:
        """The checkpoint ``_migration_state`` holds for each data type (a key-mode checkpoint is the last key)."""
        conn = connect_target(**common.MARIADB, db=database)
        try:
            cursor = conn.cursor()
            bounds = {}
            for name in names:
                cursor.execute(f"SELECT checkpoint FROM `{STATE_TABLE}` WHERE job_id = %s", (f"data_type:{name}",))
                row = cursor.fetchone()
                stored = json.loads(row[0]) if row and row[0] else None
                if stored is None or isinstance(stored, dict):
                    raise ComparisonError(f"{name}: no key checkpoint in {STATE_TABLE} ({stored!r})")
                bounds[name] = stored
            return bounds
        finally:
            conn.close()

    @staticmethod
    def _summary(per_type: dict[str, dict[str, Any]], ok: bool) -> str:
        errors = [f"{n}: {p['error']}" for n, p in per_type.items() if "error" in p]
        rows = sum(p.get("target_rows", 0) for p in per_type.values())
        counts = ", ".join(f"{sum(p.get(k, 0) for p in per_type.values()):,} {k}" for k in KINDS)
        head = "values equal" if ok else "VALUES DIFFER"
        return f"{head}: {rows:,} rows, {counts}" + (f"; {'; '.join(errors)}" if errors else "")

    def _count(self, case: str, per_type: dict[str, dict[str, Any]], ok: bool) -> None:
        self.totals["cases"] += 1
        self.totals["rows"] += sum(p.get("source_rows", 0) for p in per_type.values())
        for kind in KINDS:
            self.totals[kind] += sum(p.get(kind, 0) for p in per_type.values())
        if not ok:
            self.totals["unverified"].append(case)

    def total_line(self) -> str:
        """The run's verification in one line (printed at the end of the run)."""
        t = self.totals
        line = (
            f"verified: {t['rows']:,} rows of {t['cases']} cases compared value by value; "
            f"{t['lost']:,} lost, {t['duplicated']:,} duplicated, {t['extra']:,} extra, {t['different']:,} different"
        )
        return line + (f"; NOT verified: {', '.join(t['unverified'])}" if t["unverified"] else "")
