"""Failure and stalled alerts: one message, sent to every configured channel, never in the way.

The channels are the providers' notifiers (``SmtpNotifier``, ``HttpNotifier``),
configured once in the ``alerts`` block of the migration configuration. Each is
called in its own thread with a time limit; a channel that fails or hangs is
logged and skipped, so alerting never fails or slows the migration.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from airflow.sdk import BaseNotifier

from include.migration.configuration.config import AlertsSpec

log = logging.getLogger(__name__)
Send = Callable[["Alert"], None]


@dataclasses.dataclass(frozen=True)
class Alert:
    """What an alert says, whatever the channel."""

    kind: str  # "failure" or "stalled"
    installation: str
    data_type: str | None
    task: str | None
    try_number: int | None
    error: str
    log_url: str | None
    dag_id: str | None
    run_id: str | None

    @property
    def subject(self) -> str:
        where = f"{self.installation}" + (f" / {self.data_type}" if self.data_type else "")
        if self.kind == "stalled":
            return f"[migration] {where}: no progress"
        return f"[migration] {where}: {self.task} failed (try {self.try_number})"

    @property
    def text(self) -> str:
        lines = [
            self.subject,
            f"installation: {self.installation}",
            f"data type: {self.data_type or '-'}",
            f"task: {self.task or '-'}  try: {self.try_number if self.try_number is not None else '-'}",
            f"run: {self.dag_id or '-'} / {self.run_id or '-'}",
            f"error: {self.error}",
        ]
        if self.log_url:
            lines.append(f"log: {self.log_url}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "subject": self.subject, "text": self.text}


def alert_from_context(context: Any, installation_id: str) -> Alert:
    """Build a failure alert from an Airflow task context."""
    ti = context.get("ti") or context.get("task_instance")
    map_index = getattr(ti, "map_index", -1)
    data_type = getattr(ti, "rendered_map_index", None) or (str(map_index) if map_index not in (None, -1) else None)
    error = context.get("exception")
    return Alert(
        kind="failure",
        installation=installation_id,
        data_type=data_type,
        task=getattr(ti, "task_id", None),
        try_number=getattr(ti, "try_number", None),
        error=f"{type(error).__name__}: {error}" if error is not None else "unknown error",
        log_url=getattr(ti, "log_url", None),
        dag_id=getattr(ti, "dag_id", None),
        run_id=getattr(ti, "run_id", None) or context.get("run_id"),
    )


def channels(alerts: AlertsSpec) -> list[tuple[str, Send]]:
    """The configured channels as (name, send) pairs; built lazily so DAG parsing stays cheap."""
    out: list[tuple[str, Send]] = []
    if alerts.email is not None:
        email = alerts.email

        def send_email(alert: Alert) -> None:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            notifier = SmtpNotifier(
                to=list(email.to),
                from_email=email.from_email,
                subject=alert.subject,
                html_content="<pre>" + _html_escape(alert.text) + "</pre>",
                smtp_conn_id=email.smtp_conn_id,
            )
            notifier.notify({})

        out.append(("email", send_email))
    if alerts.webhook is not None:
        webhook = alerts.webhook

        def send_webhook(alert: Alert) -> None:
            from airflow.providers.http.notifications.http import HttpNotifier

            notifier = HttpNotifier(
                http_conn_id=webhook.http_conn_id,
                endpoint=webhook.endpoint,
                json=alert.as_dict(),
                extra_options={"timeout": alerts.timeout_seconds},
            )
            notifier.notify({})

        out.append(("webhook", send_webhook))
    return out


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def dispatch(alert: Alert, targets: Sequence[tuple[str, Send]], timeout_seconds: float) -> dict[str, str]:
    """Send ``alert`` to every channel at once; returns channel -> "sent" | "failed: ..." | "timed out"."""
    results: dict[str, str] = {}
    threads = []

    def run(name: str, send: Send) -> None:
        try:
            send(alert)
            results[name] = "sent"
        except Exception as exc:  # noqa: BLE001 - an alert channel must never break the migration
            results[name] = f"failed: {type(exc).__name__}: {exc}"

    for name, send in targets:
        thread = threading.Thread(target=run, args=(name, send), name=f"alert-{name}", daemon=True)
        thread.start()
        threads.append((name, thread))
    for name, thread in threads:
        thread.join(timeout_seconds)
        if thread.is_alive():
            results[name] = f"timed out after {timeout_seconds:.0f}s"
    for name, outcome in results.items():
        if outcome == "sent":
            log.info("alert %r sent via %s", alert.subject, name)
        else:
            log.warning("alert %r via %s %s (the migration goes on)", alert.subject, name, outcome)
    return results


class MigrationFailureNotifier(BaseNotifier):
    """``on_failure_callback`` of every migration task: one message to all configured channels."""

    def __init__(self, installation_id: str, alerts: AlertsSpec) -> None:
        super().__init__()
        self.installation_id = installation_id
        self.alerts = alerts

    def notify(self, context: Any) -> None:
        try:
            alert = alert_from_context(context, self.installation_id)
        except Exception:  # noqa: BLE001
            log.exception("could not build the failure alert")
            return
        dispatch(alert, channels(self.alerts), self.alerts.timeout_seconds)
