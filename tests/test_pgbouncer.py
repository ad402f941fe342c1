"""The service behind a real PgBouncer in transaction mode, as behind Neon's pooled endpoint.

Needs the pgbouncer binary (Debian: apt-get install pgbouncer); `make test-pgbouncer` runs these,
and .ci/run installs it. Migrations go to the server directly, never through the pooler.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.conftest import ALICE, make_settings

pytestmark = pytest.mark.pgbouncer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def pooler_url(migrated: str) -> Iterator[str]:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(binary):
        pytest.fail("pgbouncer is not installed: apt-get install pgbouncer (make test-pgbouncer needs it)")
    parts = urlsplit(migrated)
    socket_dir = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
    port = free_port()
    # PgBouncer refuses to run as root; run it as the user that owns the database's socket.
    owner = pwd.getpwuid(os.stat(socket_dir).st_uid).pw_name if socket_dir.startswith("/") else None
    with tempfile.TemporaryDirectory(prefix="task-api-pgbouncer-") as directory:
        config = Path(directory) / "pgbouncer.ini"
        config.write_text(
            f"[databases]\n* = host={socket_dir} port={parts.port or 5432} user={parts.username or 'postgres'}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = any\n"
            "pool_mode = transaction\nunix_socket_dir =\nmax_client_conn = 200\ndefault_pool_size = 5\n"
        )
        if os.geteuid() == 0 and owner:
            shutil.chown(directory, owner)
            shutil.chown(config, owner)
        command = [binary, str(config)]
        process = subprocess.Popen(command, user=owner if os.geteuid() == 0 else None, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"pgbouncer did not start: {process.communicate()[1].decode()}")
            time.sleep(0.05)
        try:
            yield f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{port}{parts.path}"
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def pooled(url: str, **overrides: Any) -> Any:
    """Settings as documented for a transaction pooler: no prepared-statement cache."""
    return make_settings(url, db_statement_cache_size=0, **overrides)


async def test_the_whole_api_works_through_the_pooler(pooler_url: str) -> None:
    async with AsyncTestClient(app=create_app(pooled(pooler_url, db_statement_timeout_ms=0))) as client:
        assert (await client.get("/health/ready")).status_code == 200
        created = await client.post("/api/alice/tasks", json={"title": "pooled"}, headers=ALICE)
        assert created.status_code == 201
        path = created.headers["location"]
        etag = created.headers["etag"]
        filtered = {"priority": ["high", "low"], "tag": "pool", "q": "pooled", "sort": "due_at", "limit": "1"}
        calls = [
            client.get("/api/alice/tasks", headers=ALICE),
            client.get(path, headers=ALICE),
            client.patch(path, json={"description": "via pgbouncer"}, headers={**ALICE, "If-Match": etag}),
            client.put(path, json={"title": "pooled again", "priority": "high", "tags": ["pool"]}, headers=ALICE),
            client.get("/api/alice/tasks", params=filtered, headers=ALICE),  # enum arrays, composed SQL
            client.get("/api/alice/tasks/stats", params={"tz": "Europe/Paris"}, headers=ALICE),
            client.get("/api/alice/tags", headers=ALICE),
            client.patch(f"{path}/complete", headers=ALICE),
            client.delete("/api/alice/tasks", params={"completed": "true"}, headers=ALICE),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 200, response.text
        assert (await client.get(path, headers=ALICE)).status_code == 404  # cleared as completed


async def test_many_concurrent_requests_share_few_server_connections(pooler_url: str) -> None:
    # 20 pooled client connections over PgBouncer's 5 server connections: statements of different
    # clients interleave on one server connection, which named prepared statements would not survive.
    app = create_app(pooled(pooler_url, db_statement_timeout_ms=0, db_pool_min_size=20, db_pool_max_size=20))
    async with AsyncTestClient(app=app) as client:
        created = await asyncio.gather(
            *(client.post("/api/alice/tasks", json={"title": f"t{n}"}, headers=ALICE) for n in range(40))
        )
        assert [response.status_code for response in created] == [201] * 40
        listed = await asyncio.gather(*(client.get("/api/alice/tasks", headers=ALICE) for _ in range(40)))
        assert all(response.status_code == 200 for response in listed)


async def test_statement_timeout_refused_at_connect_falls_back_with_a_warning(
    pooler_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The default settings send statement_timeout, which PgBouncer refuses at connect time.
    async with AsyncTestClient(app=create_app(pooled(pooler_url))) as client:
        assert (await client.get("/api/alice/tasks", headers=ALICE)).status_code == 200
    assert "ALTER ROLE <user> SET statement_timeout = '5000ms'" in caplog.text
