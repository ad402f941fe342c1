"""The statements each request sends, as asyncpg logs them: a write without a key sends no more than
before keys existed (its own statements), and a keyed one runs in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db import pool as database
from service.idempotency import queries as idempotency
from service.tasks import queries as tasks
from tests.conftest import ALICE, TestClient, make_settings, wipe
from tests.idempotency.test_replay import keyed


class Statements:
    """Every statement the app's pool connections send, in order."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def log_connection(self, connection: asyncpg.Connection) -> None:
        connection.add_query_logger(lambda logged: self.sent.append(logged.query))

    def take(self) -> list[str]:
        sent, self.sent = self.sent, []
        return [statement.strip().rstrip(";") for statement in sent]


@pytest.fixture
async def logged(
    migrated: str, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient, Statements]]:
    statements = Statements()
    options = database.pool_options

    def logging_options(settings: Any) -> dict[str, Any]:
        return {**options(settings), "init": statements.log_connection}

    monkeypatch.setattr(database, "pool_options", logging_options)
    await wipe(admin)
    async with AsyncTestClient(app=create_app(make_settings(migrated))) as client:
        # asyncpg looks the types of a statement up once per connection (the priority enum...): warm up.
        warm_up = await client.post("/api/alice/tasks", json={"title": "warm-up"}, headers=ALICE)
        assert (await client.patch(f"{warm_up.headers['location']}/complete", headers=ALICE)).status_code == 200
        statements.take()
        yield client, statements


async def test_a_write_without_a_key_sends_only_its_own_statement(logged: tuple[TestClient, Statements]) -> None:
    client, statements = logged
    created = await client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=ALICE)
    assert created.status_code == 201
    assert statements.take() == [tasks.CREATE_PLAN.sql, tasks.CREATE_TASK.sql]  # where it goes, then the write
    toggled = await client.patch(f"/api/alice/tasks/{created.json()['id']}/complete", headers=ALICE)
    assert toggled.status_code == 200
    assert statements.take() == [tasks.TOGGLE_TASK.sql]


async def test_a_keyed_write_runs_with_its_record_in_one_transaction(logged: tuple[TestClient, Statements]) -> None:
    client, statements = logged
    assert (await client.post("/api/alice/tasks", json={"title": "x"}, headers=keyed())).status_code == 201
    assert statements.take() == [
        "BEGIN",
        idempotency.LOCK_IDEMPOTENCY_KEY.sql,
        idempotency.IDEMPOTENCY_KEY_ANSWER.sql,
        tasks.LOCK_COUNTER.sql,  # in a transaction already, nothing moves between where it goes and the write
        tasks.CREATE_PLAN.sql,
        tasks.CREATE_TASK.sql,
        idempotency.RECORD_IDEMPOTENCY_KEY_ANSWER.sql,
        "COMMIT",
    ]
    assert (await client.post("/api/alice/tasks", json={"title": "x"}, headers=keyed())).status_code == 201
    assert statements.take() == [  # the replay: nothing of the handler's
        "BEGIN",
        idempotency.LOCK_IDEMPOTENCY_KEY.sql,
        idempotency.IDEMPOTENCY_KEY_ANSWER.sql,
        "COMMIT",
    ]
