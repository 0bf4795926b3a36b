"""Client of the remote data-migration API, on the http provider's hook.

One ``requests`` session (from ``HttpHook.get_conn``) is reused for every page.
429, 5xx, connection errors, timeouts and unreadable bodies are retried with
exponential backoff, honouring ``Retry-After``; other 4xx are fatal. A 422
whose body names a column is the remote refusing a value that does not fit its
declared type: a :class:`~include.migration.values.errors.ConversionError`. Messages
name the installation, data type and cursor, never the token (a response that
echoes it is redacted). A page or status document that names another
installation (``"installation"``, when the remote sends it) is refused.

Pages come as JSON, or as Arrow IPC streams (``page_format="arrow"``) from a
remote with the ``arrow-pages`` capability; a remote that answers an Arrow
request with JSON is read as JSON.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import requests
import tenacity

from include.migration.errors import FatalError, RetryableError
from include.migration.source.arrow_pages import ARROW_MEDIA_TYPE, ArrowPageError, decode_page
from include.migration.values.errors import ConversionError

if TYPE_CHECKING:
    import pyarrow as pa

STATUS_PATH = "/data-migration/status"
# How much of an error body a message quotes: enough for a remote's sentence on what to do.
ERROR_BODY_CHARS = 300
VALUE_DOES_NOT_FIT = "value does not fit"
"""The ``error`` of a 422 body that refuses a source value (it names ``key`` and ``column``)."""


def wire_key(key: Any) -> Any:
    """A key as a query parameter: the value, or for a composite key (a tuple) a JSON array of its values."""
    return json.dumps(list(key), ensure_ascii=False, separators=(",", ":")) if isinstance(key, tuple) else key


def key_value(wire: Any) -> Any:
    """A key as the remote sends it in JSON, back as the package holds keys: a composite key's array as a tuple."""
    return tuple(wire) if isinstance(wire, list) else wire


class RemoteRetryableError(RetryableError):
    """A transient remote failure; carries the server's ``Retry-After`` when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RemoteFatalError(FatalError):
    """The remote refused the request in a way retrying cannot fix."""


class RemoteResponseError(FatalError):
    """The remote's answer does not follow the contract."""


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of the data endpoint."""

    headers: list[str]
    data: list[list[Any]]
    after_id: Any
    after_updated_at: Any = None
    table: pa.Table | None = None
    """The rows of an Arrow page (``data`` is then empty)."""

    @property
    def row_count(self) -> int:
        return self.table.num_rows if self.table is not None else len(self.data)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure."""

    attempts: int = 6
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 120.0


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


class RemoteClient:
    """Talks to one installation's remote with its own bearer token."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        token: str,
        installation_id: str,
        *,
        policy: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self.installation_id = installation_id
        self.policy = policy
        self._sleep = sleep
        self._token = token
        session.headers.update({"Authorization": f"Bearer {token}", "X-Installation-Id": installation_id})
        self._decoder = msgspec.json.Decoder()
        self.requests_sent = 0
        self.retries = 0

    @classmethod
    def from_conn_id(
        cls,
        conn_id: str,
        installation_id: str,
        *,
        policy: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> RemoteClient:
        """Build from an Airflow HTTP connection whose password holds the installation's token."""
        from airflow.providers.http.hooks.http import HttpHook

        hook = HttpHook(method="GET", http_conn_id=conn_id)
        session = hook.get_conn()
        connection = hook.get_connection(conn_id)
        if not connection.password:
            raise RemoteFatalError(
                f"installation {installation_id!r}: connection {conn_id!r} has no token (set its password)"
            )
        return cls(session, hook.base_url, connection.password, installation_id, policy=policy, sleep=sleep)

    def close(self) -> None:
        self._session.close()

    def status(self) -> dict[str, Any]:
        """The installation's migration status document."""
        body = self._get(STATUS_PATH, {}, what="status")
        if not isinstance(body, dict) or "status" not in body:
            raise RemoteResponseError(f"installation {self.installation_id!r}: status response has no 'status': {body!r:.200}")
        self._check_installation(body, "status")
        return body

    def update_status(self, status: str, evidence: dict[str, Any]) -> dict[str, Any]:
        """Write the installation's migration status back (capability ``status-updates``); idempotent, retried."""
        body = self._get(STATUS_PATH, {}, what=f"status update to {status}", method="PUT",
                         json_body={"status": status, "evidence": evidence})
        if not isinstance(body, dict) or body.get("status") != status:
            raise RemoteResponseError(
                f"installation {self.installation_id!r}: the remote did not store status {status}: {body!r:.200}"
            )
        self._check_installation(body, "status update")
        return body

    def write_rows(
        self, data_type: str, headers: list[str], data: list[list[Any]], deletes: list[Any] = ()  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """Upsert rows and delete keys at the remote (capability ``remote-writes``); a batch is all or nothing.

        Values go in the data pages' wire form. Retried like every call: a batch written twice changes nothing.
        """
        what = f"data type {data_type!r}, writing {len(data)} rows and {len(deletes)} deletes back"
        body = self._get(f"/data-migration/{data_type}/rows", {}, what=what, method="POST", json_body={
            "headers": headers, "data": data, "deletes": list(deletes), "installation": self.installation_id})
        if not isinstance(body, dict) or "upserted" not in body:
            raise RemoteResponseError(f"installation {self.installation_id!r}, {what}: unexpected answer {body!r:.200}")
        self._check_installation(body, what)
        return body

    def fetch_page(self, data_type: str, after: Any, limit: int, page_format: str = "json", **extra: Any) -> Page:
        """One page of ``data_type`` after the cursor ``after`` (None for the first page).

        ``page_format="arrow"`` asks for an Arrow page (capability ``arrow-pages``).
        ``extra`` adds query parameters (``afterUpdatedAt``, ``until``, ``order``), skipping None.
        """
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = wire_key(after)
        params.update({k: v for k, v in extra.items() if v is not None})
        what = f"data type {data_type!r}, cursor {after!r}" + (f" {extra}" if extra else "")
        if page_format == "arrow":
            params["format"] = "arrow"
        body = self._get(f"/data-migration/{data_type}/", params, what=what)
        if isinstance(body, _ArrowBody):
            return self._arrow_page(body, limit, what)
        try:
            headers, data, pagination = body["headers"], body["data"], body["pagination"]
            after_id = pagination["afterId"]
        except (KeyError, TypeError):
            raise RemoteResponseError(
                f"installation {self.installation_id!r}, {what}: the page lacks headers/data/pagination.afterId"
            ) from None
        self._check_installation(body, what)
        if not isinstance(headers, list) or not isinstance(data, list):
            raise RemoteResponseError(f"installation {self.installation_id!r}, {what}: headers and data must be arrays")
        if len(data) > limit:
            raise RemoteResponseError(
                f"installation {self.installation_id!r}, {what}: the page has {len(data)} rows, more than limit {limit}"
            )
        return Page(headers=headers, data=data, after_id=key_value(after_id),
                    after_updated_at=pagination.get("afterUpdatedAt"))

    def _arrow_page(self, body: _ArrowBody, limit: int, what: str) -> Page:
        pagination = body.pagination
        if "afterId" not in pagination:
            raise RemoteResponseError(f"installation {self.installation_id!r}, {what}: the page lacks pagination.afterId")
        self._check_installation({"installation": body.installation}, what)
        if body.table.num_rows > limit:
            raise RemoteResponseError(
                f"installation {self.installation_id!r}, {what}: the page has {body.table.num_rows} rows, "
                f"more than limit {limit}"
            )
        return Page(
            headers=list(body.table.column_names),
            data=[],
            after_id=key_value(pagination["afterId"]),
            after_updated_at=pagination.get("afterUpdatedAt"),
            table=body.table,
        )

    def range_stats(self, data_type: str, after: Any, up_to: Any) -> dict[str, Any]:
        """Count and checksum of the rows with key in (after, up_to] (capability ``range-stats``)."""
        params = {k: wire_key(v) for k, v in (("after", after), ("upTo", up_to)) if v is not None}
        what = f"data type {data_type!r}, statistics of keys ({after!r}, {up_to!r}]"
        body = self._get(f"/data-migration/{data_type}/stats", params, what=what)
        if not isinstance(body, dict) or "count" not in body or "checksum" not in body:
            raise RemoteResponseError(f"installation {self.installation_id!r}, {what}: no count/checksum: {body!r:.200}")
        return body

    def row_hashes(self, data_type: str, after: Any, up_to: Any, limit: int) -> tuple[list[Any], list[int], Any]:
        """One page of (key, row hash) in (after, up_to] (capability ``row-hashes``): keys, hashes, afterId."""
        params: dict[str, Any] = {"limit": limit}
        params.update({k: wire_key(v) for k, v in (("after", after), ("upTo", up_to)) if v is not None})
        what = f"data type {data_type!r}, row hashes after {after!r} up to {up_to!r}"
        body = self._get(f"/data-migration/{data_type}/hashes", params, what=what)
        try:
            keys, hashes = [key_value(k) for k in body["keys"]], [int(h) for h in body["hashes"]]
            after_id = key_value(body["pagination"]["afterId"])
        except (KeyError, TypeError, ValueError):
            raise RemoteResponseError(f"installation {self.installation_id!r}, {what}: malformed hash listing") from None
        if len(keys) != len(hashes):
            raise RemoteResponseError(f"installation {self.installation_id!r}, {what}: keys and hashes differ in length")
        return keys, hashes, after_id

    def _check_installation(self, body: dict[str, Any], what: str) -> None:
        owner = body.get("installation")
        if owner is not None and owner != self.installation_id:
            raise RemoteResponseError(
                f"installation {self.installation_id!r}, {what}: the remote answered with installation "
                f"{owner!r}'s data; nothing was written and the checkpoint has not moved. The remote mixes up "
                "installations: check its token scoping before re-running"
            )

    def _redact(self, text: str) -> str:
        """``text`` without the token (a remote may echo request headers in an error page)."""
        return text.replace(self._token, "<redacted>") if self._token else text

    def _get(
        self, path: str, params: Mapping[str, Any], *, what: str, method: str = "GET", json_body: Any = None
    ) -> Any:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(RemoteRetryableError),
            sleep=self._sleep,
            reraise=True,
            before_sleep=self._count_retry,
        )
        try:
            return retrying(self._get_once, path, params, what, method, json_body)
        except RemoteRetryableError as exc:
            raise RemoteRetryableError(
                f"{exc}; gave up after {self.policy.attempts} attempts: the checkpoint has not moved past this "
                "request, re-run when the remote is healthy",
                retry_after=exc.retry_after,
            ) from None

    def _count_retry(self, _state: tenacity.RetryCallState) -> None:
        self.retries += 1

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        backoff = min(self.policy.max_seconds, self.policy.base_seconds * 2 ** (state.attempt_number - 1))
        backoff *= 0.5 + random.random() / 2  # jitter: many workers must not retry in lockstep
        if isinstance(error, RemoteRetryableError) and error.retry_after is not None:
            return min(max(error.retry_after, backoff), self.policy.max_seconds * 4)
        return backoff

    def _get_once(
        self, path: str, params: Mapping[str, Any], what: str, method: str = "GET", json_body: Any = None
    ) -> Any:
        where = f"installation {self.installation_id!r}, {what}"
        self.requests_sent += 1
        try:
            response = self._session.request(
                method,
                self._base_url + path,
                params=params,
                json=json_body,
                timeout=(self.policy.connect_timeout, self.policy.read_timeout),
            )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise RemoteRetryableError(
                f"{where}: {type(exc).__name__} talking to the remote: {self._redact(str(exc))}"
            ) from None
        except requests.RequestException as exc:
            raise RemoteFatalError(f"{where}: request failed: {self._redact(str(exc))}") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise RemoteRetryableError(
                f"{where}: the remote answered HTTP {status}: {self._redact(response.text)[:ERROR_BODY_CHARS]!r}",
                retry_after=_parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == 422:
            refusal = self._refusal(response, where)
            if refusal is not None:
                raise refusal
        if status >= 400:
            if status in (401, 403):
                hint = " (the token is missing, wrong or scoped to another installation)"
                next_step = "check the connection's token (its password) and installation, then re-run"
            else:
                hint, next_step = "", "retrying cannot help: fix the request or the remote, then re-run"
            raise RemoteFatalError(
                f"{where}: the remote answered HTTP {status}{hint}: {self._redact(response.text)[:ERROR_BODY_CHARS]!r}; {next_step}"
            )
        if response.headers.get("Content-Type", "").startswith(ARROW_MEDIA_TYPE):
            try:
                table, installation, pagination = decode_page(response.content)
            except (ArrowPageError, requests.RequestException) as exc:
                raise RemoteRetryableError(f"{where}: the response is not a complete Arrow page ({exc})") from None
            return _ArrowBody(table, installation, pagination)
        try:
            return self._decoder.decode(response.content)
        except (msgspec.DecodeError, requests.RequestException) as exc:
            # A body cut short by a dropped connection decodes as malformed: worth another try.
            raise RemoteRetryableError(f"{where}: the response is not valid JSON ({exc})") from None

    def _refusal(self, response: requests.Response, where: str) -> ConversionError | None:
        """The :class:`ConversionError` of a 422 that refuses a value (``key``, ``column``), None for another 422."""
        try:
            body = self._decoder.decode(response.content)
        except (msgspec.DecodeError, requests.RequestException):
            return None
        if not isinstance(body, dict) or "column" not in body or "key" not in body:
            return None
        column_type = f" ({body['columnType']})" if body.get("columnType") else ""
        detail = body.get("detail") or body.get("error") or VALUE_DOES_NOT_FIT
        message = (
            f"{where}, key {body['key']!r}, column {body['column']!r}{column_type}: the remote refused to serve "
            f"this value, it does not fit its declared type (HTTP 422): {detail}; value {body.get('value')!r:.120}. "
            "Fix the value at the source or the column type in the configuration, then re-run: "
            "the checkpoint has not moved past this page"
        )
        return ConversionError(self._redact(message))


@dataclasses.dataclass(frozen=True)
class _ArrowBody:
    table: pa.Table
    installation: str | None
    pagination: dict[str, Any]
