"""A worker's memory and time for an export of 10,000 tasks, and for importing it back.

    PYTHONPATH=. .venv/bin/python -m bench.export        # about a minute

An embedded PostgreSQL, migrated; one user with TASKS tasks of everyday size (a title, a
sentence of description, two tags, a due date), a tenth of them completed, and TRASHED more in
the trash; the service under uvicorn, one worker. While GET /export streams (read and dropped
by the client as it comes), a thread samples the worker's RSS every few milliseconds; then the
document is erased and imported back. Prints the RSS before, the peak during each, the time and
the size. docs/benchmarks.md has the numbers and the machine.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import asyncpg
import httpx
import msgspec

from bench.servers import SERVICE, Server, started
from service.config import load_settings
from service.db import embedded, migrations
from service.db.urls import asyncpg_dsn
from service.http.auth import issue_token

TASKS = 10_000
TRASHED = 500
USER = "bench-export"
SECRET = os.urandom(32).hex()  # this run's server only

FILL = """
INSERT INTO tasks (user_id, title, description, tags, due_at, completed, priority)
SELECT $1, 'Task number ' || n || ': call the plumber about the kitchen sink',
       'Ask about the price first, and whether Saturday morning works; bring the old receipt.',
       ARRAY['home', 'errands'], now() + n * interval '1 hour', n % 10 = 0,
       (ARRAY['low', 'medium', 'high'])[1 + n % 3]::task_priority
FROM generate_series(1, $2) AS n
"""
TRASH = """
INSERT INTO trashed_tasks (user_id, id, title, completed, priority, tags, created_at, updated_at, revision, deleted_at)
SELECT $1, gen_random_uuid(), 'Trashed ' || n, false, 'medium', '{}', now(), now(), 100000 + n, now()
FROM generate_series(1, $2) AS n
"""


@contextmanager
def peak_rss(server: Server) -> Iterator[Callable[[], float]]:
    """The worker's highest RSS (MiB) while the block runs, sampled every 5 ms."""
    peak = [server.worker_rss_mb()]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.worker_rss_mb())
            time.sleep(0.005)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        yield lambda: peak[0]
    finally:
        done.set()
        thread.join()


async def fill(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(FILL, USER, TASKS)
        await connection.execute(TRASH, USER, TRASHED)
    finally:
        await connection.close()


def main() -> None:
    with embedded.temporary() as url:
        migrations.apply(url)
        asyncio.run(fill(url))
        env = {**os.environ, "DATABASE_URL": url, "BETTER_AUTH_SECRET": SECRET, "RATE_LIMIT_PER_MINUTE": "0"}
        settings = msgspec.structs.replace(load_settings(environ={}, env_file=os.devnull), better_auth_secret=SECRET)
        auth = {"Authorization": f"Bearer {issue_token(settings, USER, ttl_seconds=3600)}"}
        with started("uvicorn", SERVICE, env, "/health") as server, httpx.Client(base_url=server.base) as http:
            http.get(f"/api/{USER}/tasks", headers=auth).raise_for_status()  # warm: pool, statements
            before = server.worker_rss_mb()
            size, pieces = 0, []
            with peak_rss(server) as peak:
                start = time.perf_counter()
                with http.stream("GET", f"/api/{USER}/export", headers=auth, timeout=120) as response:
                    response.raise_for_status()
                    for piece in response.iter_raw():
                        size += len(piece)
                        pieces.append(piece)  # kept by the client only, to import it back below
                took = time.perf_counter() - start
            print(
                f"export of {TASKS:,} tasks and {TRASHED:,} trashed: {size / 2**20:.1f} MiB in {took:.2f} s; "
                f"worker RSS {before:.0f} MiB before, peak {peak():.0f} MiB (+{peak() - before:.0f})"
            )
            document = b"".join(pieces)
            pieces.clear()
            http.delete(f"/api/{USER}", params={"confirm": USER}, headers=auth).raise_for_status()
            before = server.worker_rss_mb()
            with peak_rss(server) as peak:
                start = time.perf_counter()
                imported = http.post(
                    f"/api/{USER}/import",
                    content=document,
                    timeout=300,
                    headers={**auth, "Content-Type": "application/json"},
                )
                took = time.perf_counter() - start
            imported.raise_for_status()
            print(
                f"import of it back: {imported.json()} in {took:.2f} s; "
                f"worker RSS {before:.0f} MiB before, peak {peak():.0f} MiB (+{peak() - before:.0f})"
            )


if __name__ == "__main__":
    main()
