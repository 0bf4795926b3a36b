"""Which DAG file builds which installation's DAGs.

Airflow's dag-processor parses each DAG file in its own process, ``parsing_processes`` files at a
time: the import within ``dagbag_import_timeout`` (30 s by default), import and serialization of
its DAGs within ``dag_file_processor_timeout`` (50 s). One file building every installation's DAGs
took 24-30 s to import at 5,000 installations; so the installations are spread over
:data:`DAG_FILE_SHARDS` files, ``dags/migrate_installations_<nn>.py``, each building the DAGs of
its shard only. Every file still reads the whole configuration (about 2 s at 5,000 installations),
so more files cost more in total.

An installation's shard is a stable hash of its migration DAG id: the same in every process and
release (unlike ``hash()``), independent of the other installations (adding one moves no other),
and the same for its reverse-sync DAG and for the configuration-error DAG that replaces it while
its entry is wrong, so each DAG id is built by exactly one file and keeps it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

DAG_FILE_SHARDS = 16
"""How many ``dags/migrate_installations_<nn>.py`` files there are (nn = 00 .. DAG_FILE_SHARDS - 1).

Changing it moves most installations to another file; rewrite the files with it:
``python -c "from include.migration.orchestration.dag_shards import write_dag_files; write_dag_files()"``.
"""

DAG_FILE_PATTERN = "migrate_installations_{shard:02d}.py"
_DAG_FILE_NAME = re.compile(r"migrate_installations_(\d+)\.py")
DAGS_FOLDER = Path(__file__).resolve().parents[3] / "dags"

_DAG_FILE_TEXT = '''"""The migration and reverse-sync DAGs of the installations in DAG-file shard {shard} (migration_config.yaml).

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

globals().update(build_dags(shard={shard}))
'''


def shard_of(key: str, shards: int = DAG_FILE_SHARDS) -> int:
    """The shard (0 .. shards - 1) of a DAG id: a stable hash, evenly spread."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def dag_file_name(shard: int) -> str:
    """The name of the file in ``dags/`` that builds ``shard``."""
    return DAG_FILE_PATTERN.format(shard=shard)


def dag_file_text(shard: int) -> str:
    """The content of the DAG file that builds ``shard``."""
    return _DAG_FILE_TEXT.format(shard=shard)


def write_dag_files(folder: Path = DAGS_FOLDER, shards: int = DAG_FILE_SHARDS) -> list[Path]:
    """Write the ``shards`` DAG files into ``folder`` and remove any other shard file.

    Run by hand after changing :data:`DAG_FILE_SHARDS`; parsing never writes.
    """
    written = []
    for shard in range(shards):
        path = folder / dag_file_name(shard)
        path.write_text(dag_file_text(shard), encoding="utf-8")
        written.append(path)
    for path in folder.glob("migrate_installations_*.py"):
        if _DAG_FILE_NAME.fullmatch(path.name) and path not in written:
            path.unlink()
    return written
