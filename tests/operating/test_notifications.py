"""Alerts: the message names installation, data type, task, try and error; broken channels never break the run."""

from __future__ import annotations

import email
import json
from types import SimpleNamespace

import pytest

from include.migration.configuration.config import AlertsSpec, EmailAlertSpec, WebhookAlertSpec
from include.migration.orchestration.notifications import Alert, MigrationFailureNotifier, channels, dispatch
from tests.operating.servers import closed_port, smtp_sink, webhook_server


def _context():
    ti = SimpleNamespace(
        task_id="transfer", map_index=1, rendered_map_index="issues", try_number=2,
        log_url="http://localhost:8080/dags/migrate_acme/runs/r1/tasks/transfer?map_index=1",
        dag_id="migrate_acme", run_id="scheduled__2026-11-26T10:00:00+00:00",
    )
    return {"ti": ti, "exception": ValueError("installation 'acme', data type 'issues', key 7, column 'due_date': invalid date")}


@pytest.fixture
def connections(monkeypatch):
    def set_connections(webhook_port: int, smtp_port: int) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_ALERT_HOOK", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": webhook_port, "schema": "http"}))
        monkeypatch.setenv("AIRFLOW_CONN_ALERT_SMTP", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": smtp_port,
            "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 30, "retry_limit": 0},
        }))
    return set_connections


def _alerts(timeout: float = 5.0) -> AlertsSpec:
    return AlertsSpec(
        email=EmailAlertSpec(to=("oncall@example.com",), smtp_conn_id="alert_smtp"),
        webhook=WebhookAlertSpec(http_conn_id="alert_hook", endpoint="/hooks/migration"),
        timeout_seconds=timeout,
    )


def test_failure_alert_reaches_email_and_webhook(connections):
    with webhook_server() as (hook_port, posts), smtp_sink() as (smtp_port, mails):
        connections(hook_port, smtp_port)
        MigrationFailureNotifier("acme", _alerts()).notify(_context())
    assert len(posts) == 1 and posts[0]["path"] == "/hooks/migration"
    body = posts[0]["body"]
    assert (body["kind"], body["installation"], body["data_type"], body["task"], body["try_number"]) == (
        "failure", "acme", "issues", "transfer", 2)
    assert "column 'due_date': invalid date" in body["error"] and body["log_url"].endswith("map_index=1")
    assert len(mails) == 1 and mails[0]["rcpt"] == ["<oncall@example.com>"]
    message = email.message_from_string(mails[0]["data"])
    assert message["Subject"] == "[migration] acme / issues: transfer failed (try 2)"
    html = next(part for part in message.walk() if part.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert "installation: acme" in html and "task: transfer  try: 2" in html and "invalid date" in html


def test_a_failing_channel_is_logged_and_the_others_still_send(connections, caplog):
    with webhook_server(status=500) as (hook_port, posts), smtp_sink() as (smtp_port, mails):
        connections(hook_port, smtp_port)
        results = dispatch(Alert("failure", "acme", None, "check_status", 1, "boom", None, None, None),
                           channels(_alerts()), timeout_seconds=5)
    assert results["webhook"].startswith("failed") and results["email"] == "sent"
    assert len(posts) == 1 and len(mails) == 1
    assert "the migration goes on" in caplog.text


def test_unreachable_and_hanging_channels_never_raise_or_block(connections):
    with smtp_sink(silent=True) as (silent_port, _):
        connections(closed_port(), silent_port)
        results = dispatch(Alert("stalled", "acme", None, None, None, "no progress", None, None, None),
                           channels(_alerts(timeout=0.5)), timeout_seconds=0.5)
    assert results["webhook"].startswith("failed")          # connection refused, reported
    assert results["email"] == "timed out after 0s" or results["email"].startswith("timed out")  # never greets


def test_no_channels_configured_means_no_callback(config):
    from include.migration.orchestration.dag_factory import build_dag

    dag = build_dag(config.installation("acme"), config)
    assert not dag.default_args.get("on_failure_callback")
    with_alerts = config.model_copy(update={"alerts": _alerts()})
    dag = build_dag(config.installation("acme"), with_alerts)
    (callback,) = dag.default_args["on_failure_callback"]
    assert isinstance(callback, MigrationFailureNotifier) and callback.installation_id == "acme"
    assert all(task.on_failure_callback for task in dag.tasks)
