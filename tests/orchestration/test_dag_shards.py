"""Installations spread over the DAG files: each DAG in exactly one file, by a stable hash, ids unchanged."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest

from include.migration.configuration.config_loading import load_config
from include.migration.orchestration.dag_factory import REVERSE_DAG_ID_PREFIX, broken_dag_id, build_dags, dag_id_for
from include.migration.orchestration.dag_shards import (
    DAG_FILE_SHARDS,
    dag_file_name,
    dag_file_text,
    shard_of,
    write_dag_files,
)
from tests.conftest import ROOT

BASE_FILE = ROOT / "tests" / "fixtures" / "migration_config.yaml"


@pytest.fixture
def config_with_problems(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    overlay = tmp_path / "installations.yaml"
    overlay.write_text(
        "installations:\n"
        + "".join(f"  - {{id: tenant{n:03d}}}\n" for n in range(60))
        + "  - {id: typo, pagesize: 10}\n  - {id: 'bad id!'}\n  - {id: dormant, enabled: false}\n"
        "  - {id: broken_off, enabled: false, colour: red}\n"
    )
    monkeypatch.setenv("MIGRATION_CONFIG", f"{BASE_FILE}{os.pathsep}{overlay}")
    return load_config()


def test_the_shard_is_a_stable_hash_in_range():
    # Fixed values: a DAG must not move to another file between processes or releases.
    assert [shard_of(k) for k in ("migrate_acme", "migrate_globex", "migrate_tenant00001")] == [14, 9, 13]
    assert shard_of("migrate_acme", 7) == 5
    assert all(0 <= shard_of(f"migrate_{n}") < DAG_FILE_SHARDS for n in range(1000))
    with pytest.raises(ValueError):
        shard_of("migrate_acme", 0)


def test_installations_are_spread_evenly():
    sizes = collections.Counter(shard_of(dag_id_for(f"tenant{n:05d}")) for n in range(5000))
    mean = 5000 / DAG_FILE_SHARDS
    assert len(sizes) == DAG_FILE_SHARDS and all(0.85 * mean < n < 1.15 * mean for n in sizes.values())


def test_every_dag_is_built_by_exactly_one_shard(config_with_problems):
    everything = build_dags(config_with_problems)
    assert {"migrate_typo", "migrate_invalid_entry_61"} <= set(everything)
    shards = [build_dags(config_with_problems, shard=n) for n in range(DAG_FILE_SHARDS)]
    owners = collections.Counter(dag_id for shard in shards for dag_id in shard)
    assert set(owners) == set(everything) and set(owners.values()) == {1}
    for n, shard in enumerate(shards):
        for dag_id in shard:
            installation = dag_id.removeprefix(REVERSE_DAG_ID_PREFIX).removeprefix("migrate_")
            assert shard_of(dag_id_for(installation)) == n or dag_id == "migrate_invalid_entry_61"
    # An installation's two DAGs live together; a wrong entry's DAG lives where its fixed DAG will.
    for installation in config_with_problems.enabled_installations:
        forward = shard_of(dag_id_for(installation.id))
        assert f"{REVERSE_DAG_ID_PREFIX}{installation.id}" in shards[forward]
    typo = next(p for p in config_with_problems.problems if p.id == "typo")
    assert broken_dag_id(typo) in shards[shard_of(dag_id_for("typo"))]


def test_a_shard_out_of_range_is_refused(config):
    for shard in (-1, DAG_FILE_SHARDS):
        with pytest.raises(ValueError, match="shard must be in"):
            build_dags(config, shard=shard)


def test_the_dags_folder_holds_one_file_per_shard():
    files = sorted(p.name for p in (ROOT / "dags").glob("*.py"))
    assert files == sorted(dag_file_name(n) for n in range(DAG_FILE_SHARDS))
    for n in range(DAG_FILE_SHARDS):
        text = (ROOT / "dags" / dag_file_name(n)).read_text(encoding="utf-8")
        assert text == dag_file_text(n), f"{dag_file_name(n)} differs: rewrite the files with write_dag_files()"
        # The dag-processor's safe mode skips files that mention neither word.
        assert "airflow" in text.lower() and "dag" in text.lower()


def test_write_dag_files_rewrites_the_set(tmp_path: Path):
    (tmp_path / "migrate_installations_07.py").write_text("stale")
    (tmp_path / "migrate_installations_extra.py").write_text("not a shard file")
    written = write_dag_files(tmp_path, shards=3)
    assert [p.name for p in written] == [dag_file_name(n) for n in range(3)] == [
        "migrate_installations_00.py", "migrate_installations_01.py", "migrate_installations_02.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [*(dag_file_name(n) for n in range(3)),
                                                          "migrate_installations_extra.py"]
    assert "build_dags(shard=2)" in (tmp_path / dag_file_name(2)).read_text()


def test_each_dag_file_parsed_alone_builds_its_shard(airflow_db, config):
    from airflow.dag_processing.dagbag import DagBag

    expected = build_dags(config)
    seen: dict[str, str] = {}
    for n in range(DAG_FILE_SHARDS):
        bag = DagBag(dag_folder=str(ROOT / "dags" / dag_file_name(n)), safe_mode=True)
        assert bag.import_errors == {}
        assert set(bag.dag_ids) == set(build_dags(config, shard=n))
        for dag_id in bag.dag_ids:
            assert dag_id not in seen, f"{dag_id} in {seen.get(dag_id)} and {dag_file_name(n)}"
            seen[dag_id] = dag_file_name(n)
    assert set(seen) == set(expected)
