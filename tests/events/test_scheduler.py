"""The reminder scheduler's passes on a real PostgreSQL: what it fires, what it announces, and that
concurrent passes fire each reminder once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest

from service.db.pool import Database, create_pool
from service.db.urls import asyncpg_dsn
from service.events.listener import REMINDERS
from service.events.scheduler import LATE_MOST, Scheduler
from tests.conftest import make_settings, wipe


@pytest.fixture
async def db(migrated: str, admin: asyncpg.Connection) -> AsyncIterator[Database]:
    await wipe(admin)
    pool = await create_pool(make_settings(migrated, db_pool_max_size=8))
    yield Database(pool, acquire_timeout=5)
    await pool.close()


@pytest.fixture
async def heard(migrated: str) -> AsyncIterator[list[dict[str, Any]]]:
    """Every reminder announced while the test runs."""
    announced: list[dict[str, Any]] = []
    listener = await asyncpg.connect(asyncpg_dsn(migrated))
    await listener.add_listener(REMINDERS, lambda *args: announced.append(msgspec.json.decode(args[3])))
    yield announced
    await listener.close()


async def remind(admin: asyncpg.Connection, user: str, at: datetime, count: int = 1) -> None:
    """``count`` tasks of ``user``, each with one reminder at ``at``, set before it (so not born fired)."""
    await admin.execute(
        "INSERT INTO tasks (user_id, title, due_at, reminders) SELECT $1, 'task ' || n, $2, '{0}'"
        " FROM generate_series(1, $3) AS n",
        user,
        datetime.now(UTC) + timedelta(hours=1),
        count,
    )
    await admin.execute("UPDATE task_reminders SET remind_at = $2 WHERE user_id = $1", user, at)


async def test_a_pass_fires_what_is_due_and_announces_what_is_on_time(
    db: Database, admin: asyncpg.Connection, heard: list[dict[str, Any]]
) -> None:
    now = datetime.now(UTC)
    await remind(admin, "due", now - timedelta(seconds=1))
    await remind(admin, "missed", now - LATE_MOST - timedelta(minutes=1))  # while no instance ran
    await remind(admin, "later", now + timedelta(hours=1))
    scheduler = Scheduler(db, listening=lambda: True)
    assert await scheduler.fire_due() is False  # not a full batch
    await asyncio.sleep(0.2)
    assert [item["user_id"] for item in heard] == ["due"]
    assert set(heard[0]["reminder"]) == {"task_id", "title", "due_at", "remind_at", "minutes_before"}
    fired = await admin.fetch("SELECT user_id FROM task_reminders WHERE fired_at IS NOT NULL ORDER BY 1")
    assert [row["user_id"] for row in fired] == ["due", "missed"]


async def test_a_reminder_set_for_a_moment_already_past_is_born_fired(admin: asyncpg.Connection) -> None:
    await wipe(admin)
    await admin.execute(
        "INSERT INTO tasks (user_id, title, due_at, reminders) VALUES ('late', 'x', now() - interval '1 minute', '{0}')"
    )
    assert await admin.fetchval("SELECT fired_at IS NOT NULL FROM task_reminders WHERE user_id = 'late'")


async def test_concurrent_passes_fire_each_reminder_once(
    db: Database, admin: asyncpg.Connection, heard: list[dict[str, Any]]
) -> None:
    await remind(admin, "many", datetime.now(UTC) - timedelta(seconds=1), count=1200)
    schedulers = [Scheduler(db, listening=lambda: True) for _ in range(6)]

    async def drain(scheduler: Scheduler) -> None:
        while await scheduler.fire_due():
            pass

    await asyncio.gather(*(drain(scheduler) for scheduler in schedulers))
    await asyncio.sleep(0.5)
    ids = [item["reminder"]["task_id"] for item in heard]
    assert len(ids) == 1200
    assert len(set(ids)) == 1200
    assert await admin.fetchval("SELECT count(*) FROM task_reminders WHERE fired_at IS NULL") == 0
