"""The servers under test, one worker each, under uvicorn or Granian, and what they cost.

Under uvicorn the service runs as shipped (``python -m service serve``: its HTTP protocol with
the head limits, its logging) and the reference apps as that command runs uvicorn (uvloop,
httptools, no access log). Under Granian every app runs as ``granian --interface asgi --loop
uvloop --workers 1 --factory``; the service gets its own logging set-up through ``--log-config``
so it writes the same access log. Granian serves from a worker process it spawns, so CPU is
counted over the server's whole process tree and memory is the worker's.

``Postgres`` counts the CPU of the bench's PostgreSQL server, every process of it: the work a
request causes in the database (its statement, triggers, index upkeep) is part of its cost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import psutil

from service.config import hand_down, load_settings
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "service.app:create_app"
GRANIAN_SERVICE = "service.cli:worker_app"  # a worker of `task-api serve`: its settings handed down, its logging
SERVERS = ("uvicorn", "granian")

# The reference apps run under uvicorn exactly as `task-api serve` runs the service.
_UVICORN = (
    "import os, sys, uvicorn; uvicorn.run(sys.argv[1], factory=True, host='127.0.0.1', port=int(os.environ['PORT']),"
    " loop='uvloop', http='httptools', access_log=False, log_level='warning', server_header=False)"
)


@dataclass
class Server:
    kind: str  # uvicorn or granian
    app: str
    base: str
    processes: list[psutil.Process]  # the one started, and the workers it spawned

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes:
            times = process.cpu_times()
            total += times.user + times.system
        return total

    def worker_rss_mb(self) -> float:
        """The resident memory of the largest process: the worker (the only process, under uvicorn)."""
        largest: int = max(process.memory_info().rss for process in self.processes)
        return largest / 2**20


@dataclass
class Postgres:
    """The bench's PostgreSQL server: its postmaster and every process the postmaster started."""

    postmaster: psutil.Process

    @classmethod
    def serving(cls, backend_pid: int) -> Postgres:
        """The server of the backend ``backend_pid`` (``SELECT pg_backend_pid()``)."""
        return cls(psutil.Process(backend_pid).parent())

    def cpu_seconds(self) -> float:
        """User + system time of the postmaster and its processes, those that exited included: the
        postmaster reaps them, so their time is in its children's times."""
        times = self.postmaster.cpu_times()
        total: float = times.user + times.system + times.children_user + times.children_system
        for child in self.postmaster.children():
            try:
                child_times = child.cpu_times()
            except psutil.NoSuchProcess:  # exited just now: its time has moved to the postmaster's
                continue
            total += child_times.user + child_times.system
        return total


def command(kind: str, app: str, port: int) -> list[str]:
    if kind == "uvicorn":
        if app == SERVICE:
            return [sys.executable, "-m", "service", "serve"]
        return [sys.executable, "-c", _UVICORN, app]
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--loop",
        "uvloop",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--factory",
        GRANIAN_SERVICE if app == SERVICE else app,
    ]


@contextmanager
def started(kind: str, app: str, env: dict[str, str], ready_path: str) -> Iterator[Server]:
    port = free_port()
    if kind == "granian" and app == SERVICE:
        # What `task-api serve` hands its worker processes: the settings, read once here.
        env = {**env, **hand_down(load_settings(environ=env, env_file=os.devnull))}
    # Logs go to a file: a pipe nobody reads would fill up and stall the server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command(kind, app, port), env={**env, "PORT": str(port)}, cwd=ROOT, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base + ready_path, process, log)
            parent = psutil.Process(process.pid)
            yield Server(kind, app, base, [parent, *parent.children(recursive=True)])
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            log.seek(0)
            raise RuntimeError(f"{process.args!r} did not start: {log.read().decode()[-2000:]}")
        time.sleep(0.2)
