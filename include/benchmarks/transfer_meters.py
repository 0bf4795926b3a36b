"""What the transfer case measures besides time: every statement the target runs, and the HTTP bytes received."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


class CountingTarget:
    """Delegates to a TargetDatabase and records each multi-row statement: (start, duration, bytes).

    Every other request (checkpoint updates, state reads) is recorded apart in ``others``:
    a Forge SQL request budget counts those too.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.statements: list[tuple[float, float, int]] = []
        self.others: list[tuple[float, float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """The target's ``execute``, its time recorded in ``others``."""
        began = time.monotonic()
        try:
            return self._inner.execute(sql, params)
        finally:
            self.others.append((began, time.monotonic() - began))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The target's ``query``, its time recorded in ``others``."""
        began = time.monotonic()
        try:
            return self._inner.query(sql, params)
        finally:
            self.others.append((began, time.monotonic() - began))

    def execute_values(self, prefix: str, rendered: Sequence[Any], width: int, suffix: str) -> int:
        """The target's multi-row statement, recorded in ``statements`` as (start, duration, bytes)."""
        began = time.monotonic()
        count = self._inner.execute_values(prefix, rendered, width, suffix)
        self.statements.append((began, time.monotonic() - began, int(self._inner.last_statement_bytes)))
        return count


def count_http_bytes(client: Any) -> list[int]:
    """A counter ``[bytes, responses]`` the client's session adds every response to."""
    counter = [0, 0]
    session = getattr(client, "_session", None)
    if session is not None:

        def hook(response: Any, *args: Any, **kwargs: Any) -> None:
            counter[0] += len(response.content)
            counter[1] += 1

        session.hooks.setdefault("response", []).append(hook)
    return counter
