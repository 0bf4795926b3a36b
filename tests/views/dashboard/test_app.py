"""The dashboard app on a real uvicorn server: the JSON endpoint and the page carry the real numbers."""

from __future__ import annotations

import re

import requests

from include.migration.configuration.config import MigrationConfig
from include.migration.views.dashboard import create_dashboard_app
from include.migration.views.overview import installation_overview
from include.reference_remote.server import serve_in_thread
from tests.conftest import ROWS_PER_TYPE
from tests.views.dashboard.conftest import GLOBEX_KEPT_USERS, real_counts


def test_json_endpoint_returns_the_overview(migrated: MigrationConfig, tiny_unreachable: str, no_proxy) -> None:
    with serve_in_thread(create_dashboard_app()) as server:
        response = requests.get(f"{server.base_url}/api/overview", timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert tiny_unreachable not in response.text
    document = response.json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", document["generated_at"])
    served = {e["id"]: e for e in document["installations"]}
    counts = real_counts(migrated)
    for (ident, name), count in counts.items():
        if ident == "tiny":
            continue
        item = next(d for d in served[ident]["data_types"] if d["name"] == name)
        assert item["rows_target"] == count, (ident, name)
    assert served["tiny"]["error"] and served["tiny"]["data_types"] == []
    assert served["acme"]["status"] == "DONE" and served["acme"]["rows_target"] == 3 * ROWS_PER_TYPE
    users = next(d for d in served["globex"]["data_types"] if d["name"] == "users")
    assert (users["rows_target"], users["rows_source"], users["progress_percent"]) == (
        GLOBEX_KEPT_USERS, ROWS_PER_TYPE, 75.0,
    )
    # The same as reading the overview directly (nothing in it depends on the moment it is read).
    assert document["installations"] == installation_overview(migrated)


def test_page_is_self_contained_html(migrated: MigrationConfig, no_proxy) -> None:
    with serve_in_thread(create_dashboard_app()) as server:
        response = requests.get(f"{server.base_url}/", timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    # Nothing is fetched from anywhere: no external scripts, styles, images or fonts.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page, re.I)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert 'data-installation="acme"' in page and 'data-rows-target="10000"' in page
    assert ">10,000</span> / <span class=\"rows-source\">10,000<" in page


def test_an_injected_overview_is_rendered_escaped(no_proxy) -> None:
    """Names and errors are text, never markup."""
    document = {
        "generated_at": "2026-01-01T00:00:00.000000Z",
        "installations": [
            {"id": "x<b>", "enabled": True, "dag_id": "migrate_x", "target_profile": "mysql",
             "error": "<script>alert(1)</script>", "data_types": [], "history": []}
        ],
    }
    with serve_in_thread(create_dashboard_app(lambda: document)) as server:
        page = requests.get(f"{server.base_url}/", timeout=10).text
        served = requests.get(f"{server.base_url}/api/overview", timeout=10).json()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "x<b>" not in page
    assert served == document


def test_a_configuration_error_is_a_page_not_a_500(tmp_path, monkeypatch, no_proxy) -> None:
    from tests.conftest import ROOT

    broken = tmp_path / "env.yaml"
    broken.write_text("defaults:\n  pagesize: 10\ninstallations:\n  - {id: a}\n")
    monkeypatch.setenv("MIGRATION_CONFIG", f"{ROOT / 'tests' / 'fixtures' / 'migration_config.yaml'}:{broken}")
    with serve_in_thread(create_dashboard_app()) as server:
        page = requests.get(f"{server.base_url}/", timeout=60)
        document = requests.get(f"{server.base_url}/api/overview", timeout=60)
    assert page.status_code == 200 and 'id="configuration-error"' in page.text
    assert f"{broken}: defaults.pagesize: unknown setting" in page.text
    assert document.status_code == 200 and document.json()["configuration_error"].startswith(f"{broken}: defaults.pagesize")


def test_a_wrong_installation_entry_is_shown_with_its_error(tmp_path, monkeypatch, no_proxy) -> None:
    from tests.conftest import ROOT

    overlay = tmp_path / "env.yaml"
    overlay.write_text("installations:\n  - {id: typo, pagesize: 10}\n")
    monkeypatch.setenv("MIGRATION_CONFIG", f"{ROOT / 'tests' / 'fixtures' / 'migration_config.yaml'}:{overlay}")
    with serve_in_thread(create_dashboard_app()) as server:
        document = requests.get(f"{server.base_url}/api/overview", timeout=60).json()
    (typo,) = document["installations"]
    assert typo["id"] == "typo" and typo["dag_id"] == "migrate_typo"
    assert typo["error"] == f"configuration error: {overlay}: installation 'typo': installations.0.pagesize: Extra inputs are not permitted"
