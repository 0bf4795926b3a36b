"""Transfers on the real services: PostgreSQL source, the remote on loopback, MariaDB targets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from include.migration.orchestration import runtime
from include.migration.source.client import RemoteClient, RemoteFatalError
from include.migration.values.timestamps import wire_timestamp
from tests.conftest import DB_PREFIX, ROOT, ROWS_PER_TYPE, mariadb_connection, target_database_name
from tests.support import source_rows, state_rows, target_rows


@pytest.fixture
def ready(remote, fresh_targets):
    return fresh_targets


def test_transfer_copies_every_row_exactly(ready, config, source_url):
    runtime.prepare_target("acme")
    for spec in config.data_types:
        result = runtime.transfer("acme", spec.name, "run-1")
        assert result["done"] is True
        assert result["rows"] == ROWS_PER_TYPE
        expected = source_rows(source_url, spec, "acme")
        if spec.cursor_mode == "updated_at":  # the last row in (updated_at, key) order
            index = spec.column_names.index(spec.updated_at_column)
            updated_at, key = max((row[index], row[0]) for row in expected)
            assert result["checkpoint"] == {"updated_at": wire_timestamp(updated_at), "key": key}
        else:
            assert result["checkpoint"] == ROWS_PER_TYPE
        assert len(expected) == ROWS_PER_TYPE
        assert target_rows("acme", spec) == expected
    state = state_rows("acme")
    assert json.loads(state["data_type:users"]["checkpoint"]) == ROWS_PER_TYPE
    assert state["data_type:users"]["rows_copied"] == ROWS_PER_TYPE
    # A second pass finds nothing new and copies nothing.
    again = runtime.transfer("acme", "users", "run-2")
    assert (again["rows"], again["done"], again["checkpoint"]) == (0, True, ROWS_PER_TYPE)


def test_budget_stops_and_next_run_resumes_from_checkpoint(ready, config, source_url):
    runtime.prepare_target("globex", ["comments"])
    first = runtime.transfer("globex", "comments", "run-1", budget_seconds=0.0)
    # A zero budget still commits the page in flight, then stops.
    assert first["done"] is False and first["rows"] == 1000 and first["checkpoint"] == 1000
    assert json.loads(state_rows("globex")["data_type:comments"]["checkpoint"]) == 1000
    rest = runtime.transfer("globex", "comments", "run-2")
    assert rest["done"] is True and rest["rows"] == ROWS_PER_TYPE - 1000
    spec = config.data_type("comments")
    assert target_rows("globex", spec) == source_rows(source_url, spec, "globex")


def test_statements_never_exceed_the_profile_byte_limit(ready, config, source_url):
    """Read what the server received (its general log file, raw bytes), not what we think we sent."""
    admin = mariadb_connection()
    cursor = admin.cursor()
    cursor.execute("SELECT @@datadir")
    log_file = Path(cursor.fetchone()[0]) / f"{DB_PREFIX}_general.log"
    log_file.unlink(missing_ok=True)
    admin.query("SET GLOBAL log_output = 'FILE'")
    admin.query(f"SET GLOBAL general_log_file = '{log_file.name}'")  # written by the server, in its datadir
    admin.query("SET GLOBAL general_log = 'ON'")
    try:
        runtime.prepare_target("tiny")
        result = runtime.transfer("tiny", "issues", "run-1")
    finally:
        admin.query("SET GLOBAL general_log = 'OFF'")
        admin.close()
    lines = log_file.read_bytes().splitlines()
    log_file.unlink()
    sizes = _insert_sizes(lines, database=target_database_name("tiny"), table="issues")
    assert result["done"] and result["rows"] == ROWS_PER_TYPE
    assert len(sizes) == result["statements"] > result["pages"]  # pages had to be split
    assert max(sizes) <= 16384
    assert max(sizes) > 16384 * 0.8  # and statements are filled close to the limit
    spec = config.data_type("issues")
    assert target_rows("tiny", spec) == source_rows(source_url, spec, "tiny")


_LOG_LINE = re.compile(rb"^(?:\d{6}\s+[\d:]+)?\s+(\d+) (\w[\w ]*?)\t(.*)$")


def _insert_sizes(lines: list[bytes], *, database: str, table: str) -> list[int]:
    """Byte sizes of the INSERTs into ``table`` sent by connections to ``database`` (other suites may share the server)."""
    ours: set[bytes] = set()
    sizes = []
    for line in lines:
        match = _LOG_LINE.match(line)
        if not match:
            continue
        thread, command, argument = match.groups()
        if command == b"Connect" and f" on {database} ".encode() in argument + b" ":
            ours.add(thread)
        elif command == b"Query" and thread in ours and argument.startswith(f"INSERT INTO `{table}` ".encode()):
            # Escaped values keep each statement on one line (newlines in data travel as \n).
            sizes.append(len(argument))
    return sizes


def test_killed_transfer_resumes_without_loss_or_duplicates(ready, config, source_url):
    """SIGKILL a real transfer process mid-run; the re-run continues from the durable checkpoint."""
    runtime.prepare_target("acme", ["users"])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "include.migration.views.cli", "transfer", "acme", "users"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    checkpoint = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = state_rows("acme").get("data_type:users")
        checkpoint = json.loads(state["checkpoint"]) if state and state["checkpoint"] else None
        if checkpoint and checkpoint >= 1000:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the transfer finished before it could be killed"
    killed_at = json.loads(state_rows("acme")["data_type:users"]["checkpoint"])
    assert 1000 <= killed_at < ROWS_PER_TYPE
    # The same run again (the CLI's run id), as a retry of the killed task: it takes the dead try's lease over.
    result = runtime.transfer("acme", "users", "cli")
    assert result["done"] is True
    assert result["rows"] == ROWS_PER_TYPE - killed_at  # resumed exactly after the checkpoint
    spec = config.data_type("users")
    assert target_rows("acme", spec) == source_rows(source_url, spec, "acme")


def test_a_token_reads_only_its_own_installation(remote, source_url, config):
    acme = RemoteClient.from_conn_id("migration_remote_acme", "acme")
    page = acme.fetch_page("users", None, 50)
    expected = source_rows(source_url, config.data_type("users"), "acme")[:50]
    assert [row[0] for row in page.data] == [row[0] for row in expected]
    assert [row[1] for row in page.data] == [row[1] for row in expected]  # acme's emails, not globex's
    globex_rows = source_rows(source_url, config.data_type("users"), "globex")[:50]
    assert [row[1] for row in page.data] != [row[1] for row in globex_rows]
    # Asking for another installation with acme's token is refused, never answered with its rows.
    spoof = RemoteClient.from_conn_id("migration_remote_acme", "globex")
    with pytest.raises(RemoteFatalError, match="HTTP 403"):
        spoof.fetch_page("users", None, 50)
