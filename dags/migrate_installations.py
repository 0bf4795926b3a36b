"""One migration DAG per enabled installation in migration_config.yaml.

This file only declares: the work lives in include/migration. Parsing reads the
configuration file and nothing else.
"""

import sys
from pathlib import Path

_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
if _PROJECT_ROOT not in sys.path:  # plain Airflow puts only dags/ and plugins/ on the path
    sys.path.append(_PROJECT_ROOT)

from include.migration.dag_factory import build_dags  # noqa: E402

globals().update(build_dags())
