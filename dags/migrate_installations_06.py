"""The migration and reverse-sync DAGs of the installations in DAG-file shard 6 (migration_config.yaml).

The installations are spread over the files migrate_installations_<nn>.py by a stable hash of their
id (include/migration/orchestration/dag_shards.py), so that Airflow parses the files in parallel and each stays
far under its import timeout. This file only declares: the work lives in include/migration, and
parsing reads the configuration file and nothing else. Written by dag_shards.write_dag_files.
"""

import sys
from pathlib import Path

_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
if _PROJECT_ROOT not in sys.path:  # plain Airflow puts only dags/ and plugins/ on the path
    sys.path.append(_PROJECT_ROOT)

from include.migration.orchestration.dag_factory import build_dags  # noqa: E402

globals().update(build_dags(shard=6))
