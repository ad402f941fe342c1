"""A real PostgreSQL stops under load and starts again; the served process rides it out (issue 5).

Unlike tests/test_health.py, which cuts a TCP proxy, this stops the server itself with
``pg_ctl stop``: its sessions end (told "terminating connection due to administrator command"
by a fast shutdown, cut without a word by an immediate one), the listening socket (and, over a
Unix socket, its file) goes away, and ``pg_ctl start`` brings it back on the same data
directory, port and socket, while four clients keep creating, listing and toggling tasks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import pytest

from service.db.urls import asyncpg_dsn
from tests.conftest import SECRET, bearer
from tests.support.local_postgres import LocalPostgres, migrated_local_postgres
from tests.support.server import clean_env, start_server, stop

ACQUIRE_TIMEOUT = 1.0  # DB_POOL_ACQUIRE_TIMEOUT: the longest a request waits for a connection
COMMAND_TIMEOUT = 2.0  # DB_COMMAND_TIMEOUT: the longest a statement may take, client side
DOWN_FOR = 2.5  # seconds the database stays stopped under load
RECOVERY_BOUND = 10.0  # seconds after the restart within which requests must succeed again
PROBLEM_DETAIL = "the database is unavailable; try again shortly"
WRITERS = 4
# Failures to connect: the statement was never sent, so nothing can have been written.
NEVER_SENT = ("ConnectionRefusedError(", "FileNotFoundError(", "CannotConnectNowError(")
# The server ended the session while (or just as) a statement was on it.
LOST_MID_STATEMENT = ("ConnectionDoesNotExistError(", "AdminShutdownError(")


@pytest.fixture(scope="module")
def postgres() -> Iterator[LocalPostgres]:
    with migrated_local_postgres() as server:
        yield server


@dataclass(frozen=True)
class Call:
    kind: str  # create, list, toggle (the API); live, ready (the probes)
    sent: float
    answered: float
    status: int  # 0: no HTTP answer at all (a hang cut off by the client's timeout, a reset)
    headers: httpx.Headers
    body: Any
    title: str | None = None  # a create's
    task: str | None = None  # a toggle's task id

    @property
    def took(self) -> float:
        return self.answered - self.sent

    @property
    def api(self) -> bool:
        return self.kind in {"create", "list", "toggle"}

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Load:
    client: httpx.AsyncClient
    user: str
    calls: list[Call] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(
        self, kind: str, method: str, url: str, *, title: str | None = None, task: str | None = None, **kwargs: Any
    ) -> Call:
        sent = time.monotonic()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            result = Call(kind, sent, time.monotonic(), 0, httpx.Headers(), repr(exc), title, task)
        else:
            body = response.json() if response.content else None
            result = Call(kind, sent, time.monotonic(), response.status_code, response.headers, body, title, task)
        self.calls.append(result)
        return result

    async def writer(self, number: int) -> None:
        """Create a task with a unique title, list a page, toggle one of ours; again and again."""
        tasks = f"/api/{self.user}/tasks"
        mine: list[str] = []
        for serial in itertools.count():
            if self.done.is_set():
                return
            title = f"{self.user} writer {number} task {serial}"
            created = await self.call(
                "create",
                "POST",
                tasks,
                title=title,
                json={"title": title, "description": f"by writer {number}", "priority": "high", "tags": ["outage"]},
            )
            if created.status == 201:
                mine.append(created.headers["location"])
            await self.call("list", "GET", tasks, params={"limit": "5"})
            if mine:
                path = mine[serial % len(mine)]
                await self.call("toggle", "PATCH", f"{path}/complete", task=path.rsplit("/", 1)[1])
            await asyncio.sleep(0.03)

    async def prober(self) -> None:
        while not self.done.is_set():
            await self.call("live", "GET", "/health")
            await self.call("ready", "GET", "/health/ready")
            await asyncio.sleep(0.1)

    async def first(self, kind: set[str], status: int, after: float, within: float) -> Call:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = [c for c in self.calls if c.kind in kind and c.status == status and c.sent >= after]
            if found:
                return min(found, key=lambda c: c.answered)
            await asyncio.sleep(0.05)
        pytest.fail(f"no {kind} call answered {status} within {within}s")


async def writes_waiting_on_the_lock(admin: asyncpg.Connection, *, at_least: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        waiting = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'task-api'"
        )
        if waiting >= at_least:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"fewer than {at_least} writes waited on the lock")


def serve(database_url: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """``python -m service serve`` with failures fast and bounded, its log in ``cwd/service.log``."""
    env = {
        **clean_env(),
        "DATABASE_URL": database_url,
        "BETTER_AUTH_SECRET": SECRET,
        "WORKERS": "1",
        "LOG_FORMAT": "json",
        "DB_POOL_MIN_SIZE": "2",
        "DB_POOL_MAX_SIZE": "4",
        "DB_POOL_ACQUIRE_TIMEOUT": str(ACQUIRE_TIMEOUT),
        "DB_COMMAND_TIMEOUT": str(COMMAND_TIMEOUT),
        "DB_STATEMENT_TIMEOUT_MS": "1500",
        "DB_CONNECT_RETRY_SECONDS": "5",
        "RATE_LIMIT_PER_MINUTE": "0",  # the load is one user's; this test is not about rate limits
    }
    return start_server(env, cwd, log=cwd / "service.log", ready_path="/health/ready")


def causes_of_503(service_log: str) -> dict[str, str]:
    """request_id: the exception each 503 was answered for, from the service's warning line."""
    found: dict[str, str] = {}
    for line in service_log.splitlines():
        entry = json.loads(line)
        if entry.get("logger") == "service.http.problems" and entry["message"].startswith("database unavailable"):
            found[entry["request_id"]] = entry["message"].partition(": ")[2]
    return found


def is_problem_503(call: Call) -> bool:
    return (
        call.status == 503
        and call.headers.get("retry-after") == "5"
        and call.headers.get("content-type", "").startswith("application/problem+json")
        and isinstance(call.body, dict)
        and call.body.get("status") == 503
        and bool(call.body.get("detail"))
    )


# fast: what a restart does (sessions told to go, transactions rolled back, a clean shutdown).
# immediate: what a crash does (every process quits at once; the restart replays the WAL).
# Over TCP, and over the Unix socket the embedded server (make run) is reached by.
@pytest.mark.parametrize(("via", "mode"), [("tcp", "fast"), ("unix", "immediate")])
async def test_postgres_stopped_under_load_then_started_again(
    postgres: LocalPostgres, via: Literal["tcp", "unix"], mode: Literal["fast", "immediate"], tmp_path: Path
) -> None:
    user = f"outage-{via}-{mode}"
    process, base = serve(postgres.url(via), tmp_path)
    pid = process.pid
    try:
        async with httpx.AsyncClient(base_url=base, headers=bearer(user), timeout=10) as client:
            load = Load(client, user)
            running = [asyncio.create_task(load.writer(n)) for n in range(WRITERS)]
            running.append(asyncio.create_task(load.prober()))
            try:
                began = time.monotonic()
                await load.first({"create"}, 201, after=began, within=10)
                await asyncio.sleep(0.5)

                # Catch writes mid-statement: block them on a table lock, then stop the server.
                admin = await asyncpg.connect(asyncpg_dsn(postgres.url("tcp")))
                try:
                    await admin.execute("BEGIN; LOCK TABLE tasks IN SHARE MODE")
                    await writes_waiting_on_the_lock(admin, at_least=2)
                    stopping = time.monotonic()
                    await asyncio.to_thread(postgres.stop, mode)
                    down = time.monotonic()
                finally:
                    admin.terminate()  # the stop ended its session, and its transaction with it
                await asyncio.sleep(DOWN_FOR)

                restarting = time.monotonic()
                await asyncio.to_thread(postgres.start)
                up = time.monotonic()
                recovered = await load.first({"create", "list", "toggle"}, 200, after=up, within=RECOVERY_BOUND)
                created_again = await load.first({"create"}, 201, after=up, within=RECOVERY_BOUND)
                ready_again = await load.first({"ready"}, 200, after=up, within=RECOVERY_BOUND)
                await asyncio.sleep(1.0)  # load after the recovery
            finally:
                load.done.set()
                await asyncio.gather(*running)
        assert process.poll() is None, "the service died during the outage"
    finally:
        exit_code = stop(process)
    assert exit_code == 0
    service_log = (tmp_path / "service.log").read_text()
    # One process served it all: started once, never restarted.
    assert service_log.count("Started server process") == 1
    assert f"Started server process [{pid}]" in service_log
    calls = load.calls

    # Nothing hung, nothing was cut off, and the only error is the documented 503.
    unanswered = [c for c in calls if c.status == 0]
    assert not unanswered, unanswered[:3]
    assert max(c.took for c in calls) < COMMAND_TIMEOUT + 1
    api = [c for c in calls if c.api]
    assert {c.status for c in api} <= {200, 201, 503}, Counter(c.status for c in api)
    # No unhandled error. (asyncpg's pool logs a warning, with a traceback, each time it fails to
    # reconnect its DB_POOL_MIN_SIZE connections while the server is down.)
    assert '"level":"error"' not in service_log
    failed = [c for c in calls if c.status == 503]
    assert all(is_problem_503(c) for c in failed), [c for c in failed if not is_problem_503(c)][:3]
    assert all(c.body["detail"] == PROBLEM_DETAIL for c in failed if c.api)

    # Before: all well.
    assert all(c.ok for c in calls if c.answered < stopping)

    # While down: every API request is a fast 503, liveness stays 200, readiness is 503.
    while_down = [c for c in calls if down <= c.sent and c.answered <= restarting]
    api_down = [c for c in while_down if c.api]
    assert len(api_down) >= 10, "too little load while the database was down to prove anything"
    assert {c.status for c in api_down} == {503}
    slowest_503 = max(c.took for c in api_down)
    assert slowest_503 < ACQUIRE_TIMEOUT + 1
    assert {c.status for c in while_down if c.kind == "live"} == {200}
    assert {c.status for c in while_down if c.kind == "ready"} == {503}

    # After: back by itself (same process, no restart), and everything sent since succeeds.
    recovery = recovered.answered - up
    assert recovery < RECOVERY_BOUND
    back = max(recovered.answered, created_again.answered, ready_again.answered)
    after = [c for c in calls if c.sent >= back]
    assert len([c for c in after if c.api]) >= 5
    assert all(c.ok for c in after), Counter((c.kind, c.status) for c in after if not c.ok)

    # The data: each write answered 201 is there exactly once; none answered 503 half-happened.
    connection = await asyncpg.connect(asyncpg_dsn(postgres.url("tcp")))
    try:
        rows = await connection.fetch(
            "SELECT id, title, description, priority, tags, completed FROM tasks WHERE user_id = $1", user
        )
    finally:
        await connection.close()
    stored = Counter(row["title"] for row in rows)
    creates = [c for c in calls if c.kind == "create"]
    assert len({c.title for c in creates}) == len(creates)
    assert set(stored) <= {c.title for c in creates}, "a row nobody asked for"
    answered_201 = [c for c in creates if c.status == 201]
    answered_503 = [c for c in creates if c.status == 503]
    assert all(stored[c.title] == 1 for c in answered_201), "a write answered 201 is missing or doubled"
    ids = {row["title"]: str(row["id"]) for row in rows}
    assert all(ids[c.title] == c.body["id"] for c in answered_201)
    # A single INSERT or UPDATE is atomic, so an errored write is either absent or whole. But it
    # can be present: the reply can be lost after the COMMIT (the backend ended by the shutdown
    # between its commit and its answer, or DB_COMMAND_TIMEOUT firing on the client just after the
    # commit), and the service then answers 503 for a write that happened. No server can close
    # that window. (So a client retrying a create answered 503 may create it twice: the API has no
    # idempotency key. The completion-setting PATCH, unlike the toggle, is safe to retry.)
    # What must hold: such a write is there at most once, was sent before the server was down, and
    # may have reached the database. One whose connection was refused (the service logs the cause
    # of each 503 with its request_id) never reached it and must have left no trace.
    cause = causes_of_503(service_log)
    assert all(c.body["request_id"] in cause for c in failed if c.api)

    def in_doubt(call: Call) -> bool:
        return call.sent < down and not cause[call.body["request_id"]].startswith(NEVER_SENT)

    writes_503 = [c for c in failed if c.kind in {"create", "toggle"}]
    # The writes blocked on the lock when the server stopped: each answered within the bound. A
    # fast shutdown may end the lock holder's session first, and let a waiting write finish (a 2xx,
    # checked below like any other); an immediate one ends them all where they stand.
    blocked = [c for c in calls if c.kind in {"create", "toggle"} and c.sent < stopping < c.answered]
    assert len(blocked) >= 2
    assert all(c.answered - stopping < ACQUIRE_TIMEOUT + 1 for c in blocked)
    killed = [c for c in writes_503 if cause[c.body["request_id"]].startswith(LOST_MID_STATEMENT)]
    if mode == "immediate":
        assert {c.status for c in blocked} == {503}
        assert len(killed) >= 2
    committed_anyway = [c for c in answered_503 if stored[c.title]]
    assert all(stored[c.title] <= 1 for c in answered_503)
    assert all(in_doubt(c) for c in committed_anyway), "an errored write that never reached the database was stored"
    assert len(committed_anyway) <= WRITERS
    for row in rows:
        assert (row["description"], row["priority"], row["tags"]) == (
            f"by writer {row['title'].split()[2]}",
            "high",
            ["outage"],
        )

    # Toggles (one writer per task, one at a time): each answered 200 flipped its task once; one
    # answered 503 flipped it at most once, and only if it was in doubt as above.
    toggles = [c for c in calls if c.kind == "toggle"]
    toggles_in_doubt = 0
    for row in rows:
        mine = [c for c in toggles if c.task == str(row["id"])]
        flipped = sum(c.status == 200 for c in mine)
        doubtful = sum(c.status == 503 and in_doubt(c) for c in mine)
        toggles_in_doubt += doubtful
        if not doubtful:
            assert row["completed"] == (flipped % 2 == 1), (row["title"], flipped, row["completed"])
    assert sum(c.status == 200 for c in toggles) >= 10
    why = Counter(cause[c.body["request_id"]].partition("(")[0] for c in failed if c.api)

    print(
        f"\n[{via}, {mode}] {len(calls)} calls; creates: {len(answered_201)} answered 201, {len(answered_503)} 503 "
        f"({len(committed_anyway)} of them stored anyway); writes killed mid-statement: {len(killed)}; "
        f"toggles in doubt: {toggles_in_doubt}; causes of 503: {dict(why)}; "
        f"stop took {down - stopping:.2f}s; down {restarting - down:.2f}s with {len(api_down)} API calls, "
        f"all 503, slowest {slowest_503 * 1000:.0f} ms; start took {up - restarting:.2f}s; "
        f"first success {recovery:.2f}s after it, ready {ready_again.answered - up:.2f}s after; pid {pid} throughout"
    )
