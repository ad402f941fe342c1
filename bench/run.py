"""Benchmark the service with wrk against reference points, all in one run on one machine.

    make bench                       # or: python -m bench.run
    BENCH_ONLY="list 20,get one" BENCH_SERVERS=uvicorn make bench

Each app runs as one worker under uvicorn and under Granian (bench.servers), all sharing one
embedded PostgreSQL seeded with USERS users of TASKS tasks each:

- noop: a Litestar route returning a constant;
- bare: one Litestar + asyncpg handler per scenario running the service's SQL, nothing else;
- bare without revisions: the same handlers' writes as they were before revisions and the trash, on a
  second database of the same server migrated only up to 0003 (bench.reference.BEFORE_SYNC);
- service: the service as shipped (and, under uvicorn, once more without its access log);
- fastapi+sqlmodel: the original design, FastAPI + SQLModel + PyJWT (the ``bench`` extra).

CPU per request is counted for the server's processes and, apart, for PostgreSQL's (all of its
processes: every row runs alone, so what PostgreSQL does meanwhile is that row's work).

wrk (two threads) loads one row at a time; the rows run in a new order each round and each
reports medians over BENCH_ROUNDS rounds, so a noisy neighbour skews all alike. Results, the
targets with PASS or FAIL and the servers' HTTP limits are printed as Markdown and written to
.bench/latest.md.

Selecting rows: BENCH_ONLY (scenario names), BENCH_TARGETS (target names), BENCH_SERVERS
(uvicorn, granian), each a comma-separated list; BENCH_LIMITS=0 skips the HTTP limit probes.
BENCH_SYNCHRONOUS_COMMIT=on makes every commit wait for the disk, as in production.
"""

from __future__ import annotations

import importlib.util
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import jwt
import msgspec
import psutil
import psycopg

from bench import limits, reference, report, servers, wrk
from bench.report import BARE, BEFORE_SYNC, CHANGES, CHANGES_LIST, NOOP, QUIET, REPLICA, SERVICE, Result
from bench.wrk import Request, Sequence
from service.config import Settings
from service.db import embedded, migrations
from service.tasks import listing
from service.tasks.schemas import Task

OUT = servers.ROOT / ".bench"
USERS = 200
TASKS = 20
PUT_TASKS = 5
SYNC_TASKS = 40  # tasks of each user whose changes are read, numbered 1 to 40 ...
SINCE = 20  # ... so 20 changed tasks follow this revision
REMINDED_USERS = 3  # users with REMINDED_TASKS tasks each, due an hour apart from now on, each with
REMINDED_TASKS = 10_000  # reminders 10 and 60 minutes before: 48 reminders in a day of theirs
REMINDED_DAY = 10  # the day whose reminders are read, in days from today (UTC)
DURATION = int(os.environ.get("BENCH_DURATION", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
HIGH_CONNECTIONS = int(os.environ.get("BENCH_HIGH_CONNECTIONS", "64"))
DELETE_GUESS = 5000  # requests/s a delete row is assumed able to reach, at least
# Whether a commit waits for the WAL to reach the disk. Off by default: the bench prices the
# request path, and on a shared VM's disk a flush now and then stalls every write for tens or
# hundreds of milliseconds, whatever the app. "on" measures writes as production commits them.
SYNCHRONOUS_COMMIT = os.environ.get("BENCH_SYNCHRONOUS_COMMIT", "off")


def _listed(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _named(given: list[str], names: tuple[str, ...]) -> list[str]:
    """The names ``given`` lists, where a name may itself hold commas ("service, no access log"):
    from left to right, the longest name the next items spell."""
    split = sorted((([part.strip() for part in name.split(",")], name) for name in names), key=lambda p: -len(p[0]))
    chosen, i = [], 0
    while i < len(given):
        found = next(((parts, name) for parts, name in split if given[i : i + len(parts)] == parts), None)
        if found is None:
            raise SystemExit(f"bench: no target named {given[i]!r} (known: {'; '.join(names)})")
        chosen.append(found[1])
        i += len(found[0])
    return chosen


ONLY = _listed("BENCH_ONLY")
TARGETS = _named(_listed("BENCH_TARGETS"), (NOOP, BARE, BEFORE_SYNC, SERVICE, QUIET, REPLICA))
SERVERS = _listed("BENCH_SERVERS") or list(servers.SERVERS)
LIMITS = os.environ.get("BENCH_LIMITS", "1") != "0"

FILTERED = {"completed": "false", "tag": "work", "sort": "-due_at", "limit": "5"}
LISTED = [f"bench-{u}" for u in range(1, USERS + 1)]  # list, get, toggle
REPLACED = [f"bench-put-{u}" for u in range(1, USERS + 1)]  # replace: changes what the filtered list shows
CREATORS = [f"bench-new-{u}" for u in range(USERS)]  # create; their tasks go after each row
DELETED = [f"bench-del-{u}" for u in range(USERS)]  # delete: rows made for each row, the rest removed after
SYNCED = [f"bench-sync-{u}" for u in range(1, USERS + 1)]  # changes 20, list limit 20; nothing writes them
RECURRING = [f"bench-rec-{u}" for u in range(USERS)]  # complete recurring: rows made for each row, cleared after
REMINDED = [f"bench-rem-{u}" for u in range(1, REMINDED_USERS + 1)]  # reminders day, list 10k tasks
# What the database without revisions gets of each task: the same ids, content and times.
COPY_OUT = """
SELECT id, user_id, title, description, completed, priority, tags, due_at, created_at, updated_at FROM tasks
"""
COPY_IN = """
COPY tasks (id, user_id, title, description, completed, priority, tags, due_at, created_at, updated_at) FROM STDIN
"""


def seed(db: psycopg.Connection[Any]) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """The listed users' task ids, the replaced users' task ids, and for each listed user the
    cursor of the first page of the FILTERED list."""
    if SYNCHRONOUS_COMMIT not in ("on", "off"):
        raise ValueError("BENCH_SYNCHRONOUS_COMMIT must be on or off")
    db.execute(f"ALTER SYSTEM SET synchronous_commit = {SYNCHRONOUS_COMMIT}")  # for every connection after
    db.execute("SELECT pg_reload_conf()")
    db.execute("TRUNCATE tasks CASCADE")  # and task_reminders, which refers to it
    db.execute(
        """
        INSERT INTO tasks (user_id, title, description, priority, tags, due_at)
        SELECT 'bench-' || u, 'task ' || t, CASE WHEN t %% 2 = 0 THEN 'some words about it' END,
               (ARRAY['low', 'medium', 'high']::task_priority[])[1 + t %% 3],
               CASE WHEN t %% 2 = 0 THEN ARRAY['work'] ELSE ARRAY['home', 'errands'] END,
               CASE WHEN t %% 4 <> 0 THEN now() + t * interval '1 hour' END
        FROM generate_series(1, %s) AS u, generate_series(1, %s) AS t
        """,
        (USERS, TASKS),
    )
    db.execute(
        """
        INSERT INTO tasks (user_id, title)
        SELECT 'bench-put-' || u, 'task ' || t FROM generate_series(1, %s) AS u, generate_series(1, %s) AS t
        """,
        (USERS, PUT_TASKS),
    )
    # Inserted in order of t, each task with the next revision of its user: 1 to SYNC_TASKS.
    db.execute(
        """
        INSERT INTO tasks (user_id, title, description, priority, tags, due_at)
        SELECT 'bench-sync-' || u, 'task ' || t, CASE WHEN t %% 2 = 0 THEN 'some words about it' END,
               (ARRAY['low', 'medium', 'high']::task_priority[])[1 + t %% 3],
               CASE WHEN t %% 2 = 0 THEN ARRAY['work'] ELSE ARRAY['home', 'errands'] END,
               CASE WHEN t %% 4 <> 0 THEN now() + t * interval '1 hour' END
        FROM generate_series(1, %s) AS t, generate_series(1, %s) AS u
        ORDER BY t, u
        """,
        (SYNC_TASKS, USERS),
    )
    # 10,000 tasks a user, numbered by the statement (the trigger would number them one by one), due
    # an hour apart, half with a description and tags; the reminders trigger fills task_reminders.
    db.execute(
        """
        INSERT INTO tasks (user_id, title, description, tags, due_at, reminders, revision)
        SELECT 'bench-rem-' || u, 'task ' || t, CASE WHEN t %% 2 = 0 THEN 'some words about it' END,
               CASE WHEN t %% 2 = 0 THEN ARRAY['work'] ELSE ARRAY['home', 'errands'] END,
               date_trunc('hour', now()) + t * interval '1 hour', '{10, 60}', t
        FROM generate_series(1, %s) AS u, generate_series(1, %s) AS t
        """,
        (REMINDED_USERS, REMINDED_TASKS),
    )
    db.execute("VACUUM ANALYZE tasks")
    db.execute("VACUUM ANALYZE task_reminders")
    ids: dict[str, list[str]] = {}
    for user_id, task_id in db.execute("SELECT user_id, id::text FROM tasks ORDER BY user_id, id").fetchall():
        ids.setdefault(user_id, []).append(task_id)
    ends = db.execute(
        """
        SELECT DISTINCT ON (user_id) user_id, due_at, id
        FROM (SELECT user_id, due_at, id, row_number() OVER (
                  PARTITION BY user_id ORDER BY coalesce(due_at, 'infinity') DESC, id DESC) AS n
              FROM tasks WHERE user_id = any(%s) AND NOT completed AND tags @> '{work}') AS page
        WHERE n = 5
        """,
        (LISTED,),
    ).fetchall()
    sort: listing.Sort = "-due_at"
    cursors = {
        user_id: listing.encode_cursor(sort, cast(Task, SimpleNamespace(due_at=due_at, id=task_id)))
        for user_id, due_at, task_id in ends
    }
    return {u: ids[u] for u in LISTED}, {u: ids[u] for u in REPLACED}, cursors


def database_named(database_url: str, name: str) -> str:
    """The URL of another database on the same server."""
    return urlsplit(database_url)._replace(path=f"/{name}").geturl()


def before_sync(db: psycopg.Connection[Any], database_url: str) -> str:
    """A second database on the bench's server, migrated only up to reference.BEFORE_SYNC_MIGRATION
    (no revisions, no trash), holding the same tasks with the same ids; its URL."""
    name = "bench_before_sync"
    db.execute(f"CREATE DATABASE {name}")
    url = database_named(database_url, name)
    with tempfile.TemporaryDirectory(prefix="bench-migrations-") as directory:
        for path in sorted(migrations.MIGRATIONS_DIR.glob("*.sql")):
            if path.name.split(".")[0] <= reference.BEFORE_SYNC_MIGRATION.split(".")[0]:
                shutil.copy(path, directory)
        migrations.apply(url, directory=Path(directory))
    with psycopg.connect(url, autocommit=True) as before:
        with before.cursor().copy(COPY_IN) as copy:
            for row in db.execute(COPY_OUT):
                copy.write_row(row)
        before.execute("VACUUM ANALYZE tasks")
    return url


def settle(db: psycopg.Connection[Any], timeout: float = 10) -> None:
    """Wait until no other session of ``db``'s database runs a statement: the requests wrk sent
    last may still be running when it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = db.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()"
        ).fetchone()
        if busy == (0,):
            return
        time.sleep(0.05)


def clear(db: psycopg.Connection[Any], users: list[str]) -> None:
    """The users' tasks gone, from the trash too where there is one. Only once no request runs:
    each of the service's writes locks its user's counter row before the task, where this
    delete's trigger locks the counters after the tasks, and the two could deadlock."""
    settle(db)
    db.execute("DELETE FROM tasks WHERE user_id = any(%s)", (users,))
    db.execute("VACUUM tasks")
    if db.execute("SELECT to_regclass('trashed_tasks') IS NOT NULL").fetchone() == (True,):
        db.execute("DELETE FROM trashed_tasks WHERE user_id = any(%s)", (users,))
        db.execute("VACUUM trashed_tasks")


@dataclass
class Scenario:
    name: str
    requests: list[Request] = field(default_factory=list)
    # For a scenario whose requests can each be sent only once: rows to make for about this
    # many requests, and the requests; ``clear`` users lose their tasks after each run, in ``db``.
    make: Callable[[int], Sequence] | None = None
    clear: list[str] = field(default_factory=list)
    db: psycopg.Connection[Any] | None = None


def token(secret: str, user: str) -> dict[str, str]:
    """An HS256 token as Better Auth signs it, valid for longer than any run."""
    now = int(time.time())
    claims = {"sub": user, "iat": now, "exp": now + 6 * 3600}
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


def scenarios(
    db: psycopg.Connection[Any],
    ids: dict[str, list[str]],
    replaced: dict[str, list[str]],
    cursors: dict[str, str],
    secret: str,
) -> dict[str, Scenario]:
    tokens = {
        user: token(secret, user) for user in [*LISTED, *REPLACED, *CREATORS, *DELETED, *SYNCED, *RECURRING, *REMINDED]
    }
    json_headers = {"Content-Type": "application/json"}
    lists = [Request("GET", f"/api/{u}/tasks", tokens[u]) for u in LISTED]
    # The second page of a filtered list sorted by due date.
    filtered = [
        Request("GET", f"/api/{u}/tasks?{urlencode({**FILTERED, 'cursor': cursors[u]})}", tokens[u]) for u in LISTED
    ]
    gets = [Request("GET", f"/api/{u}/tasks/{ids[u][n % TASKS]}", tokens[u]) for n, u in enumerate(LISTED)]
    toggles = [
        Request("PATCH", f"/api/{u}/tasks/{ids[u][-1 - n % TASKS]}/complete", tokens[u]) for n, u in enumerate(LISTED)
    ]
    creates = [
        Request(
            "POST", f"/api/{u}/tasks", {**tokens[u], **json_headers}, '{"title": "bench task", "description": null}'
        )
        for u in CREATORS
    ]
    # Each replace a new title ({n}: a counter in wrk), so every one is a real change.
    replaces = [
        Request(
            "PUT",
            f"/api/{u}/tasks/{task_id}",
            {**tokens[u], **json_headers},
            '{"title": "bench task {n}", "description": "replaced"}',
        )
        for u in REPLACED
        for task_id in replaced[u]
    ]

    def deletes(count: int) -> Sequence:
        rows = db.execute(
            """
            INSERT INTO tasks (user_id, title)
            SELECT (%s::text[])[1 + n %% %s], 'to delete' FROM generate_series(1, %s) AS n
            RETURNING user_id, id::text
            """,
            (DELETED, USERS, count),
        ).fetchall()
        index = {user: k for k, user in enumerate(DELETED, start=1)}
        return Sequence(
            "DELETE", [tokens[u] for u in DELETED], [(index[u], f"/api/{u}/tasks/{task_id}") for u, task_id in rows]
        )

    # A page of the change feed: the 20 tasks after revision SINCE of a user who has SYNC_TASKS; and
    # the first page of 20 of the same users' task list.
    changes = [Request("GET", f"/api/{u}/changes?since={SINCE}&limit=20", tokens[u]) for u in SYNCED]
    pages = [Request("GET", f"/api/{u}/tasks?limit=20", tokens[u]) for u in SYNCED]

    def recurring(count: int) -> Sequence:
        """``count`` open occurrences of daily series, due from tomorrow on, each completed once:
        every completion makes its series' next occurrence. Revisions numbered by the statement, on
        from each user's counter."""
        rows = db.execute(
            """
            WITH owners AS (
                SELECT k, owner, coalesce((SELECT revision FROM task_counts WHERE user_id = owner), 0) AS revision
                FROM unnest(%s::text[]) WITH ORDINALITY AS o (owner, k)
            )
            INSERT INTO tasks (user_id, title, due_at, recurrence, series_id, anchor_at, revision)
            SELECT owner, 'every day ' || n, due, 'FREQ=DAILY', gen_random_uuid(), due, revision + 1 + n / %s
            FROM generate_series(0, %s - 1) AS n
            JOIN owners ON k = 1 + n %% %s,
            LATERAL (SELECT date_trunc('hour', now()) + interval '1 day' + n %% 1440 * interval '1 minute') AS d (due)
            RETURNING user_id, id::text
            """,
            (RECURRING, USERS, count, USERS),
        ).fetchall()
        index = {user: k for k, user in enumerate(RECURRING, start=1)}
        return Sequence(
            "PATCH",
            [{**tokens[u], **json_headers} for u in RECURRING],
            [(index[u], f"/api/{u}/tasks/{task_id}/complete") for u, task_id in rows],
            '{"completed": true}',
        )

    # One day's reminders of a user with 10,000 tasks, and the first page of the same users' list.
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=REMINDED_DAY)
    window = urlencode({"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()})
    reminders = [Request("GET", f"/api/{u}/reminders?{window}", tokens[u]) for u in REMINDED]
    crowded = [Request("GET", f"/api/{u}/tasks", tokens[u]) for u in REMINDED]

    # A move of the user's last task, by turns right after their first and their second: every one a
    # real move, between two neighbours, as a drag in a list is. And the user's tasks in their own
    # order: the inbox (every bench task is there), by position, one range of the place index.
    moves = [
        Request(
            "POST",
            f"/api/{u}/tasks/{ids[u][-1]}/move",
            {**tokens[u], **json_headers},
            f'{{"after": "{ids[u][n % 2]}"}}',
        )
        for n in range(2)
        for u in LISTED
    ]
    by_position = [Request("GET", f"/api/{u}/tasks?list_id=null&sort=position", tokens[u]) for u in LISTED]

    def keyed(requests: list[Request]) -> list[Request]:
        return [Request(r.method, r.path, r.headers, r.body, r.weight, keyed=True) for r in requests]

    def weighted(requests: list[Request], weight: int) -> list[Request]:
        return [Request(r.method, r.path, r.headers, r.body, weight) for r in requests]

    found = [
        Scenario("noop", [Request("GET", "/noop", {})]),
        Scenario("list 20", lists),
        Scenario("list filtered", filtered),
        Scenario("get one", gets),
        Scenario("create", creates, clear=CREATORS, db=db),
        Scenario("toggle", toggles),
        Scenario("replace", replaces),
        Scenario("delete", make=deletes, clear=DELETED, db=db),
        Scenario(
            "mixed",
            weighted(lists, 14) + weighted(gets, 3) + weighted(toggles, 2) + weighted(creates, 1),
            clear=CREATORS,
            db=db,
        ),
        Scenario(CHANGES, changes),
        Scenario(CHANGES_LIST, pages),
        Scenario(report.RECURRING, make=recurring, clear=RECURRING, db=db),
        Scenario(report.REMINDERS, reminders),
        Scenario(report.REMINDERS_LIST, crowded),
        Scenario(report.MOVE, moves),
        Scenario(report.BY_POSITION, by_position),
        # The same writes, each with an Idempotency-Key never sent before.
        Scenario(report.keyed("toggle"), keyed(toggles)),
        Scenario(report.keyed("create"), keyed(creates), clear=CREATORS, db=db),
    ]
    return {s.name: s for s in found}


# What each target serves: its scenarios, and with how many connections.
PLAN: dict[str, list[tuple[str, int]]] = {
    NOOP: [("noop", CONNECTIONS)],
    BARE: [
        *((name, CONNECTIONS) for name in ("list 20", "get one", "create", "toggle", "replace", "delete")),
        ("list 20", HIGH_CONNECTIONS),
    ],
    BEFORE_SYNC: [(name, CONNECTIONS) for name in report.REVISED_WRITES],
    SERVICE: [
        *(
            (name, CONNECTIONS)
            for name in (
                "list 20",
                "list filtered",
                "get one",
                "create",
                "toggle",
                "replace",
                "delete",
                "mixed",
                CHANGES,
                CHANGES_LIST,
                report.RECURRING,
                report.REMINDERS,
                report.REMINDERS_LIST,
                report.MOVE,
                report.BY_POSITION,
                *map(report.keyed, report.KEYED_WRITES),
            )
        ),
        ("list 20", HIGH_CONNECTIONS),
    ],
    QUIET: [("list 20", CONNECTIONS)],
    REPLICA: [(name, CONNECTIONS) for name in ("list 20", "get one", "create", "toggle", "replace", "delete")],
}
APPS = {
    NOOP: ("bench.reference:noop_app", "/noop"),
    BARE: ("bench.reference:bare_app", "/api/bench-1/tasks"),
    BEFORE_SYNC: ("bench.reference:bare_app_before_sync", "/api/bench-1/tasks"),  # a 405: up
    SERVICE: (servers.SERVICE, "/health/ready"),
    QUIET: (servers.SERVICE, "/health/ready"),
    REPLICA: ("bench.fastapi_sqlmodel:create_app", "/docs"),
}


@dataclass
class Row:
    server: servers.Server
    target: str
    scenario: Scenario
    connections: int

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.server.kind, self.target, self.scenario.name, self.connections)


def available(kind_or_target: str) -> str | None:
    """Why a server or target cannot run here, or None."""
    if kind_or_target == "granian" and importlib.util.find_spec("granian") is None:
        return "granian is not installed (make bench installs the bench extra)"
    if kind_or_target == REPLICA and any(importlib.util.find_spec(m) is None for m in ("fastapi", "sqlmodel")):
        return "fastapi and sqlmodel are not installed (make bench installs the bench extra)"
    return None


def wanted(kind: str, target: str, scenario: str) -> bool:
    if kind not in SERVERS or (TARGETS and target not in TARGETS):
        return False
    if target == QUIET and kind != "uvicorn":  # the access log costs the same under either server
        return False
    return target == NOOP or not ONLY or scenario in ONLY


class Bench:
    def __init__(self, db: psycopg.Connection[Any], postgres: servers.Postgres | None = None):
        self.db = db
        self.postgres = postgres
        self.rates: dict[tuple[str, str, str, int], float] = {}  # the latest requests/s of each row

    def db_cpu(self) -> float | None:
        if self.postgres is None:
            return None
        try:
            return self.postgres.cpu_seconds()
        except psutil.Error:  # another user's processes, say: then not counted
            return None

    def load(self, row: Row, seconds: int) -> dict[str, float]:
        """Run wrk on one row for ``seconds``, making and clearing what the scenario needs. The
        summary has the CPU seconds of the server, of PostgreSQL (or -1) and of wrk, and the wall
        time, all measured around wrk alone, so making and clearing rows count in none of them."""
        scenario = row.scenario
        load: list[Request] | Sequence = scenario.requests
        if scenario.make is not None:
            # Enough rows for the fastest this row has gone, or could go: a run that ran out
            # would answer 404s, counted as errors. Leftovers are cleared after the run.
            rate = max(DELETE_GUESS, self.rates.get(row.key, 0.0))
            load = scenario.make(int(rate * (seconds + 1) * 1.5))
        try:
            wrk_before, server_before, db_before = children_cpu(), row.server.cpu_seconds(), self.db_cpu()
            started = time.monotonic()
            summary: dict[str, float] = {**wrk.run(row.server.base, load, seconds, row.connections)}
            summary["wall_s"] = time.monotonic() - started
            db_after = self.db_cpu()
            summary["server_cpu_s"] = row.server.cpu_seconds() - server_before
            summary["db_cpu_s"] = -1.0 if db_before is None or db_after is None else db_after - db_before
            summary["wrk_cpu_s"] = children_cpu() - wrk_before
        finally:
            if scenario.clear:
                clear(scenario.db or self.db, scenario.clear)
        self.rates[row.key] = max(self.rates.get(row.key, 0.0), summary["requests"] / (summary["duration_us"] / 1e6))
        return summary

    def measure(self, row: Row) -> Result:
        summary = self.load(row, DURATION)
        wall, server_seconds, db_seconds = summary["wall_s"], summary["server_cpu_s"], summary["db_cpu_s"]
        result = Result(
            server=row.server.kind,
            target=row.target,
            scenario=row.scenario.name,
            connections=row.connections,
            rps=summary["requests"] / (summary["duration_us"] / 1e6),
            p50_ms=summary["p50_us"] / 1000,
            p99_ms=summary["p99_us"] / 1000,
            errors=int(summary["errors"] + summary["status_errors"]),
            server_cpu=server_seconds / wall,
            wrk_cpu=summary["wrk_cpu_s"] / wall,
            cpu_us_per_request=server_seconds / summary["requests"] * 1e6,
            db_cpu_us_per_request=None if db_seconds < 0 else db_seconds / summary["requests"] * 1e6,
        )
        print(
            f"  {result.server:7} {result.target:22} {result.scenario:13} c{result.connections:<3} "
            f"{result.rps:7.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms  "
            f"errors {result.errors}  cpu server {result.server_cpu:.0%} wrk {result.wrk_cpu:.0%}  "
            f"{result.cpu_us_per_request:.0f} us cpu/req + postgres {result.db_cpu_us_per_request or 0:.0f}",
            flush=True,
        )
        return result


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {sys.version.split()[0]}, {sys.platform}"


def service_env(database_url: str, secret: str) -> dict[str, str]:
    """What the servers see: this environment's service settings (ACCESS_LOG=false, DB_...), our database."""
    known = {f.encode_name for f in msgspec.structs.fields(Settings)}
    return {
        # Each bench user sends ~10 requests a second: limit far above that, so the limiter's
        # cost is measured but it never refuses.
        "RATE_LIMIT_PER_MINUTE": "1000000",
        **{k: v for k, v in os.environ.items() if k in known or k in {"PATH", "HOME", "LANG"}},
        "DATABASE_URL": database_url,
        "BETTER_AUTH_SECRET": secret,
        "WORKERS": "1",
    }


def render(
    results: list[Result], kinds: list[str], rss_mb: dict[str, float], probed: list[str], skipped: list[str]
) -> str:
    by = {r.key: r for r in results}
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; "
        f"wrk -t{wrk.THREADS}; medians of {ROUNDS} rounds of {DURATION} s per row, rows in a new order "
        f"each round, after {WARMUP} s of warm-up each; {USERS} users with {TASKS} tasks each; "
        f"one worker per server; PostgreSQL synchronous_commit={SYNCHRONOUS_COMMIT}.",
        *(f"Not run: {reason}." for reason in skipped),
    ]
    for kind in kinds:
        rows = [r for r in results if r.server == kind]
        if rows:
            lines += ["", f"### {kind}", "", *report.results_table(rows)]
    found = report.checks(by, kinds, CONNECTIONS, HIGH_CONNECTIONS, rss_mb)
    lines += [
        "",
        "### Against the targets",
        "",
        "Ratios within one server's rows; CPU per request as bare's over the service's, so higher is better.",
        "",
        *report.checks_table(found, kinds),
        "",
        *report.summary(found, kinds),
        *report.access_log_cost(by, CONNECTIONS),
    ]
    costs = report.sync_costs(by, kinds, CONNECTIONS)
    if costs:
        lines += ["", "### The pairs the ratio targets compare", "", *costs]
    compared = report.servers_compared(by, results)
    if compared:
        lines += ["", "### Granian against uvicorn", "", *compared]
    if probed:
        lines += ["", "### HTTP limits (the service)", "", *probed]
    return "\n".join(lines) + "\n"


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (Debian/Ubuntu: sudo apt-get install wrk)", file=sys.stderr)
        return 2
    skipped = [reason for name in (*SERVERS, REPLICA) if (reason := available(name))]
    kinds = [kind for kind in servers.SERVERS if kind in SERVERS and available(kind) is None]
    targets = [t for t in PLAN if not (t == REPLICA and available(REPLICA))]
    OUT.mkdir(exist_ok=True)
    with embedded.temporary() as database_url, ExitStack() as stack:
        migrations.apply(database_url)
        db = stack.enter_context(psycopg.connect(database_url, autocommit=True))
        ids, replaced, cursors = seed(db)
        postgres = servers.Postgres.serving(db.info.backend_pid)
        secret = secrets.token_urlsafe(48)
        env = service_env(database_url, secret)
        everything = scenarios(db, ids, replaced, cursors, secret)
        # What a target serves, where it is not ``everything`` with ``env``.
        by_target: dict[str, tuple[dict[str, Scenario], dict[str, str]]] = {}
        if any(wanted(kind, BEFORE_SYNC, name) for kind in kinds for name, _ in PLAN[BEFORE_SYNC]):
            before_url = before_sync(db, database_url)
            before_db = stack.enter_context(psycopg.connect(before_url, autocommit=True))
            by_target[BEFORE_SYNC] = (
                scenarios(before_db, ids, replaced, cursors, secret),
                service_env(before_url, secret),
            )
        rows: list[Row] = []
        running: dict[tuple[str, str], servers.Server] = {}
        # Every server stays up (an idle one costs nothing), so rounds can alternate between them.
        for kind in kinds:
            for target in targets:
                plan = [(name, conns) for name, conns in PLAN[target] if wanted(kind, target, name)]
                if not plan:
                    continue
                app, ready = APPS[target]
                served, server_env = by_target.get(target, (everything, env))
                if target == QUIET:
                    server_env = {**server_env, "ACCESS_LOG": "false"}
                running[(kind, target)] = server = stack.enter_context(servers.started(kind, app, server_env, ready))
                rows += [Row(server, target, served[name], conns) for name, conns in plan]
        bench = Bench(db, postgres)
        minutes = len(rows) * (WARMUP + ROUNDS * (DURATION + 1)) // 60 + 1
        print(f"{len(rows)} rows, {ROUNDS} rounds of {DURATION} s: about {minutes} min", flush=True)
        for row in rows:
            bench.load(row, WARMUP)
        rounds: dict[tuple[str, str, str, int], list[Result]] = {}
        order = random.Random(ROUNDS)  # a new order each round (no row always follows another), repeatable
        for number in range(1, ROUNDS + 1):
            print(f"round {number} of {ROUNDS}", flush=True)
            for row in order.sample(rows, len(rows)):
                rounds.setdefault(row.key, []).append(bench.measure(row))
        rss_mb = {kind: server.worker_rss_mb() for (kind, target), server in running.items() if target == SERVICE}
        probed: list[str] = []
        bases = {kind: server.base for (kind, target), server in running.items() if target == SERVICE}
        if LIMITS and bases:
            print("probing HTTP limits", flush=True)
            probed = limits.table(bases, limits.probe(bases, token(secret, LISTED[0])["Authorization"][7:]))
    results = [report.median_result(rounds[row.key]) for row in rows]
    text = render(results, kinds, rss_mb, probed, skipped)
    (OUT / "latest.md").write_text(text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
