"""The deployment files stay valid: the compose file parses, and its config overlay loads."""

import shutil
import subprocess

import yaml

from include.migration.commands.settings import pools_json, read_settings
from include.migration.configuration.config_loading import load_config
from include.migration.orchestration.dag_factory import MAX_PARALLEL_TRANSFERS, TRANSFER_POOL
from tests.conftest import ROOT


def test_docker_compose_file_is_valid():
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose is missing: `make test` installs Debian's docker-compose"
    done = subprocess.run([docker_compose, "-f", str(ROOT / "docker-compose.yaml"), "config"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    expected = {"airflow-db", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                "airflow-triggerer", "airflow-worker", "target-mysql", "source-db", "remote"}
    assert expected <= set(services)
    assert services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name in ("airflow-db", "redis", "airflow-scheduler", "target-mysql"):
        assert "healthcheck" in services[name], name


def test_compose_init_loads_the_settings_with_the_pool(tmp_path):
    """The init step runs `make settings`' loader on the shipped settings, and those hold the transfer pool."""
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    init = " ".join(compose["services"]["airflow-init"]["command"])
    migrate, load = init.index("airflow db migrate"), init.index("python -m include.migration.commands.settings /opt/project/airflow_settings.yaml")
    assert migrate < load and "&&" in init[migrate:load], init
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"):
        assert compose["services"][name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    rendered = pools_json(read_settings(ROOT / "airflow_settings.yaml")["pools"])
    assert rendered[TRANSFER_POOL]["slots"] >= MAX_PARALLEL_TRANSFERS


def test_compose_configuration_overlay_loads(monkeypatch):
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    env = compose["x-airflow-common"]["environment"]
    paths = env["MIGRATION_CONFIG"].replace("/opt/project", str(ROOT))
    monkeypatch.setenv("MIGRATION_CONFIG", paths)
    config = load_config()
    assert [(i.id, i.target_profile) for i in config.installations] == [("acme", "mysql")]
