"""Tiny real servers on loopback for alert tests: a webhook receiver and an SMTP sink."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def webhook_server(status: int = 200) -> Iterator[tuple[int, list[dict]]]:
    """Collects JSON POST bodies; answers ``status``. Yields (port, received)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("Content-Length", 0))
            received.append({"path": self.path, "body": json.loads(self.rfile.read(length) or b"null")})
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_sink(silent: bool = False) -> Iterator[tuple[int, list[dict]]]:
    """A minimal SMTP server storing each message; ``silent`` accepts connections but never greets."""
    messages: list[dict] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            if silent:
                self.request.recv(1)  # hold the connection open without a banner
                return
            self.wfile.write(b"220 sink ESMTP\r\n")
            envelope: dict = {"rcpt": []}
            while line := self.rfile.readline():
                command = line.decode(errors="replace").strip()
                upper = command.upper()
                if upper.startswith(("EHLO", "HELO")):
                    self.wfile.write(b"250 sink\r\n")
                elif upper.startswith("MAIL FROM"):
                    envelope["from"] = command[10:]
                    self.wfile.write(b"250 OK\r\n")
                elif upper.startswith("RCPT TO"):
                    envelope["rcpt"].append(command[8:])
                    self.wfile.write(b"250 OK\r\n")
                elif upper == "DATA":
                    self.wfile.write(b"354 end with .\r\n")
                    data = []
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data.append(chunk)
                    envelope["data"] = b"".join(data).decode(errors="replace")
                    messages.append(envelope)
                    envelope = {"rcpt": []}
                    self.wfile.write(b"250 queued\r\n")
                elif upper == "QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 OK\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], messages
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
