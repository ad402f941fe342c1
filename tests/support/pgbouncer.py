"""A real PgBouncer in transaction mode in front of the test database, as Neon's pooled endpoint is.

Needs the pgbouncer binary (Debian: apt-get install pgbouncer); .ci/run installs it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.support.server import free_port


class PgBouncerError(RuntimeError):
    pass


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def pgbouncer(direct_url: str, *, pool_size: int = 5) -> Iterator[str]:
    """PgBouncer in transaction mode in front of ``direct_url``'s server; yields the pooled URL."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(binary):
        raise PgBouncerError("pgbouncer is not installed: apt-get install pgbouncer")
    parts = urlsplit(direct_url)
    socket_dir = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
    port = free_port()
    # PgBouncer refuses to run as root; run it as the user that owns the database's socket.
    owner = pwd.getpwuid(os.stat(socket_dir).st_uid).pw_name if socket_dir.startswith("/") else None
    with tempfile.TemporaryDirectory(prefix="task-api-pgbouncer-") as directory:
        config = Path(directory) / "pgbouncer.ini"
        config.write_text(
            f"[databases]\n* = host={socket_dir} port={parts.port or 5432} user={parts.username or 'postgres'}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = any\n"
            f"pool_mode = transaction\nunix_socket_dir =\nmax_client_conn = 500\ndefault_pool_size = {pool_size}\n"
        )
        if os.geteuid() == 0 and owner:
            shutil.chown(directory, owner)
            shutil.chown(config, owner)
        command = [binary, str(config)]
        # Its log goes to a file, not a pipe: PgBouncer writes a line per connection and stops
        # serving when a pipe nobody reads is full, which a whole suite's connections fill.
        log = Path(directory) / "pgbouncer.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, user=owner if os.geteuid() == 0 else None, stderr=output)
        deadline = time.monotonic() + 10
        while not listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise PgBouncerError(f"pgbouncer did not start: {log.read_text(errors='replace')}")
            time.sleep(0.05)
        try:
            yield f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{port}{parts.path}"
        finally:
            process.terminate()
            process.wait(timeout=10)
