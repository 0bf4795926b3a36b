"""A fault-injecting HTTP proxy in front of the reference remote, for the fault suite.

The proxy forwards every request to the real remote unless a scripted
:class:`Rule` matches it; the rule's :class:`Fault` then decides what the
client sees (an error status, a slow answer, a connection reset mid-body, an
edited page, ...). Data pages are numbered per data type by their cursor, in
order of first appearance, so a rule can aim at "page 2 of users" and also
hit the client's retries of that same page. Batches written back
(``POST /data-migration/<type>/rows``) are numbered the same way by their
body, and only rules with ``write=True`` match them. ``pages_served`` counts
the data pages the remote answered, by Content-Type, so a case can show which
page format it really fetched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.faults.page_edits import PageEdit

DATA_PREFIX = "/data-migration/"
_UPSTREAM_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class Upstream:
    """The remote's answer to a forwarded request."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclasses.dataclass(frozen=True)
class Request:
    """What the client asked for, as the proxy saw it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    data_type: str | None
    page: int | None
    method: str = "GET"
    body: bytes = b""

    @property
    def write(self) -> bool:
        return self.method != "GET"


class Exchange:
    """One request in flight: the fault writes the response through it."""

    def __init__(self, handler: BaseHTTPRequestHandler, request: Request, forward: Callable[..., Upstream]) -> None:
        self.handler = handler
        self.request = request
        self._forward = forward

    def upstream(self, headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> Upstream:
        """Forward the request to the remote (optionally with replaced headers or query) and return its answer."""
        request = self.request if query is None else dataclasses.replace(self.request, query=query)
        return self._forward(request, headers)

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Send a complete response."""
        self.send_head(status, len(body), headers)
        self.handler.wfile.write(body)
        self.handler.wfile.flush()

    def send_head(self, status: int, length: int, headers: dict[str, str] | None = None) -> None:
        handler = self.handler
        extra = dict(headers or {})
        content_type = next((extra.pop(k) for k in list(extra) if k.lower() == "content-type"), "application/json")
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(length))
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()

    def reset(self) -> None:
        """Abort the connection with a TCP RST instead of a clean close."""
        self.handler.wfile.flush()
        self.handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.handler.connection.close()


class Fault:
    """What the client sees instead of the remote's answer; subclasses override :meth:`respond`."""

    def respond(self, exchange: Exchange) -> None:
        upstream = exchange.upstream()
        exchange.send(upstream.status, upstream.body, _passed_headers(upstream))

    def __repr__(self) -> str:
        return type(self).__name__


def _passed_headers(upstream: Upstream) -> dict[str, str]:
    return {
        k: v for k, v in upstream.headers.items() if k.lower() in ("retry-after", "www-authenticate", "content-type")
    }


@dataclasses.dataclass
class Rule:
    """Apply ``fault`` to matching requests, at most ``times`` times (None: every time)."""

    fault: Fault
    data_type: str | None = None
    page: int | None = None
    times: int | None = 1
    write: bool = False
    hits: int = 0

    def matches(self, request: Request) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.data_type is not None and request.write != self.write:
            return False
        if self.data_type is not None and request.data_type != self.data_type:
            return False
        return self.page is None or request.page == self.page


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 in front of ``upstream_url``; see the module docs."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._cursors: dict[str, list[Any]] = {}
        self.errors: list[BaseException] = []
        self.pages_served: Counter[str] = Counter()
        """Data pages the remote answered with 200 (faults that forward included), by media type."""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                proxy._handle(self)

            def do_POST(self) -> None:  # noqa: N802
                proxy._handle(self)

            def do_PUT(self) -> None:  # noqa: N802
                proxy._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def script(self, *rules: Rule) -> None:
        """Replace the scripted faults (and forget page numbering)."""
        with self._lock:
            self._rules = list(rules)
            self._cursors.clear()

    def clear(self) -> None:
        """No faults: forward everything."""
        self.script()

    def hits(self) -> int:
        """How many requests the scripted faults answered."""
        with self._lock:
            return sum(rule.hits for rule in self._rules)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _classify(self, handler: BaseHTTPRequestHandler) -> Request:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        method = handler.command
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        data_type = page = None
        rest = parts.path[len(DATA_PREFIX):] if parts.path.startswith(DATA_PREFIX) else ""
        name = rest.rstrip("/")
        if method == "POST" and name.endswith("/rows") and name.count("/") == 1:
            data_type = name.split("/")[0]
            page = self._number(f"write:{data_type}", hashlib.sha256(body).hexdigest())
        elif name and "/" not in name and name != "status":
            data_type = name
            cursor = tuple(sorted((k, v) for k, v in query.items() if k in ("after", "afterUpdatedAt")))
            page = self._number(data_type, cursor)
        return Request(parts.path, query, dict(handler.headers.items()), data_type, page, method, body)

    def _number(self, series: str, identity: Any) -> int:
        """The position of ``identity`` among the requests of ``series`` (a retry keeps its number)."""
        seen = self._cursors.setdefault(series, [])
        if identity not in seen:
            seen.append(identity)
        return seen.index(identity) + 1

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            request = self._classify(handler)
            rule = next((r for r in self._rules if r.matches(request)), None)
            if rule is not None:
                rule.hits += 1
        fault = rule.fault if rule is not None else Fault()
        try:
            fault.respond(Exchange(handler, request, self._forward))
        except OSError:
            pass  # the client gave up (its read timeout) or we reset the connection on purpose
        except Exception as exc:  # noqa: BLE001 - a broken fault must fail the test, not pass as a dropped connection
            self.errors.append(exc)
        handler.close_connection = True

    def _forward(self, request: Request, replaced: dict[str, str] | None) -> Upstream:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "connection")}
        if replaced:
            lower = {k.lower() for k in replaced}
            headers = {k: v for k, v in headers.items() if k.lower() not in lower} | replaced
        target = request.path + ("?" + urlencode(request.query) if request.query else "")
        conn = http.client.HTTPConnection(*self._upstream, timeout=_UPSTREAM_TIMEOUT)
        try:
            conn.request(request.method, target, body=request.body or None, headers=headers)
            response = conn.getresponse()
            upstream = Upstream(response.status, dict(response.getheaders()), response.read())
        finally:
            conn.close()
        if request.page is not None and not request.write and upstream.status == 200:
            content_type = next((v for k, v in upstream.headers.items() if k.lower() == "content-type"), "")
            with self._lock:
                self.pages_served[content_type.split(";")[0].strip()] += 1
        return upstream


# --- faults ---------------------------------------------------------------------------------------


@dataclasses.dataclass(repr=False)
class Status(Fault):
    """Answer with ``status`` (and headers such as Retry-After) without asking the remote."""

    status: int
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b'{"detail": "injected failure"}'

    def respond(self, exchange: Exchange) -> None:
        exchange.send(self.status, self.body, self.headers)

    def __repr__(self) -> str:
        return f"Status({self.status})"


@dataclasses.dataclass(repr=False)
class AnswerLost(Fault):
    """Forward (the remote does the work, a write commits), then answer ``status`` instead: the answer is lost."""

    status: int = 503

    def respond(self, exchange: Exchange) -> None:
        upstream = exchange.upstream()
        assert upstream.status == 200, upstream.body[:500]
        exchange.send(self.status, b'{"detail": "injected failure after the remote answered"}')

    def __repr__(self) -> str:
        return f"AnswerLost({self.status})"


@dataclasses.dataclass(repr=False)
class EchoHeaders(Fault):
    """A careless remote: answers ``status`` with the request headers (token included) in the body."""

    status: int = 403

    def respond(self, exchange: Exchange) -> None:
        headers = exchange.request.headers
        # The credentials first: within the excerpt of the body that a client quotes in its error.
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        body = json.dumps({"authorization": authorization, "detail": "forbidden", "request_headers": headers}).encode()
        exchange.send(self.status, body)


@dataclasses.dataclass(repr=False)
class Delay(Fault):
    """Wait ``seconds`` before answering (past the client's read timeout), then forward."""

    seconds: float

    def respond(self, exchange: Exchange) -> None:
        time.sleep(self.seconds)
        super().respond(exchange)


class ResetMidBody(Fault):
    """Announce the whole body, send half of it, then reset the connection."""

    def respond(self, exchange: Exchange) -> None:
        upstream = exchange.upstream()
        exchange.send_head(upstream.status, len(upstream.body), _passed_headers(upstream))
        exchange.handler.wfile.write(upstream.body[: len(upstream.body) // 2])
        exchange.reset()


class Truncate(Fault):
    """A well-formed HTTP response whose body (JSON or Arrow) is cut in half."""

    def respond(self, exchange: Exchange) -> None:
        upstream = exchange.upstream()
        exchange.send(upstream.status, upstream.body[: len(upstream.body) // 2], _passed_headers(upstream))


@dataclasses.dataclass(repr=False)
class Malformed(Fault):
    """200 with a body that is not what its Content-Type says (by default: HTML labelled as JSON)."""

    body: bytes = b"<html><body>502 Bad Gateway</body></html>"
    content_type: str = "application/json"

    def respond(self, exchange: Exchange) -> None:
        exchange.send(200, self.body, {"Content-Type": self.content_type})


@dataclasses.dataclass(repr=False)
class EditPage(Fault):
    """Forward, then change the page with ``edit`` (which returns the new body)."""

    edit: PageEdit

    def respond(self, exchange: Exchange) -> None:
        upstream = exchange.upstream()
        body = json.dumps(self.edit(upstream.json())).encode()
        exchange.send(upstream.status, body)


class FirstPageAgain(Fault):
    """Answer with the first page whatever the cursor (a remote that ignores ``after``)."""

    def respond(self, exchange: Exchange) -> None:
        first = {k: v for k, v in exchange.request.query.items() if k not in ("after", "afterUpdatedAt")}
        upstream = exchange.upstream(query=first)
        exchange.send(upstream.status, upstream.body)


@dataclasses.dataclass(repr=False)
class AsInstallation(Fault):
    """Forward with another installation's token: the page holds that installation's rows."""

    installation: str
    token: str

    def respond(self, exchange: Exchange) -> None:
        upstream = exchange.upstream({"Authorization": f"Bearer {self.token}", "X-Installation-Id": self.installation})
        exchange.send(upstream.status, upstream.body, _passed_headers(upstream))


@dataclasses.dataclass(repr=False)
class Stall(Fault):
    """Send the head and half the body, set ``reached``, then hold the connection until ``release``."""

    reached: threading.Event = dataclasses.field(default_factory=threading.Event)
    release: threading.Event = dataclasses.field(default_factory=threading.Event)

    def respond(self, exchange: Exchange) -> None:
        upstream = exchange.upstream()
        exchange.send_head(upstream.status, len(upstream.body), _passed_headers(upstream))
        exchange.handler.wfile.write(upstream.body[: len(upstream.body) // 2])
        exchange.handler.wfile.flush()
        self.reached.set()
        self.release.wait(60)


@dataclasses.dataclass(repr=False)
class Before(Fault):
    """Run ``action``, then forward: a moment to hurt the target mid-transfer."""

    action: Callable[[], None]

    def respond(self, exchange: Exchange) -> None:
        self.action()
        super().respond(exchange)
