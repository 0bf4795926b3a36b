"""The Airflow plugin: cheap to import, loaded by Airflow from plugins/, served by the API server behind login."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from include.migration.configuration.config import MigrationConfig
from tests.conftest import ROOT
from tests.views.dashboard.conftest import real_counts

PLUGINS = ROOT / "plugins"
AIRFLOW = Path(sys.executable).with_name("airflow")


def _airflow_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the plugin must find the project itself
    env.update(AIRFLOW__CORE__PLUGINS_FOLDER=str(PLUGINS), AIRFLOW__CORE__LOAD_EXAMPLES="False", **extra)
    return env


def test_the_plugin_module_imports_cheaply_and_exposes_the_app() -> None:
    probe = f"""
import importlib.util, json, sys, time
started = time.monotonic()
spec = importlib.util.spec_from_file_location("migrations_dashboard", {str(PLUGINS / "migrations_dashboard.py")!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from fastapi import FastAPI
plugin = module.MigrationsDashboardPlugin
(entry,) = plugin.fastapi_apps
print(json.dumps({{
    "name": plugin.name,
    "is_fastapi": isinstance(entry["app"], FastAPI),
    "app_is_module_app": entry["app"] is module.dashboard_app,
    "url_prefix": entry["url_prefix"], "app_name": entry["name"],
    "routes": sorted(r.path for r in entry["app"].routes if getattr(r, "methods", None)),
    "external_views": plugin.external_views,
    "project_root_on_path": {str(ROOT)!r} in sys.path,
    "loaded": sorted(m for m in sys.modules if m in ("include.migration.views.overview", "include.migration.orchestration.runtime",
                                                     "include.migration.orchestration.dag_factory", "MySQLdb")),
}}))
"""
    result = subprocess.run([sys.executable, "-c", probe], cwd="/", env=_airflow_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["name"] == "migrations_dashboard" and facts["is_fastapi"] and facts["app_is_module_app"]
    assert (facts["url_prefix"], facts["app_name"]) == ("/migrations", "Migrations dashboard")
    assert facts["routes"] == ["/", "/api/overview"]
    assert facts["external_views"] == [
        {"name": "Migrations", "href": "/migrations/", "url_route": "migrations", "destination": "nav",
         "category": "browse"}
    ]
    assert facts["project_root_on_path"]
    assert facts["loaded"] == [], "importing the plugin must not load the database or migration code"


def test_airflow_loads_the_plugin_from_the_plugins_folder(airflow_db) -> None:
    result = subprocess.run([str(AIRFLOW), "plugins", "--output", "json"], cwd="/", env=_airflow_env(),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    ours = plugins["migrations_dashboard"]
    assert ours["source"] == "$PLUGINS_FOLDER/migrations_dashboard.py"
    assert ours["fastapi_apps"] == [
        {"app": "fastapi.applications.FastAPI", "url_prefix": "/migrations", "name": "Migrations dashboard"}
    ]
    assert [v["href"] for v in ours["external_views"]] == ["/migrations/"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def api_server(airflow_db, migrated: MigrationConfig, tmp_path: Path, no_proxy) -> Iterator[tuple[str, str]]:
    """``airflow api-server`` with the plugins folder and one simple-auth user; yields (base URL, password)."""
    password = "h3-viewer-" + os.urandom(6).hex()
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"h3viewer": password}))
    port = _free_port()
    env = _airflow_env(
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="h3viewer:viewer",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__API_AUTH__JWT_SECRET=os.urandom(16).hex(),
    )
    log = (tmp_path / "api-server.log").open("w")
    process = subprocess.Popen(
        [str(AIRFLOW), "api-server", "--apps", "core", "-H", "127.0.0.1", "-p", str(port), "-w", "1"],
        cwd="/", env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "api-server.log").read_text()[-3000:]
            try:
                if requests.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the API server did not start within 120 s"
            time.sleep(0.3)
        yield base, password
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=30)
        log.close()


def test_served_by_the_airflow_api_server_behind_its_login(api_server, migrated: MigrationConfig) -> None:
    base, password = api_server
    anonymous = requests.get(f"{base}/migrations/api/overview", timeout=30)
    assert anonymous.status_code == 401
    forged = requests.get(f"{base}/migrations/", timeout=30, headers={"Authorization": "Bearer nonsense"})
    assert forged.status_code == 403
    login = requests.post(f"{base}/auth/token", json={"username": "h3viewer", "password": password}, timeout=30)
    assert login.status_code == 201, login.text
    token = login.json()["access_token"]

    overview = requests.get(f"{base}/migrations/api/overview", timeout=60, headers={"Authorization": f"Bearer {token}"})
    assert overview.status_code == 200, overview.text
    served = {e["id"]: e for e in overview.json()["installations"]}
    for (ident, name), count in real_counts(migrated).items():
        assert next(d for d in served[ident]["data_types"] if d["name"] == name)["rows_target"] == count

    # The UI's session cookie is enough: that is what the page embedded in Airflow's UI sends.
    page = requests.get(f"{base}/migrations/", timeout=60, cookies={"_token": token})
    assert page.status_code == 200 and 'data-installation="acme"' in page.text

    plugins = requests.get(f"{base}/api/v2/plugins", timeout=30, headers={"Authorization": f"Bearer {token}"}).json()
    (ours,) = [p for p in plugins["plugins"] if p["name"] == "migrations_dashboard"]
    (view,) = ours["external_views"]
    assert (view["name"], view["href"], view["url_route"], view["destination"]) == (
        "Migrations", "/migrations/", "migrations", "nav",
    )
