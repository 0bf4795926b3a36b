"""The deployment files stay valid: the compose file parses, and its config overlay loads."""

import shutil
import subprocess

import yaml

from include.migration.config import load_config
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


def test_compose_configuration_overlay_loads(monkeypatch):
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    env = compose["x-airflow-common"]["environment"]
    paths = env["MIGRATION_CONFIG"].replace("/opt/project", str(ROOT))
    monkeypatch.setenv("MIGRATION_CONFIG", paths)
    config = load_config()
    assert [(i.id, i.target_profile) for i in config.installations] == [("acme", "mysql")]
