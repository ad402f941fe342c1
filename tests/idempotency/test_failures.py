"""What is not recorded: an error answer leaves the key unused and its writes undone, and an answer
whose commit failed is never sent. The body limits still hold for a keyed request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest
from litestar import post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.config import Settings
from service.db.pool import InjectedDatabase
from service.db.urls import asyncpg_dsn
from service.http.docs import UserId
from service.http.problems import problem
from service.tasks import queries
from service.tasks.schemas import TaskCreate
from tests.conftest import ALICE, CapturedLog, TestClient, create, make_settings, problem_of, wipe
from tests.idempotency.test_replay import count_tasks, keyed
from tests.support.trickle import trickled_create


async def recorded_keys(admin: asyncpg.Connection) -> list[str]:
    return [row["key"] for row in await admin.fetch("SELECT key FROM idempotency_keys ORDER BY key")]


async def test_a_404_is_not_recorded_and_the_retry_runs_afresh(client: TestClient, admin: asyncpg.Connection) -> None:
    task_id = uuid4()
    missing = await client.patch(f"/api/alice/tasks/{task_id}", json={"title": "found"}, headers=keyed())
    assert missing.status_code == 404
    assert await recorded_keys(admin) == []
    await admin.execute("INSERT INTO tasks (user_id, id, title) VALUES ('alice', $1, 'there now')", task_id)
    retried = await client.patch(f"/api/alice/tasks/{task_id}", json={"title": "found"}, headers=keyed())
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["title"] == "found"


async def test_a_refused_body_leaves_the_key_for_a_corrected_one(client: TestClient, admin: asyncpg.Connection) -> None:
    # The key stays unused after any error, so a client may fix its request and send it with the same key.
    refused = await client.post("/api/alice/tasks", json={"title": "  "}, headers=keyed())
    assert refused.status_code == 400
    corrected = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed())
    assert corrected.status_code == 201
    assert "idempotent-replayed" not in corrected.headers
    assert await count_tasks(admin) == 1


async def test_a_failed_precondition_is_not_recorded(client: TestClient, admin: asyncpg.Connection) -> None:
    task = await create(client)
    stale = {**keyed(), "If-Match": '"1"'}
    assert (await client.delete(f"/api/alice/tasks/{task['id']}", headers=stale)).status_code == 412
    assert await recorded_keys(admin) == []
    etag = (await client.get(f"/api/alice/tasks/{task['id']}", headers=ALICE)).headers["etag"]
    assert (
        await client.delete(f"/api/alice/tasks/{task['id']}", headers={**keyed(), "If-Match": etag})
    ).status_code == 204


@post("/api/{user_id:str}/write-then-refuse", include_in_schema=False)
async def write_then_refuse(db: InjectedDatabase, user_id: UserId, data: JSONBody[TaskCreate]) -> None:
    """A handler that writes, then answers an error: with a key, what it wrote must not stay."""
    await queries.create_task(db, user_id=user_id, data=data, quota=100)
    raise problem(409, "refused after writing")


RACED = "raced"


def write_while_another_records(dsn: str) -> HTTPRouteHandler:
    @post("/api/{user_id:str}/write-while-another-records", include_in_schema=False)
    async def handler(db: InjectedDatabase, user_id: UserId, data: JSONBody[TaskCreate]) -> None:
        """A write during which the key's answer is recorded by someone who skipped its lock."""
        await queries.create_task(db, user_id=user_id, data=data, quota=100)
        other = await asyncpg.connect(dsn)
        try:
            await other.execute(
                "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body) "
                "VALUES ($1, $2, sha256('other'), 200, 'theirs')",
                user_id,
                RACED,
            )
        finally:
            await other.close()

    return handler


@pytest.fixture
async def with_a_failing_route(migrated: str, admin: asyncpg.Connection) -> AsyncIterator[TestClient]:
    await wipe(admin)
    app = create_app(make_settings(migrated))
    app.register(write_then_refuse)
    app.register(write_while_another_records(asyncpg_dsn(migrated)))
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_an_error_answer_undoes_what_the_handler_wrote(
    with_a_failing_route: TestClient, admin: asyncpg.Connection
) -> None:
    path = "/api/alice/write-then-refuse"
    refused = await with_a_failing_route.post(path, json={"title": "undone"}, headers=keyed())
    assert refused.status_code == 409
    assert problem_of(refused)["detail"] == "refused after writing"
    assert await count_tasks(admin) == 0  # the handler's write was in the key's transaction
    assert await recorded_keys(admin) == []
    unkeyed = await with_a_failing_route.post(path, json={"title": "kept"}, headers=ALICE)
    assert unkeyed.status_code == 409
    assert await count_tasks(admin) == 1  # without a key, each statement commits on its own, as ever


async def test_a_write_is_undone_rather_than_recorded_over_a_fresh_answer(
    with_a_failing_route: TestClient, admin: asyncpg.Connection, json_log: CapturedLog
) -> None:
    # The key's lock makes this impossible; the insert that records an answer checks it anyway.
    path = "/api/alice/write-while-another-records"
    refused = await with_a_failing_route.post(path, json={"title": "undone"}, headers=keyed(key=RACED))
    assert refused.status_code == 409
    assert await count_tasks(admin) == 0
    assert await admin.fetchval("SELECT body FROM idempotency_keys WHERE key = $1", RACED) == b"theirs"
    [error] = [line for line in json_log.lines() if line["level"] == "error"]
    assert "held the key's lock" in error["message"]
    assert error["request_id"] == refused.headers["x-request-id"]


LOSE_THE_COMMIT = "lose-the-commit"


@pytest.fixture
async def commit_that_loses_its_connection(admin: asyncpg.Connection) -> AsyncIterator[None]:
    """The server process ends while committing a record of the key LOSE_THE_COMMIT.

    A deferred constraint trigger runs at COMMIT; this one terminates its own backend, as a server
    crash or a network cut at that moment would.
    """
    await admin.execute(
        f"""
        CREATE FUNCTION test_lose_the_connection() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_terminate_backend(pg_backend_pid());
            PERFORM pg_sleep(5);  -- interrupted by the termination
            RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER test_lose_the_commit AFTER INSERT ON idempotency_keys
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.key = '{LOSE_THE_COMMIT}')
            EXECUTE FUNCTION test_lose_the_connection();
        """
    )
    try:
        yield
    finally:
        await admin.execute(
            "DROP TRIGGER test_lose_the_commit ON idempotency_keys; DROP FUNCTION test_lose_the_connection()"
        )


@pytest.mark.direct  # ends the server process behind the connection, which PgBouncer would hide
@pytest.mark.usefixtures("commit_that_loses_its_connection")
async def test_an_answer_whose_commit_failed_is_never_sent(client: TestClient, admin: asyncpg.Connection) -> None:
    lost = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed(key=LOSE_THE_COMMIT))
    assert lost.status_code == 503  # not the 201 the handler answered
    assert lost.headers["retry-after"] == "5"
    assert problem_of(lost)["detail"] == "the database is unavailable; try again shortly"
    assert await count_tasks(admin) == 0
    assert await recorded_keys(admin) == []
    # The pool replaced the connection, and the service answers.
    assert (await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=keyed())).status_code == 201


async def test_a_keyed_body_past_the_limit_is_413_and_records_nothing(
    client: TestClient, admin: asyncpg.Connection, settings: Settings
) -> None:
    body = json.dumps({"title": "x", "description": "d" * settings.max_body_bytes}).encode()
    for headers in ({**keyed(), "Content-Type": "application/json"}, {**ALICE, "Content-Type": "application/json"}):
        refused = await client.post("/api/alice/tasks", content=body, headers=headers)
        assert refused.status_code == 413
        assert problem_of(refused)["status"] == 413
    assert await count_tasks(admin) == 0
    assert await recorded_keys(admin) == []


async def test_a_keyed_body_that_trickles_is_408(migrated: str) -> None:
    # BodyDeadline times the body this layer reads, as it times the handler's.
    app = create_app(make_settings(migrated, body_timeout_seconds=0.2))
    headers = [*((name.lower().encode(), value.encode()) for name, value in keyed().items())]
    sent = await trickled_create(app, headers)
    assert sent[0]["status"] == 408
