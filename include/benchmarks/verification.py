"""What landed in a case's target, checked after the case in the runner's process (never in its time or memory).

Tables with the package's column types: count and checksum (the package's
canonical row hashes) against the remote's range-stats. Peers with column types
of their own: count, distinct keys and the canonical hash of sampled rows.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from typing import Any

from include.benchmarks import common
from include.benchmarks.case_plan import CaseSpec
from include.benchmarks.remote_process import Remote


class Verifier:
    """Verifies each case's target against the source the remote serves (the remote's stats cached per range)."""

    def __init__(self, remote: Remote, data_types: list[Any], plan_rows: dict[str, dict[str, int]]) -> None:
        self.remote = remote
        self.data_types = data_types
        self.plan_rows = plan_rows
        self.source_stats: dict[tuple[str, str, Any], Any] = {}

    def source_stat(self, installation: str, spec: Any, up_to: Any = None) -> Any:
        """The remote's range-stats of ``spec``'s rows up to ``up_to`` (all when None), asked once."""
        from include.migration.values.checksums import ChunkStats

        key = (installation, spec.name, up_to)
        if key not in self.source_stats:
            assert self.remote is not None
            self.remote.ensure_running()
            client = self.remote.client(installation)
            try:
                self.source_stats[key] = ChunkStats.from_dict(client.range_stats(spec.name, None, up_to))
            finally:
                client.close()
        return self.source_stats[key]

    def verify(self, case: CaseSpec, result: dict[str, Any]) -> dict[str, Any]:
        """The case's verification as its ``verify`` says: green, sampled, or count + checksum (of a prefix)."""
        from include.migration.target.connection import MySqlTarget
        from include.migration.target.profiles import get_profile
        from include.migration.steps.validation.chunks import Chunk
        from include.migration.steps.validation.target_side import TargetReader

        started = time.perf_counter()
        if case.verify == "green":
            ok = bool(result.get("green")) and result["rows"] == sum(self.plan_rows[case.installation].values())
            return {
                "ok": ok,
                "method": "validate_data_type green, rows = seeded rows",
                "summary": "green" if ok else "RED",
                "seconds": 0.0,
            }
        if case.verify == "sample":
            return self.verify_sampled(case, result)
        db = MySqlTarget(common.mariadb_connect(case.database), get_profile("mysql"))
        details = {}
        ok = True
        try:
            for spec in self.data_types:
                if case.verify == "prefix":
                    per = result.get("per_type", {}).get(spec.name)
                    if per is None:
                        continue
                    checkpoint = self._checkpoint(db, spec.name)
                    source = self.source_stat(case.installation, spec, up_to=checkpoint)
                    target = TargetReader(db, spec).stats(Chunk(None, None))
                    good = source == target and target.count == per["rows"]
                else:
                    source = self.source_stat(case.installation, spec)
                    target = TargetReader(db, spec).stats(Chunk(None, None))
                    good = source == target and source.count == self.plan_rows[case.installation][spec.name]
                details[spec.name] = {
                    "ok": good,
                    "source": dataclasses.asdict(source),
                    "target": dataclasses.asdict(target),
                }
                ok &= good
        finally:
            db.close()
        method = (
            "count + checksum (package canonical row hashes) of the copied key prefix vs the remote's range-stats"
            if case.verify == "prefix"
            else "count + checksum (package canonical row hashes) vs the remote's range-stats"
        )
        return {
            "ok": ok,
            "method": method,
            "summary": ("count+checksum OK" if ok else "MISMATCH"),
            "per_type": details,
            "seconds": time.perf_counter() - started,
        }

    def _checkpoint(self, db: Any, data_type: str) -> Any:
        rows = db.query("SELECT checkpoint FROM `_migration_state` WHERE job_id = %s", (f"data_type:{data_type}",))
        value = json.loads(rows[0][0]) if rows and rows[0][0] else None
        return value

    def verify_sampled(self, case: CaseSpec, result: dict[str, Any], sample: int = 300) -> dict[str, Any]:
        """For peers with their own column types: exact count + canonical hashes of sampled rows."""
        from include.benchmarks.seed import source_rows
        from include.migration.values.canonical import RowHasher

        started = time.perf_counter()
        conn = common.mariadb_connect(case.database)
        rng = random.Random(7)
        details = {}
        ok = True
        try:
            cursor = conn.cursor()
            for spec in self.data_types:
                expected = self.plan_rows[case.installation][spec.name]
                cursor.execute(f"SELECT COUNT(*), COUNT(DISTINCT `{spec.primary_key}`) FROM `{spec.target_table}`")
                count, distinct = cursor.fetchone()
                keys = sorted({1, expected, *(rng.randint(1, expected) for _ in range(sample))}) if expected else []
                source = {row[spec.key_index]: row for row in source_rows(case.installation, spec, keys=keys)}
                columns = ", ".join(f"`{c}`" for c in spec.column_names)
                marks = ", ".join(["%s"] * len(keys))
                cursor.execute(
                    f"SELECT {columns} FROM `{spec.target_table}` WHERE `{spec.primary_key}` IN ({marks})", keys
                )
                target = {row[spec.key_index]: row for row in cursor.fetchall()}
                hash_rows = RowHasher(spec).hash_rows
                differing = [
                    k
                    for k in keys
                    if k not in target or k not in source or len(set(hash_rows([source[k], target[k]]))) != 1
                ]
                good = count == expected and distinct == expected and not differing
                details[spec.name] = {
                    "ok": good,
                    "count": count,
                    "expected": expected,
                    "sampled": len(keys),
                    "differing_keys": differing[:10],
                }
                ok &= good
        finally:
            conn.close()
        return {
            "ok": ok,
            "method": f"count + distinct keys + canonical row hash of {sample}+2 sampled rows per table "
            "(dlt's column types differ)",
            "summary": "count+sample OK" if ok else "MISMATCH",
            "per_type": details,
            "seconds": time.perf_counter() - started,
        }
