"""Security: the remote's auth and input handling, hostile configuration, and secrets that never leak."""

from __future__ import annotations

import hmac
import inspect
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from include.migration.configuration.config import ConfigError, MigrationConfig
from include.migration.configuration.config_loading import load_config
from include.migration.configuration.config_parsing import parse_config
from include.migration.source.client import RemoteFatalError, RemoteRetryableError
from include.reference_remote import auth as remote_auth
from include.reference_remote.server import RunningServer
from tests.faults.conftest import FAULT_INSTALLATIONS, ROWS
from tests.faults.harness import fail_then_recover
from tests.faults.proxy import EchoHeaders, FaultProxy, Rule
from tests.support import source_rows, state_rows

MAX_LIMIT = 10_000  # create_app's default


def _get(server: RunningServer, path: str, token: str | None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    headers.update(params.pop("headers", {}))
    return requests.get(f"{server.base_url}/data-migration/{path}", params=params, headers=headers, timeout=10)


# --- the remote -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["status", "users/"])
def test_the_remote_requires_a_valid_token(
    fault_remote: RunningServer, fault_tokens: dict[str, str], path: str
) -> None:
    for token in (None, "", "not-a-token", fault_tokens["fault_main"][:-1], fault_tokens["fault_main"] + "x"):
        response = _get(fault_remote, path, token)
        assert response.status_code == 401, (token, response.text)
        assert set(response.json()) == {"detail"}
    assert _get(fault_remote, path, fault_tokens["fault_main"]).status_code == 200


def test_tokens_are_compared_in_constant_time(
    fault_remote: RunningServer, fault_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every configured token goes through hmac.compare_digest, with no early exit on a match or a miss."""
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    tokens = {t.encode() for t in fault_tokens.values()}
    for presented in (fault_tokens[FAULT_INSTALLATIONS[0]], fault_tokens[FAULT_INSTALLATIONS[-1]], "wrong"):
        compared.clear()
        _get(fault_remote, "status", presented)
        assert {a for a, _ in compared} == tokens and len(compared) == len(tokens)
        assert {b for _, b in compared} == {presented.encode()}
    # The presented token is used for nothing but the digest comparison (no ==, no dict or set lookup).
    source = inspect.getsource(remote_auth.installation_dependency)
    uses = [line.strip() for line in source.splitlines() if "presented" in line]
    assert uses == [
        "presented = _bearer_token(authorization)",
        "if presented is None:",
        'presented_bytes = presented.encode("utf-8")',
        "if hmac.compare_digest(token, presented_bytes):",
    ]


def test_a_token_reads_only_its_own_installation(
    fault_remote: RunningServer, fault_tokens: dict[str, str], fault_source: str, fault_config: MigrationConfig
) -> None:
    token = fault_tokens["fault_main"]
    refused = _get(fault_remote, "users/", token, limit=5, headers={"X-Installation-Id": "fault_other"})
    assert refused.status_code == 403 and "data" not in refused.json()
    page = _get(fault_remote, "users/", token, limit=5, headers={"X-Installation-Id": "fault_main"}).json()
    spec = fault_config.data_type("users")
    own = source_rows(fault_source, spec, "fault_main")[:5]
    other = source_rows(fault_source, spec, "fault_other")[:5]
    assert page["installation"] == "fault_main"
    assert [row[1] for row in page["data"]] == [row[1] for row in own] != [row[1] for row in other]


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_LIMIT + 1), "99999999999999999999", "abc", ""])
def test_limit_is_bounded(fault_remote: RunningServer, fault_tokens: dict[str, str], limit: str) -> None:
    assert _get(fault_remote, "users/", fault_tokens["fault_main"], limit=limit).status_code == 422


def test_the_largest_limit_is_served(fault_remote: RunningServer, fault_tokens: dict[str, str]) -> None:
    response = _get(fault_remote, "users/", fault_tokens["fault_main"], limit=MAX_LIMIT)
    assert response.status_code == 200 and len(response.json()["data"]) == ROWS


def _table_counts(source_url: str) -> dict[str, int]:
    engine = sa.create_engine(source_url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {name: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one() for name in names}
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("users/", {"after": "1; DROP TABLE users"}, 422),
        ("users/", {"after": "1 OR 1=1"}, 422),
        ("users/", {"after": "0) UNION SELECT * FROM issues --"}, 422),
        ("issues/", {"after": "1", "afterUpdatedAt": "2020-01-01'; DROP TABLE issues; --"}, 422),
        ("issues/", {"until": "now(); DELETE FROM issues"}, 422),
        ("users;--/", {}, 404),
        ("users%3B--/", {}, 404),
        ("users' OR '1'='1/", {}, 404),
        ("users/stats", {"after": "1; DROP TABLE users"}, 422),
        ("users/hashes", {"upTo": "1; TRUNCATE users"}, 422),
    ],
)
def test_request_text_never_becomes_sql(
    fault_remote: RunningServer, fault_tokens: dict[str, str], fault_source: str,
    path: str, params: dict[str, str], status: int,
) -> None:
    before = _table_counts(fault_source)
    response = _get(fault_remote, path, fault_tokens["fault_main"], **params)
    assert response.status_code == status, response.text
    assert "data" not in response.json()
    assert _table_counts(fault_source) == before and before["users"] == ROWS * len(FAULT_INSTALLATIONS)


# --- configuration (cases tests/configuration/test_config.py does not have) -------------------------------------


def _config(data_type: dict[str, Any] | None = None, installation: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = {"name": "users", "primary_key": "id", "columns": [{"name": "id", "type": "bigint"}]}
    return {
        "defaults": {"remote_conn_id": "r_{installation}", "target_conn_id": "t_{installation}"},
        "data_types": [{**spec, **(data_type or {})}],
        "installations": [{"id": "acme", **(installation or {})}],
    }


@pytest.mark.parametrize(
    "raw",
    [
        _config({"name": "users;--"}),
        _config({"name": "users/../status"}),
        _config({"source_table": "users; DROP TABLE users"}),
        _config({"target_table": "users`; DROP TABLE x; --"}),
        _config({"soft_delete_column": "deleted_at`, `x"}),
        _config({"cursor_mode": "updated_at", "updated_at_column": "id); DROP TABLE users; --"}),
        _config(installation={"id": "acme; DROP DATABASE acme"}),
        _config(installation={"id": "../etc"}),
    ],
)
def test_hostile_identifiers_in_configuration_are_rejected(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        parse_config(raw)


# --- secrets --------------------------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


@pytest.mark.parametrize("status", [403, 503])
def test_a_token_echoed_by_the_remote_never_reaches_errors_or_logs(
    status: int, fault_main: str, proxy: FaultProxy, fault_source: str, fault_tokens: dict[str, str],
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """A careless remote puts the request headers, token included, in its error page."""
    token = fault_tokens["fault_main"]
    proxy.script(Rule(EchoHeaders(status), data_type="users", page=2, times=None))
    expected = RemoteFatalError if status == 403 else RemoteRetryableError
    next_step = r"check the connection's token .*then re-run" if status == 403 else r"re-run when the remote is healthy"
    failure = fail_then_recover(
        f"remote echoes the token in an HTTP {status} error page",
        installation_id=fault_main, data_type="users", source_url=fault_source,
        expected=expected, next_step=next_step, committed_rows=500, total_rows=ROWS, fault_off=proxy.clear,
    )
    message = str(failure.error)
    assert token not in message
    assert "Bearer <redacted>" in message  # the echo did reach the message, redacted
    assert token not in debug_logs.text


def _airflow_texts(run: Any, home: Path) -> dict[str, str]:
    """Everything Airflow kept of a run: XComs, rendered templates, the run's conf and the task log files."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = session.scalars(sa.select(XComModel).where(XComModel.run_id == run.run_id)).all()
        rendered = session.scalars(
            sa.select(RenderedTaskInstanceFields).where(RenderedTaskInstanceFields.run_id == run.run_id)
        ).all()
        texts = {
            "xcom": "\n".join(f"{x.task_id}[{x.map_index}] {x.key}={x.value}" for x in xcoms),
            "rendered": "\n".join(f"{r.task_id}[{r.map_index}] {r.rendered_fields}" for r in rendered),
            "conf": str(run.conf),
        }
    logs = sorted(p for p in (home / "logs").rglob("*") if p.is_file()) if (home / "logs").exists() else []
    texts["task logs"] = "\n".join(p.read_text(errors="replace") for p in logs)
    return texts


def test_a_whole_dag_run_leaks_no_token(
    airflow_db: None, wire: Callable[..., str], fault_tokens: dict[str, str], fault_config: MigrationConfig,
    debug_logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.utils.state import DagRunState

    from include.migration.orchestration.dag_factory import build_dags, dag_id_for

    token = fault_tokens["fault_sec"]
    wire("fault_sec", via_proxy=False)
    run = build_dags(load_config())[dag_id_for("fault_sec")].test()
    assert run.state == DagRunState.SUCCESS
    output = capfd.readouterr()
    texts = _airflow_texts(run, Path(os.environ["AIRFLOW_HOME"]))
    texts.update({"logging": debug_logs.text, "stdout": output.out, "stderr": output.err})
    state = state_rows("fault_sec")
    texts["state table"] = str(state)
    # The capture is real: the run's summaries and logs are in it.
    assert f'"rows": {ROWS}' in texts["xcom"] or f"'rows': {ROWS}" in texts["xcom"], texts["xcom"][:2000]
    assert "transfer fault_sec/comments starting" in texts["logging"]  # the tasks' own logs were captured
    assert state["data_type:comments"]["rows_copied"] == ROWS
    leaks = [where for where, text in texts.items() if token in text]
    assert leaks == [], f"the token appears in: {leaks}"
