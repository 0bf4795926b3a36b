"""``make up``: a local Airflow (standalone) over the demo data, to click through the UI and dashboard.

Seeds the demo SQLite source (unless already there), serves it through the
reference remote on 127.0.0.1:8000, exports the installations' connections,
loads airflow_settings.yaml's pools, and runs ``airflow standalone`` (UI on
http://localhost:8080, every user an admin). Ctrl-C stops everything.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from include.migration.config import load_config
from include.migration.dag_factory import dag_id_for
from include.migration.demo import DEMO_DIR, ROOT, export_demo_connections
from include.migration.remote_service.seed import seed_source
from include.migration.settings import load_settings

REMOTE_PORT = 8000


def main() -> int:
    os.environ.setdefault("MIGRATION_CONFIG", str(ROOT / "dags" / "migration_config.yaml"))
    os.environ.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    # standalone starts its components as `airflow ...` processes: they must find the venv's.
    venv_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    config = load_config()
    installations = [i.id for i in config.enabled_installations]
    DEMO_DIR.mkdir(exist_ok=True)
    source = DEMO_DIR / "source.db"
    if not source.exists():
        seed_source(f"sqlite:///{source}", config.data_types, installations, 5_000)
    tokens_file = DEMO_DIR / "tokens.json"
    if not tokens_file.exists():
        tokens_file.write_text(json.dumps({i: secrets.token_urlsafe(24) for i in installations}))
    tokens: dict[str, str] = json.loads(tokens_file.read_text())
    export_demo_connections(config, REMOTE_PORT, tokens)
    load_settings(ROOT / "airflow_settings.yaml")
    airflow = str(Path(sys.executable).with_name("airflow"))
    # Unpaused from the start, so the hourly schedule begins migrating at once.
    subprocess.run([airflow, "dags", "reserialize"], check=True, capture_output=True)
    for ident in installations:
        subprocess.run([airflow, "dags", "unpause", dag_id_for(ident)], check=True, capture_output=True)
    remote = subprocess.Popen(
        [sys.executable, "-m", "include.migration.remote_service", "serve", "--source-url", f"sqlite:///{source}",
         "--config", os.environ["MIGRATION_CONFIG"].split(os.pathsep)[0], "--tokens-file", str(tokens_file),
         "--host", "127.0.0.1", "--port", str(REMOTE_PORT)],
    )
    print(f"reference remote on http://127.0.0.1:{REMOTE_PORT}; Airflow UI on http://localhost:8080 "
          "(dashboard: /migrations/); Ctrl-C to stop", flush=True)
    try:
        return subprocess.call([airflow, "standalone"])
    except KeyboardInterrupt:
        return 0
    finally:
        remote.terminate()
        remote.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
