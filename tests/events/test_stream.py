"""GET /events on real service processes: ready, changed after each committed write, resuming,
auth, other users' streams, the cap per user, keep-alives, and the ends of a stream (the token's
expiry, SIGTERM). The three instances of ``instances`` share one database, as deployed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.conftest import ALICE, BOB, bearer, make_settings
from tests.events.conftest import revision_of, service_env
from tests.support.server import start_server, stop
from tests.support.sse import EventStream, open_events


async def create(http: httpx.AsyncClient, base: str, title: str = "task", user: str = "alice") -> dict[str, object]:
    response = await http.post(f"{base}/api/{user}/tasks", json={"title": title}, headers=bearer(user))
    assert response.status_code == 201, response.text
    task: dict[str, object] = response.json()
    return task


async def ready(stream: EventStream) -> int:
    event = await stream.next()
    assert event.event == "ready"
    assert event.id == str(event.json()["revision"])
    revision: int = event.json()["revision"]
    return revision


async def test_a_stream_starts_with_ready_and_the_users_revision(instances: list[str], http: httpx.AsyncClient) -> None:
    base = instances[0]
    async with open_events(http, base, "alice", ALICE) as stream:
        first = await stream.next()
        assert (first.event, first.id, first.json(), first.retry) == ("ready", "0", {"revision": 0}, "1000")
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-store"
    await create(http, base)
    await create(http, base)
    async with open_events(http, base, "alice", ALICE) as stream:
        assert await ready(stream) == 2


async def test_a_write_through_one_instance_reaches_a_stream_on_another(
    instances: list[str], http: httpx.AsyncClient
) -> None:
    writer, reader = instances[0], instances[1]
    async with open_events(http, reader, "alice", ALICE) as stream:
        since = await ready(stream)
        task = await create(http, writer, "from elsewhere")
        changed = await stream.next_of("changed")
        assert changed.id == str(task["revision"])
        assert changed.json() == {"revision": task["revision"]}
        feed = (await http.get(f"{reader}/api/alice/changes", params={"since": since}, headers=ALICE)).json()
        assert [item["id"] for item in feed["tasks"]] == [task["id"]]
        assert feed["revision"] == task["revision"]


async def test_every_kind_of_write_is_announced_with_the_revision_it_made(
    instances: list[str], http: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    base = instances[0]
    task = await create(http, base)
    other = await create(http, base, "other")
    url = f"{base}/api/alice/tasks/{task['id']}"
    writes = [
        ("PATCH", url, {"title": "renamed"}),
        ("PATCH", f"{url}/complete", None),
        ("PUT", url, {"title": "replaced", "description": "whole", "completed": False}),
        ("DELETE", url, None),
        ("POST", f"{base}/api/alice/trash/{task['id']}/restore", None),
        ("PATCH", f"{base}/api/alice/tasks/{other['id']}/complete", None),
        ("DELETE", f"{base}/api/alice/tasks?completed=true", None),  # clears the completed one into the trash
    ]
    async with open_events(http, base, "alice", ALICE) as stream:
        seen = await ready(stream)
        for method, target, body in writes:
            response = await http.request(method, target, json=body, headers=ALICE)
            assert response.status_code < 300, (method, target, response.text)
            now = await revision_of(admin, "alice")
            assert now > seen, (method, target)
            changed = await stream.next_of("changed")
            assert int(changed.id or 0) == now, (method, target)
            seen = now


async def test_only_what_commits_is_announced_whoever_wrote_it(
    instances: list[str], http: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    base = instances[0]
    await create(http, base)
    async with open_events(http, base, "alice", ALICE) as stream:
        seen = await ready(stream)

        undone = admin.transaction()
        await undone.start()
        for n in range(5):  # five revisions, announced only if this commits
            await admin.execute("UPDATE tasks SET title = $2 WHERE user_id = $1", "alice", f"draft {n}")
        await undone.rollback()
        # SQL run by hand, committed: the counter's trigger announces it like any write.
        await admin.execute("UPDATE tasks SET title = 'by hand' WHERE user_id = 'alice'")
        changed = await stream.next_of("changed")
        assert int(changed.id or 0) == seen + 1 == await revision_of(admin, "alice")


async def test_a_reconnect_behind_the_revision_gets_changed_at_once(
    instances: list[str], http: httpx.AsyncClient
) -> None:
    base = instances[1]
    await create(http, base)
    await create(http, base)
    async with http.stream("GET", f"{base}/api/alice/events", headers={**ALICE, "Last-Event-ID": "1"}) as response:
        stream = EventStream(response)
        try:
            assert await ready(stream) == 2
            changed = await stream.next()
            assert (changed.event, changed.id, changed.json()) == ("changed", "2", {"revision": 2})
        finally:
            await stream.close()
    # Up to date: nothing until the next write, whose changed comes next.
    async with http.stream("GET", f"{base}/api/alice/events", headers={**ALICE, "Last-Event-ID": "2"}) as response:
        stream = EventStream(response)
        try:
            assert await ready(stream) == 2
            await create(http, base)
            assert (await stream.next()).id == "3"
        finally:
            await stream.close()


@pytest.mark.parametrize("value", ["abc", "-1", "1.5"])
async def test_a_last_event_id_that_is_no_revision_is_refused(
    instances: list[str], http: httpx.AsyncClient, value: str
) -> None:
    response = await http.get(f"{instances[0]}/api/alice/events", headers={**ALICE, "Last-Event-ID": value})
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["detail"]


async def test_a_browser_on_the_web_apps_origin_may_resume_a_stream(
    instances: list[str], http: httpx.AsyncClient
) -> None:
    preflight = await http.options(
        f"{instances[0]}/api/alice/events",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,last-event-id",
        },
    )
    assert preflight.status_code in (200, 204)
    allowed = {name.strip().lower() for name in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "last-event-id"} <= allowed


async def test_a_stream_needs_the_users_own_token(instances: list[str], http: httpx.AsyncClient) -> None:
    url = f"{instances[0]}/api/alice/events"
    assert (await http.get(url)).status_code == 401
    assert (await http.get(url, headers=bearer("alice", ttl_seconds=-60))).status_code == 401
    forbidden = await http.get(url, headers=BOB)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"


async def test_a_users_stream_hears_nothing_of_another_users_writes(
    instances: list[str], http: httpx.AsyncClient
) -> None:
    base = instances[0]
    async with (
        open_events(http, base, "alice", ALICE) as alice,
        open_events(http, instances[2], "bob", BOB) as bob,
    ):
        assert await ready(alice) == 0
        assert await ready(bob) == 0
        for n in range(3):
            await create(http, base, f"bob's {n}", user="bob")
        await create(http, base, "alice's", user="alice")
        assert (await alice.next()).id == "1"  # alice's own, not bob's third
        await create(http, base, "alice's second", user="alice")
        assert (await alice.next()).id == "2"
        bobs: list[int] = []
        while not bobs or bobs[-1] != 3:
            bobs.append(int((await bob.next()).id or 0))
        await create(http, base, "bob's last", user="bob")
        assert (await bob.next()).id == "4"  # nothing of alice's came between
        assert bobs == sorted(set(bobs))


@pytest.fixture(scope="module")
def strict(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> object:
    """One instance with two streams per user, keep-alives every 0.3 s and no leeway on a token's expiry."""
    directory = tmp_path_factory.mktemp("strict")
    env = service_env(migrated, EVENTS_MAX_STREAMS_PER_USER="2", EVENTS_KEEPALIVE_SECONDS="0.3", JWT_LEEWAY_SECONDS="0")
    process, base = start_server(env, directory)
    yield base
    assert stop(process) == 0


async def test_one_stream_past_the_cap_is_429_until_one_closes(strict: str, http: httpx.AsyncClient) -> None:
    async with open_events(http, strict, "alice", ALICE) as first, open_events(http, strict, "alice", ALICE):
        await ready(first)
        refused = await http.get(f"{strict}/api/alice/events", headers=ALICE)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert "2 event streams" in refused.json()["detail"]
        async with open_events(http, strict, "bob", BOB) as bobs:  # a cap per user
            await ready(bobs)
            exposition = (await http.get(f"{strict}/metrics")).text
            assert "\ntask_api_event_streams 3.0\n" in exposition
            assert "\ntask_api_events_listening 1.0\n" in exposition
    # Both closed by the client: the server notices, and frees their places.
    deadline = time.monotonic() + 5
    while True:
        async with http.stream("GET", f"{strict}/api/alice/events", headers=ALICE) as response:
            if response.status_code == 200:
                break
        assert time.monotonic() < deadline, "a closed stream kept its place"
        await asyncio.sleep(0.1)


async def test_an_idle_stream_gets_keep_alive_comments(strict: str, http: httpx.AsyncClient) -> None:
    async with open_events(http, strict, "alice", ALICE) as stream:
        await ready(stream)
        started = time.monotonic()
        for _ in range(3):
            comment = await stream.next(within=2, comments=True)
            assert (comment.event, comment.data, comment.comments) == (None, None, ["keep-alive"])
        assert time.monotonic() - started < 3


async def test_a_stream_ends_when_its_token_expires(strict: str, http: httpx.AsyncClient) -> None:
    async with open_events(http, strict, "alice", bearer("alice", ttl_seconds=2)) as stream:
        await ready(stream)
        async with asyncio.timeout(4):
            await stream.ended.wait()
        assert all(event.event is None for event in stream.received())  # keep-alives, then the end


async def test_sigterm_ends_every_stream_at_once_and_the_process_cleanly(
    migrated: str, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    process, base = start_server(service_env(migrated, SHUTDOWN_GRACE_SECONDS="20"), tmp_path)
    try:
        async with open_events(http, base, "alice", ALICE) as one, open_events(http, base, "bob", BOB) as two:
            await ready(one)
            await ready(two)
            stopped = time.monotonic()
            process.terminate()
            for stream in (one, two):
                async with asyncio.timeout(5):
                    await stream.ended.wait()
            assert await asyncio.to_thread(process.wait, 10) == 0
            assert time.monotonic() - stopped < 5  # not the 20 s grace a stream would otherwise take
    finally:
        if process.poll() is None:
            stop(process)


async def test_events_off_means_no_route(migrated: str) -> None:
    app = create_app(make_settings(migrated, events_enabled=False))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/api/alice/events", headers=ALICE)).status_code == 404
        assert (await client.post("/api/alice/tasks", json={"title": "still"}, headers=ALICE)).status_code == 201
        paths = (await client.get("/docs/openapi.json")).json()["paths"]
        assert "/api/{user_id}/events" not in paths
