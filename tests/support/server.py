"""The real service as a process: ``python -m service serve`` on a free port, and stopping it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """The process environment without any task-api variable. PYTHONPATH stays: a server the tests
    start runs the code under test, also where that is put on the path by it (a git worktree
    sharing another checkout's virtual environment)."""
    keep = {"PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR", "PYTHONPATH"}
    return {key: value for key, value in os.environ.items() if key in keep}


def start_server(
    env: dict[str, str], cwd: Path, *, log: Path | None = None, ready_path: str = "/health"
) -> tuple[subprocess.Popen[str], str]:
    """``python -m service serve`` on a free port; returns once ``ready_path`` answers 200.

    Its output goes to ``log`` (default ``cwd/service-<port>.log``), not a pipe: a pipe nobody
    reads fills up under load, and the server then stalls writing its log.
    """
    port = free_port()
    log = log or cwd / f"service-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            env={**env, "PORT": str(port)},
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}{ready_path}", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"server did not start:\n{log.read_text()}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()


@contextmanager
def served(env: dict[str, str], cwd: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A server for the block; it must then stop cleanly on SIGTERM."""
    process, base = start_server(env, cwd)
    try:
        yield process, base
    finally:
        assert stop(process) == 0
