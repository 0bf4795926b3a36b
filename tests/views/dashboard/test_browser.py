"""The dashboard in headless Chromium: the rendered page shows the real numbers; a screenshot is kept."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from include.migration.configuration.config import MigrationConfig
from include.migration.views.dashboard import create_dashboard_app
from include.reference_remote.server import serve_in_thread
from tests.views.dashboard.conftest import DashboardDom, real_counts

CHROMIUM = "/usr/bin/chromium"
# No network beyond the page on loopback: no updates, sync, field trials, QUIC or proxies.
QUIET_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage", "--no-proxy-server",
    "--hide-scrollbars", "--mute-audio",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium; installed with apt-get (the Debian package) when missing, never skipped."""
    if not os.access(CHROMIUM, os.X_OK):
        if os.geteuid() != 0:
            pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`", pytrace=False)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=600", "chromium"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
            subprocess.run(install, env=env, check=True, capture_output=True)
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    return CHROMIUM


def _chromium(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="h3-chromium-") as profile:
        result = subprocess.run(
            [binary, *QUIET_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=180, env=dict(os.environ, HOME=profile),
        )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_the_rendered_page_shows_the_real_numbers(
    migrated: MigrationConfig, tiny_unreachable: str, chromium: str, artifacts_dir: str, no_proxy
) -> None:
    with serve_in_thread(create_dashboard_app()) as server:
        url = f"{server.base_url}/"
        dom_text = _chromium(chromium, "--virtual-time-budget=5000", "--dump-dom", url).stdout
        screenshot = Path(artifacts_dir) / "dashboard.png"
        screenshot.unlink(missing_ok=True)
        _chromium(chromium, "--window-size=1400,1000", f"--screenshot={screenshot}", url)
        # The whole page too, for people reviewing the artifacts.
        full = Path(artifacts_dir) / "dashboard-full.png"
        _chromium(chromium, "--window-size=1400,2800", f"--screenshot={full}", url)
    (Path(artifacts_dir) / "dashboard.html").write_text(dom_text)

    dom = DashboardDom(dom_text)
    assert list(dom.installations) == [i.id for i in migrated.installations]
    counts = real_counts(migrated)
    for (ident, name), count in counts.items():
        if ident == "tiny":
            continue
        row, texts = dom.rows[(ident, name)], dom.texts[(ident, name)]
        assert row["data-rows-target"] == ("" if count is None else str(count)), (ident, name)
        assert texts["rows-target"] == ("–" if count is None else f"{count:,}"), (ident, name)
    acme_users = dom.texts[("acme", "users")]
    assert (acme_users["rows-source"], acme_users["progress"]) == ("10,000", "100.0 %")
    assert dom.texts[("acme", "comments")]["eta"] == "done"
    assert dom.installations["acme"]["data-status"] == "DONE"
    globex_users = dom.rows[("globex", "users")]
    assert (globex_users["data-rows-source"], dom.texts[("globex", "users")]["progress"]) == ("10000", "75.0 %")
    assert float(globex_users["data-eta-seconds"]) > 0 and dom.texts[("globex", "users")]["eta"] not in ("–", "done")
    assert dom.texts[("globex", "users")]["throughput"].endswith("rows/s")
    assert 'id="throughput-note"' in dom_text and "over the last 5 transfers that copied rows" in dom_text
    # One colour per data type on the whole page: the same line colour for users in acme and globex.
    acme_colors = {c["data-data-type"]: c["fill"] for c in dom.charts["acme"]}
    globex_colors = {c["data-data-type"]: c["fill"] for c in dom.charts["globex"]}
    assert globex_colors["users"] == acme_colors["users"] == dom.rows[("globex", "users")]["data-color"]
    assert len(set(acme_colors.values())) == 3
    # The chart: one point per validation record, at the row count it recorded (2 runs x 3 data types).
    assert [c["data-rows-target"] for c in dom.charts["acme"]] == ["10000"] * 6
    assert dom.installations["tiny"]["data-error"] == "true" and "OperationalError" in dom.errors["tiny"]
    assert tiny_unreachable not in dom_text
    assert 'id="generated-at"' in dom_text and "taken at " in dom_text  # the inline script ran
    # The fleet header: not ready, since no installation has a final check (and most are not DONE).
    assert '<section id="fleet" data-ready="false">' in dom_text and "no final check of" in dom_text

    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1400, 1000)
    assert len(png) > 20_000, "the screenshot is suspiciously small (blank page?)"



def test_the_rendered_page_shows_a_failed_installations_error(
    migrated: MigrationConfig, chromium: str, artifacts_dir: str, no_proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real failed run (a wrong token: check_status fails at once) and a recorded transfer failure, on the page."""
    from airflow.utils.state import DagRunState

    from include.migration.orchestration.dag_factory import build_dags
    from include.migration.orchestration.failures import Scope
    from include.migration.orchestration.task_boundary import leave_trace
    from include.migration.values.errors import ConversionError
    from tests.conftest import mariadb_connection, target_database_name

    variable = "AIRFLOW_CONN_MIGRATION_REMOTE_MUTABLE"
    monkeypatch.setenv(variable, json.dumps({**json.loads(os.environ[variable]), "password": "a-wrong-token"}))
    try:
        run = build_dags(migrated)["migrate_mutable"].test()
        assert run.state == DagRunState.FAILED
        leave_trace(Scope("mutable", "users", "migration_target_mutable"), "transfer", 2, ConversionError(
            "installation 'mutable', data type 'users', key 42, column 'email': string of 300 characters is longer "
            "than varchar(255)"))
        with serve_in_thread(create_dashboard_app()) as server:
            url = f"{server.base_url}/"
            dom_text = _chromium(chromium, "--virtual-time-budget=5000", "--dump-dom", url).stdout
            _chromium(chromium, "--window-size=1400,2800", f"--screenshot={Path(artifacts_dir) / 'dashboard-failed.png'}", url)
        Path(artifacts_dir, "dashboard-failed.html").write_text(dom_text)
        section = dom_text[dom_text.index('data-installation="mutable"'):]
        section = section[:section.index("</section>")]
        failed = section[section.index('data-role="failed-run"'):]
        assert f'data-run-id="{run.run_id}"' in failed and "check_status (try 1," in failed
        last_error = section[section.index('data-role="last-error"'):]
        assert "check_status, try 1, " in last_error and "RemoteFatalError" in last_error and "HTTP 401" in last_error
        assert "a-wrong-token" not in dom_text
        assert 'data-installation="mutable" data-status="FAILED"' in dom_text
        users = section[section.index('id="row-mutable-users"'):]
        users = users[:users.index("</tr>")]
        assert "transfer, try 2, " in users and "ConversionError: installation 'mutable', data type 'users', key 42, " \
            "column 'email'" in users
    finally:
        conn = mariadb_connection(target_database_name("mutable"))
        for table in ("_migration_state", "_migration_schema", "_migration_validation"):
            conn.query(f"DROP TABLE IF EXISTS `{table}`")  # back to untouched for the other dashboard tests
        conn.close()
