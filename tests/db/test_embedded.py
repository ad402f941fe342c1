"""The embedded PostgreSQL that `make run` and the tests use when no DATABASE_URL is given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from service.db import embedded


def test_processes_that_died_are_dropped_from_the_servers_users(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    handles = tmp_path / embedded.HANDLES_FILE
    handles.write_text(json.dumps([dead, os.getpid()]))

    embedded._forget_dead_users(tmp_path)

    # Only live users keep the server running; the dead one would have kept it up forever.
    assert json.loads(handles.read_text()) == [os.getpid()]


def test_a_missing_or_unreadable_list_is_left_alone(tmp_path: Path) -> None:
    embedded._forget_dead_users(tmp_path)
    assert not (tmp_path / embedded.HANDLES_FILE).exists()
    (tmp_path / embedded.HANDLES_FILE).write_text("not json")
    embedded._forget_dead_users(tmp_path)
    assert (tmp_path / embedded.HANDLES_FILE).read_text() == "not json"


def test_a_temporary_server_is_stopped_and_removed_when_done() -> None:
    with embedded.temporary() as url:
        data_dir = Path(url.split("host=", 1)[1])
        postmaster = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        assert embedded._is_running(postmaster)
    deadline = time.monotonic() + 10
    while embedded._is_running(postmaster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not embedded._is_running(postmaster)
    assert not data_dir.exists()
