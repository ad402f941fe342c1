"""Erasing an account: every row of the user in every table goes, but the counter, which moves on."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.conftest import ALICE, BOB, TestClient, problem_of

ERASE = "/api/alice"

# Every table of users' data, from the catalogue: a table added later is checked without a word here.
USER_TABLES = """
    SELECT table_name FROM information_schema.columns
    WHERE table_schema = 'public' AND column_name = 'user_id'
    ORDER BY table_name
"""

COUNT_ROWS = "SELECT format('SELECT count(*) FROM %I WHERE user_id = $1', $1::text)"


async def rows_of(admin: asyncpg.Connection, user_id: str) -> dict[str, int]:
    counts = {}
    for (table,) in await admin.fetch(USER_TABLES):
        # the table's name comes from the catalogue, quoted by PostgreSQL itself
        counts[table] = await admin.fetchval(await admin.fetchval(COUNT_ROWS, table), user_id)
    return counts


async def fill(client: TestClient, user: str, headers: dict[str, str]) -> dict[str, Any]:
    """A user with a row in every table: tasks with reminders, a list, the trash, tombstones, a key."""
    base = f"/api/{user}"
    made = await client.post(f"{base}/lists", json={"name": "Groceries"}, headers=headers)
    assert made.status_code == 201, made.text
    gone = await client.post(f"{base}/lists", json={"name": "Old"}, headers=headers)
    assert (await client.delete(f"{base}/lists/{gone.json()['id']}", headers=headers)).status_code == 204
    task = {"title": "Water", "due_at": "2099-01-01T09:00:00Z", "recurrence": "FREQ=DAILY", "reminders": [0, 30]}
    keyed = {**headers, "Idempotency-Key": f"{user}-key"}
    created = await client.post(f"{base}/tasks", json={**task, "list_id": made.json()["id"]}, headers=keyed)
    assert created.status_code == 201, created.text
    for title in ("trashed", "purged"):
        doomed = await client.post(f"{base}/tasks", json={"title": title}, headers=headers)
        assert (await client.delete(f"{base}/tasks/{doomed.json()['id']}", headers=headers)).status_code == 204
    purged = doomed.json()["id"]
    assert (await client.delete(f"{base}/trash/{purged}", headers=headers)).status_code == 204
    return created.json()  # type: ignore[no-any-return]


async def test_erase_leaves_no_row_of_the_user_but_the_counter(client: TestClient, admin: asyncpg.Connection) -> None:
    await fill(client, "alice", ALICE)
    await fill(client, "bob", BOB)
    before = await rows_of(admin, "alice")
    assert all(before.values()), f"the test must put a row in every table first: {before}"
    bobs = await rows_of(admin, "bob")
    revision = await admin.fetchval("SELECT revision FROM task_counts WHERE user_id = 'alice'")

    response = await client.delete(ERASE, params={"confirm": "alice"}, headers={**ALICE, "Idempotency-Key": "erase"})

    assert response.status_code == 204, response.text
    after = await rows_of(admin, "alice")
    assert {table: count for table, count in after.items() if count} == {"task_counts": 1}
    counter = await admin.fetchrow("SELECT tasks, revision, horizon FROM task_counts WHERE user_id = 'alice'")
    assert dict(counter) == {"tasks": 0, "revision": revision + 1, "horizon": revision + 1}
    assert await rows_of(admin, "bob") == bobs  # another user's data untouched


async def test_a_device_holding_an_older_revision_gets_410_and_the_user_starts_again(client: TestClient) -> None:
    await fill(client, "alice", ALICE)
    seen = (await client.get("/api/alice/changes", headers=ALICE)).json()["revision"]
    assert (await client.delete(ERASE, params={"confirm": "alice"}, headers=ALICE)).status_code == 204

    assert (await client.get("/api/alice/changes", params={"since": seen}, headers=ALICE)).status_code == 410
    fresh = (await client.get("/api/alice/changes", headers=ALICE)).json()
    assert fresh == {
        "revision": seen + 1,
        "has_more": False,
        "tasks": [],
        "deleted_tasks": [],
        "lists": [],
        "deleted_lists": [],
    }
    for listing in ("tasks", "trash", "lists"):
        assert (await client.get(f"/api/alice/{listing}", headers=ALICE)).json() == []
    again = await client.post("/api/alice/tasks", json={"title": "A new start"}, headers=ALICE)
    assert again.status_code == 201
    assert again.json()["revision"] == seen + 2
    assert (await client.get("/api/alice/changes", params={"since": seen + 1}, headers=ALICE)).json()["tasks"] == [
        again.json()
    ]
    # the same list name is free again
    assert (await client.post("/api/alice/lists", json={"name": "Groceries"}, headers=ALICE)).status_code == 201


async def test_erase_without_a_matching_confirm_is_400_and_erases_nothing(
    client: TestClient, admin: asyncpg.Connection
) -> None:
    await fill(client, "alice", ALICE)
    before = await rows_of(admin, "alice")
    for params in ({}, {"confirm": "bob"}, {"confirm": "Alice"}, {"confirm": ""}):
        response = await client.delete(ERASE, params=params, headers=ALICE)
        assert response.status_code == 400, (params, response.text)
        assert problem_of(response)["errors"][0]["key"] == "confirm"
    assert await rows_of(admin, "alice") == before


async def test_nobody_erases_another_user(client: TestClient, admin: asyncpg.Connection) -> None:
    await fill(client, "alice", ALICE)
    before = await rows_of(admin, "alice")
    assert (await client.delete(ERASE, params={"confirm": "alice"}, headers=BOB)).status_code == 403
    assert (await client.delete(ERASE, params={"confirm": "alice"})).status_code == 401
    assert (await client.delete("/api/bob", params={"confirm": "bob"}, headers=BOB)).status_code == 204
    assert await rows_of(admin, "alice") == before


async def test_erasing_a_user_who_never_wrote_is_204(client: TestClient, admin: asyncpg.Connection) -> None:
    assert (await client.delete(ERASE, params={"confirm": "alice"}, headers=ALICE)).status_code == 204
    assert {table: count for table, count in (await rows_of(admin, "alice")).items() if count} == {"task_counts": 1}
