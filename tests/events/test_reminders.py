"""Reminders over the live stream, with three instances running: each fires once, on time, to every
open stream of its user and no other; never for a task completed, trashed or moved before its
moment, nor for a moment already past when it was set."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from service.db.urls import asyncpg_dsn
from tests.conftest import ALICE, BOB, bearer
from tests.support.sse import EventStream, open_events

LEAD = 2.0  # seconds ahead a reminder is set
ON_TIME = 1.0  # the latest a reminder may arrive after its moment


def moment(seconds: float) -> datetime:
    """A due time ``seconds`` from now, to the millisecond (what a client sends)."""
    return datetime.fromtimestamp(round(time.time() + seconds, 3), UTC)


async def create(http: httpx.AsyncClient, base: str, user: str = "alice", **fields: Any) -> dict[str, Any]:
    body = {"title": "remind me", **fields}
    if isinstance(body.get("due_at"), datetime):
        body["due_at"] = body["due_at"].isoformat()
    response = await http.post(f"{base}/api/{user}/tasks", json=body, headers=bearer(user))
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def drain_ready(*streams: EventStream) -> None:
    for stream in streams:
        assert (await stream.next()).event == "ready"


async def reminders_within(stream: EventStream, seconds: float) -> list[dict[str, Any]]:
    """The reminder events the stream gets in the next ``seconds``, with their arrival times."""
    got = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = await stream.next(within=left)
        except TimeoutError:
            break
        if event.event == "reminder":
            got.append({**event.json(), "arrived": event.at})
    return got


async def test_a_reminder_arrives_once_on_time_to_each_of_its_users_streams_on_every_instance(
    instances: list[str], http: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    one, two, three = instances
    async with (
        open_events(http, one, "alice", ALICE) as first,
        open_events(http, one, "alice", ALICE) as second,
        open_events(http, two, "alice", ALICE) as third,
        open_events(http, three, "alice", ALICE) as fourth,
        open_events(http, two, "bob", BOB) as bobs,
    ):
        alices = (first, second, third, fourth)
        await drain_ready(*alices, bobs)
        due = moment(LEAD)
        task = await create(http, three, due_at=due, reminders=[0])
        listed = (await http.get(f"{one}/api/alice/reminders", headers=ALICE)).json()
        assert [item["task_id"] for item in listed] == [task["id"]]
        got = await asyncio.gather(*(reminders_within(stream, LEAD + ON_TIME + 1.5) for stream in alices))
        for reminders in got:
            assert len(reminders) == 1, got
            arrived = reminders[0].pop("arrived")
            assert reminders[0] == listed[0]
            assert due.timestamp() - 0.05 <= arrived <= due.timestamp() + ON_TIME, arrived - due.timestamp()
        # bob heard nothing of it: his next event is his own write's.
        await create(http, one, user="bob", title="fence")
        assert (await bobs.next()).event == "changed"
    fired = await admin.fetch("SELECT fired_at FROM task_reminders WHERE user_id = 'alice'")
    assert [row["fired_at"] is not None for row in fired] == [True]


async def test_a_reminder_never_fires_for_a_task_done_trashed_or_moved_before_its_moment(
    instances: list[str], http: httpx.AsyncClient
) -> None:
    one, two, three = instances
    due = moment(LEAD)
    done, trashed, moved, kept = [await create(http, one, title=name, due_at=due, reminders=[0]) for name in "ABCD"]
    late = await create(http, two, title="set late", due_at=moment(-60), reminders=[0])
    async with open_events(http, three, "alice", ALICE) as stream:
        await drain_ready(stream)
        assert (await http.patch(f"{one}/api/alice/tasks/{done['id']}/complete", headers=ALICE)).status_code == 200
        assert (await http.delete(f"{two}/api/alice/tasks/{trashed['id']}", headers=ALICE)).status_code == 204
        later = {"due_at": (due + timedelta(hours=1)).isoformat()}
        assert (
            await http.patch(f"{three}/api/alice/tasks/{moved['id']}", json=later, headers=ALICE)
        ).status_code == 200
        got = await reminders_within(stream, LEAD + ON_TIME + 1.5)
        assert [reminder["task_id"] for reminder in got] == [kept["id"]]
        assert late["id"] not in {reminder["task_id"] for reminder in got}


async def test_the_next_occurrence_of_a_recurring_task_gets_its_reminders(
    instances: list[str], http: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    base = instances[0]
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    task = await create(http, base, due_at=due, recurrence="FREQ=DAILY", reminders=[0, 30])
    completed = await http.patch(f"{base}/api/alice/tasks/{task['id']}/complete", headers=ALICE)
    assert completed.status_code == 200
    window = {"from": due.isoformat(), "to": (due + timedelta(days=2)).isoformat()}
    listed = (await http.get(f"{base}/api/alice/reminders", params=window, headers=ALICE)).json()
    nexts = {item["task_id"] for item in listed}
    assert len(nexts) == 1
    assert task["id"] not in nexts
    rows = await admin.fetch(
        "SELECT minutes_before, remind_at, fired_at FROM task_reminders WHERE user_id = 'alice' ORDER BY 1"
    )
    assert [(row["minutes_before"], row["remind_at"], row["fired_at"]) for row in rows] == [
        (0, due + timedelta(days=1), None),
        (30, due + timedelta(days=1, minutes=-30), None),
    ]


async def test_many_reminders_due_at_once_each_fire_exactly_once_across_the_instances(
    instances: list[str], http: httpx.AsyncClient, admin: asyncpg.Connection, migrated: str
) -> None:
    # 600 reminders of 30 users, due together, behind the API's back: the three schedulers race
    # for them; a connection of our own hears every announcement.
    heard: list[str] = []
    all_heard = asyncio.Event()

    def hear(*args: Any) -> None:
        heard.append(args[3])
        if len(heard) >= 300:
            all_heard.set()

    listener = await asyncpg.connect(asyncpg_dsn(migrated))
    await listener.add_listener("task_api_reminders", hear)
    try:
        due = moment(LEAD)
        await admin.execute(
            """
            INSERT INTO tasks (user_id, title, due_at, reminders)
            SELECT 'user-' || n % 30, 'task ' || n, $1, '{0, 5}' FROM generate_series(1, 300) AS n
            """,
            due + timedelta(minutes=5),
        )
        async with asyncio.timeout(LEAD + 10):
            await all_heard.wait()
        await asyncio.sleep(1)  # time for any second announcement
    finally:
        await listener.close()
    assert len(heard) == 300  # the 5-minute ones only: the others are not due yet
    assert len(set(heard)) == 300
    unfired = await admin.fetchval("SELECT count(*) FROM task_reminders WHERE fired_at IS NULL")
    assert unfired == 300
