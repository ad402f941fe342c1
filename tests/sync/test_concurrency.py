"""Revisions never lose a change: many writers committing late and out of order, readers syncing all along.

The workload (tests/support/sync_workload.py) runs the service's own query functions on sixteen
connections for four users, most writes in a transaction that commits a few milliseconds late,
while a reader per user pulls GET /api/{user}/changes in small pages. Once the writers stop and
the readers catch up, each reader's copy must equal the user's live tasks, field for field.

The same workload must catch a feed that numbers changes by the clock: a write stamped earlier can
commit after a reader has moved past a later stamp, and is skipped for good. If the harness ever
stopped seeing that, it would prove nothing about revisions either.

About PostgreSQL's locking, not a pooler: the writers hold more connections in open transactions
than the suite's PgBouncer has server connections, so make test-pgbouncer leaves it out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec
import pytest

from service.db.pool import Database, create_pool
from service.db.statements import ExecSQL, Executor, ManySQL, ValSQL
from service.db.urls import asyncpg_dsn
from service.sync.schemas import Changes
from service.tasks import queries as tasks
from service.tasks.schemas import Task, TaskCreate, TaskUpdate
from service.trash import queries as trash
from tests.conftest import TestClient, bearer, create, make_settings
from tests.support.sync_workload import SEED, USERS, Page, Workload, divergence, run_workload

pytestmark = pytest.mark.direct

QUOTA = 10_000
CONNECTIONS = Workload.writers
HEADERS = {user: bearer(user) for user in USERS}
LIVE_TASKS = """
    SELECT id, user_id, title, description, completed, priority, tags, due_at, completed_at, created_at, updated_at,
           revision, recurrence, time_zone, reminders, series_id, list_id, parent_id, position,
           (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id) AS subtasks,
           (SELECT count(*) FROM tasks AS sub WHERE sub.user_id = $1 AND sub.parent_id = tasks.id AND NOT sub.completed)
               AS subtasks_open
    FROM tasks WHERE user_id = $1
"""

Write = Callable[[Executor, random.Random, str, list[UUID]], Awaitable[object]]


async def database(url: str) -> Database:
    """The writers' connections. One user's writers queue for their counter, so on a busy machine a
    write may wait longer than the service's statement timeout; a deadlock still fails within a second."""
    settings = make_settings(
        url, db_pool_min_size=CONNECTIONS, db_pool_max_size=CONNECTIONS, db_statement_timeout_ms=60_000
    )
    return Database(await create_pool(settings), acquire_timeout=60)


# The writes of the service, each through its query function, on a task the writers made (live,
# trashed or purged by now: a write on a task that is not there changes nothing, as for a client).


async def add(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> None:
    task = await tasks.create_task(db, user_id=user, data=TaskCreate(title=f"task {rng.randrange(10**6)}"), quota=QUOTA)
    assert task is not None
    known.append(task.id)


async def update(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    change = TaskUpdate(title=f"renamed {rng.randrange(10**6)}", priority=rng.choice(("low", "medium", "high")))
    return await tasks.update_task(db, user_id=user, task_id=rng.choice(known), data=change)


async def toggle(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await tasks.toggle_task(db, user_id=user, task_id=rng.choice(known))


async def set_completed(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await tasks.set_task_completed(db, user_id=user, task_id=rng.choice(known), completed=rng.random() < 0.5)


async def delete(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await tasks.trash_task(db, user_id=user, task_id=rng.choice(known))


async def clear_completed(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await tasks.trash_completed_tasks(db, user_id=user)


async def restore(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await trash.restore_task(db, user_id=user, task_id=rng.choice(known), quota=QUOTA)


async def purge(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await trash.purge_trashed_task(db, user_id=user, task_id=rng.choice(known))


async def empty_trash(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await trash.empty_trash(db, user_id=user)


WRITES: dict[Write, float] = {
    update: 3,
    toggle: 2,
    set_completed: 1,
    delete: 2,
    restore: 1.5,
    purge: 0.5,
    clear_completed: 0.15,
    empty_trash: 0.1,
}


def choose(rng: random.Random, writes: dict[Write, float], known: list[UUID], add: Write) -> Write:
    """A write on one of the known tasks; a new task a third of the time, or when there is none yet."""
    if not known or rng.random() < 1 / 3:
        return add
    return rng.choices(list(writes), list(writes.values()))[0]


class RevisionFeed:
    """The service: its tables, written by its query functions, read through GET /api/{user}/changes."""

    start = 0

    def __init__(self, db: Database, client: TestClient, admin: asyncpg.Connection) -> None:
        self.db = db
        self.client = client
        self.admin = admin

    async def write(self, db: Executor, rng: random.Random, user: str, known: list[UUID]) -> None:
        await choose(rng, WRITES, known, add)(db, rng, user, known)

    async def changes(self, user: str, since: int, limit: int) -> Page[int]:
        response = await self.client.get(
            f"/api/{user}/changes", params={"since": since, "limit": limit}, headers=HEADERS[user]
        )
        assert response.status_code == 200, response.text
        page = msgspec.json.decode(response.content, type=Changes)
        # What the contract promises of every page, checked on each of them as they come.
        ids = [task.id for task in page.tasks] + page.deleted_tasks
        assert len(ids) == len(set(ids)) <= limit, page
        assert page.revision >= since, page
        assert all(since < task.revision <= page.revision and task.user_id == user for task in page.tasks), page
        return Page(page.revision, page.has_more, {task.id: task for task in page.tasks}, page.deleted_tasks)

    async def live(self, user: str) -> dict[UUID, object]:
        return {row["id"]: Task(*row) for row in await self.admin.fetch(LIVE_TASKS, user)}


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[Database]:
    db = await database(migrated)
    try:
        yield db
    finally:
        await db.pool.close()


async def test_every_reader_ends_with_exactly_the_users_tasks(
    client: TestClient, admin: asyncpg.Connection, db: Database
) -> None:
    outcome = await run_workload(RevisionFeed(db, client, admin))

    assert outcome.divergences == {}, f"seed {SEED}: {outcome.divergences}"
    assert outcome.late_commits > 100, outcome  # the workload did overlap
    assert outcome.pages > 100, outcome
    counters = await admin.fetch(
        """
        SELECT user_id, tasks, revision,
               (SELECT count(*) FROM tasks WHERE tasks.user_id = task_counts.user_id) AS live,
               greatest((SELECT max(revision) FROM tasks WHERE tasks.user_id = task_counts.user_id),
                        (SELECT max(revision) FROM trashed_tasks WHERE trashed_tasks.user_id = task_counts.user_id),
                        (SELECT max(revision) FROM task_tombstones WHERE task_tombstones.user_id = task_counts.user_id))
                   AS latest_change
        FROM task_counts ORDER BY user_id
        """
    )
    assert [row["user_id"] for row in counters] == sorted(USERS)
    for row in counters:  # the counters say how many tasks there are and name the latest change
        assert (row["tasks"], row["revision"]) == (row["live"], row["latest_change"]), dict(row)


async def waiting_for_a_lock(admin: asyncpg.Connection, connection: asyncpg.Connection) -> None:
    """Until ``connection`` waits for a lock (pg_locks, unlike pg_stat_activity, is read afresh each time)."""
    for _ in range(1000):
        if await admin.fetchval(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE pid = $1 AND NOT granted)", connection.get_server_pid()
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the other transaction never waited for a lock")


async def test_two_transactions_of_one_user_take_their_locks_in_one_order(
    client: TestClient, admin: asyncpg.Connection, migrated: str
) -> None:
    """Each transaction holds what its first write locked while its second waits. Were one write to
    lock a trashed task before the user's counter, each would wait for the other: a deadlock."""
    made = [await create(client, title) for title in ("restored", "purged", "restored too")]
    for task in made:
        assert await tasks.trash_task(admin, user_id="alice", task_id=UUID(task["id"]))
    restored, purged, restored_too = (UUID(task["id"]) for task in made)
    first, second = [await asyncpg.connect(asyncpg_dsn(migrated)) for _ in range(2)]
    try:
        async with second.transaction():
            assert await trash.purge_trashed_task(second, user_id="alice", task_id=purged)

            async def restore_then_purge() -> None:
                async with first.transaction():
                    assert await trash.restore_task(first, user_id="alice", task_id=restored, quota=QUOTA)
                    assert not await trash.purge_trashed_task(first, user_id="alice", task_id=purged)

            other = asyncio.create_task(restore_then_purge())
            await waiting_for_a_lock(admin, first)
            assert await trash.restore_task(second, user_id="alice", task_id=restored_too, quota=QUOTA)
        async with asyncio.timeout(10):
            await other
    finally:
        await first.close()
        await second.close()
    live = {row["id"] for row in await admin.fetch("SELECT id FROM tasks WHERE user_id = 'alice'")}
    assert live == {restored, restored_too}
    assert await admin.fetchval("SELECT task_id FROM task_tombstones WHERE user_id = 'alice'") == purged


# The check of the harness: a store whose writers stamp each change with the clock and do not take
# turns, read by a feed that pages by that stamp, as a sync built on updated_at would.

STAMPED_TASKS = ExecSQL(
    """
    CREATE TABLE stamped_tasks (
        user_id text NOT NULL,
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        title text NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        stamp timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (user_id, id)
    );
    CREATE INDEX ON stamped_tasks (user_id, stamp, id)
    """
)
CREATE_STAMPED = ValSQL("INSERT INTO stamped_tasks (user_id, title) VALUES ($1, $2) RETURNING id")
RENAME_STAMPED = ExecSQL(
    "UPDATE stamped_tasks SET title = $3, stamp = clock_timestamp() WHERE user_id = $1 AND id = $2 AND NOT deleted"
)
DELETE_STAMPED = ExecSQL(
    "UPDATE stamped_tasks SET deleted = true, stamp = clock_timestamp() WHERE user_id = $1 AND id = $2 AND NOT deleted"
)
RESTORE_STAMPED = ExecSQL(
    "UPDATE stamped_tasks SET deleted = false, stamp = clock_timestamp() WHERE user_id = $1 AND id = $2 AND deleted"
)
STAMPED_CHANGES = ManySQL(
    """
    SELECT id, title, deleted, stamp FROM stamped_tasks
    WHERE user_id = $1 AND (stamp, id) > ($2, $3)
    ORDER BY stamp, id
    LIMIT $4
    """
)
LIVE_STAMPED = ManySQL("SELECT id, title, stamp FROM stamped_tasks WHERE user_id = $1 AND NOT deleted")


async def create_stamped(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> None:
    known.append(await db.fetchval(CREATE_STAMPED, user, f"task {rng.randrange(10**6)}"))


async def rename_stamped(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await db.execute(RENAME_STAMPED, user, rng.choice(known), f"renamed {rng.randrange(10**6)}")


async def delete_stamped(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await db.execute(DELETE_STAMPED, user, rng.choice(known))


async def restore_stamped(db: Executor, rng: random.Random, user: str, known: list[UUID]) -> object:
    return await db.execute(RESTORE_STAMPED, user, rng.choice(known))


STAMPED_WRITES: dict[Write, float] = {rename_stamped: 6, delete_stamped: 2.5, restore_stamped: 1.5}
STAMP_ZERO = (datetime(1970, 1, 1, tzinfo=UTC), UUID(int=0))


class TimestampFeed:
    """Changes stamped with clock_timestamp(), read from after the last (stamp, id) a reader saw."""

    start = STAMP_ZERO

    def __init__(self, db: Database) -> None:
        self.db = db

    async def write(self, db: Executor, rng: random.Random, user: str, known: list[UUID]) -> None:
        await choose(rng, STAMPED_WRITES, known, create_stamped)(db, rng, user, known)

    async def changes(self, user: str, since: tuple[datetime, UUID], limit: int) -> Page[tuple[datetime, UUID]]:
        rows = await self.db.fetch(STAMPED_CHANGES, user, *since, limit + 1)
        page = rows[:limit]
        cursor = (page[-1]["stamp"], page[-1]["id"]) if page else since
        changed: dict[UUID, object] = {row["id"]: (row["title"], row["stamp"]) for row in page if not row["deleted"]}
        return Page(cursor, len(rows) > limit, changed, [row["id"] for row in page if row["deleted"]])

    async def live(self, user: str) -> dict[UUID, object]:
        return {row["id"]: (row["title"], row["stamp"]) for row in await self.db.fetch(LIVE_STAMPED, user)}


ROUNDS = 5  # a round with no miss at all is rare; five in a row would mean the workload lost its overlap


async def test_the_same_workload_catches_a_feed_that_pages_by_timestamp(scratch_url: str) -> None:
    db = await database(scratch_url)
    try:
        await db.execute(STAMPED_TASKS)
        for round_ in range(ROUNDS):
            outcome = await run_workload(TimestampFeed(db), seed=SEED + round_)
            if outcome.divergences:
                break
        else:
            pytest.fail(f"{ROUNDS} rounds from seed {SEED} and the readers of a timestamp feed missed nothing")
    finally:
        await db.pool.close()


def test_divergence_names_missing_undeleted_and_stale_tasks() -> None:
    one, two, three = UUID(int=1), UUID(int=2), UUID(int=3)
    assert divergence({one: "a", two: "b"}, {one: "a", two: "b"}) == ""
    assert divergence({one: "a", three: "c"}, {one: "A", two: "b"}) == (
        "1 live tasks missing, e.g. b; 1 deleted tasks kept, e.g. c; 1 stale, e.g. a where the store has A"
    )
