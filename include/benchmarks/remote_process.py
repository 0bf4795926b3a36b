"""The bench's reference remote as a process of its own: started, restarted when stopped from outside, stopped."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from include.benchmarks.common import CONFIG_PATH, LOG_DIR, ROOT, SOURCE_URL, WORK_DIR, say


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Remote:
    """The reference remote, served by uvicorn in its own process (no GIL shared with the transfer)."""

    def __init__(self, tokens: dict[str, str], env: dict[str, str]) -> None:
        self.tokens = tokens
        self.env = env
        self.port = _free_port()
        self.tokens_file = WORK_DIR / "tokens.json"
        self.tokens_file.write_text(json.dumps(tokens), encoding="utf-8")
        self.log = open(LOG_DIR / "remote.log", "a", encoding="utf-8")  # noqa: SIM115
        self.url = f"http://127.0.0.1:{self.port}"
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "include.benchmarks.remote",
                "serve",
                "--source-url",
                SOURCE_URL,
                "--config",
                str(CONFIG_PATH),
                "--tokens-file",
                str(self.tokens_file),
                "--port",
                str(self.port),
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self._wait_ready()

    def ensure_running(self) -> bool:
        """Restart the remote on the same port when something stopped it; True when it had to."""
        if self.process.poll() is None:
            return False
        say(
            f"the remote (pid {self.process.pid}) was stopped from outside (exit {self.process.returncode}); "
            "restarting it on the same port"
        )
        self.restarts += 1
        self._start()
        return True

    def _wait_ready(self) -> None:
        import requests

        token = next(iter(self.tokens.values()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: the remote exited at start; see {LOG_DIR / 'remote.log'}")
            try:
                response = requests.get(
                    f"{self.url}/data-migration/status", headers={"Authorization": f"Bearer {token}"}, timeout=2
                )
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit("bench: the remote did not answer within 60 s")

    def client(self, installation: str) -> Any:
        """A RemoteClient of ``installation`` against this remote."""
        import requests

        from include.migration.source.client import RemoteClient

        return RemoteClient(requests.Session(), self.url, self.tokens[installation], installation)

    def stop(self) -> None:
        """Stop the remote (SIGINT, then kill after 15 s) and close its log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
