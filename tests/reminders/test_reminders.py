"""GET /reminders: the reminders of open tasks in a window of time, soonest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import ALICE, BOB, TestClient, create, problem_of


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def test_reminders_of_open_tasks_in_the_window_soonest_first(client: TestClient) -> None:
    soon = await create(client, "Soon", due_at=at(2), reminders=[60, 0])
    later = await create(client, "Later", due_at=at(30), reminders=[60 * 12])
    await create(client, "Far", due_at=at(24 * 5), reminders=[0])
    await create(client, "Silent", due_at=at(1))
    response = await client.get("/api/alice/reminders", headers=ALICE)
    assert response.status_code == 200
    assert [(r["task_id"], r["minutes_before"]) for r in response.json()] == [
        (soon["id"], 60),
        (soon["id"], 0),
        (later["id"], 720),
    ]
    first = response.json()[0]
    assert first["title"] == "Soon"
    assert first["due_at"] == soon["due_at"]
    due = datetime.fromisoformat(soon["due_at"])
    assert datetime.fromisoformat(first["remind_at"]) == due - timedelta(minutes=60)
    assert (await client.get("/api/bob/reminders", headers=BOB)).json() == []


async def test_completed_trashed_and_moved_tasks_leave_the_reminders(client: TestClient) -> None:
    done = await create(client, "Done", due_at=at(2), reminders=[0])
    trashed = await create(client, "Trashed", due_at=at(2), reminders=[0])
    moved = await create(client, "Moved", due_at=at(2), reminders=[0])
    await client.patch(f"/api/alice/tasks/{done['id']}/complete", headers=ALICE)
    await client.delete(f"/api/alice/tasks/{trashed['id']}", headers=ALICE)
    await client.patch(f"/api/alice/tasks/{moved['id']}", json={"due_at": at(24 * 3)}, headers=ALICE)
    assert (await client.get("/api/alice/reminders", headers=ALICE)).json() == []
    await client.post(f"/api/alice/trash/{trashed['id']}/restore", headers=ALICE)
    await client.patch(f"/api/alice/tasks/{done['id']}/complete", headers=ALICE)  # re-opened
    listed = (await client.get("/api/alice/reminders", headers=ALICE)).json()
    assert sorted(r["task_id"] for r in listed) == sorted([done["id"], trashed["id"]])


async def test_an_explicit_window(client: TestClient) -> None:
    task = await create(client, "Far", due_at=at(24 * 5), reminders=[0])
    response = await client.get("/api/alice/reminders", params={"from": at(24 * 4), "to": at(24 * 6)}, headers=ALICE)
    assert [r["task_id"] for r in response.json()] == [task["id"]]
    # [from, to): the moment itself is in a window that starts there, not in one that ends there.
    moment = task["due_at"]
    assert len((await client.get("/api/alice/reminders", params={"from": moment}, headers=ALICE)).json()) == 1
    assert (await client.get("/api/alice/reminders", params={"to": moment}, headers=ALICE)).json() == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": at(0), "to": at(24 * 32)}, "to"),
        ({"from": "2026-12-01T00:00:00"}, "from"),  # no offset
        ({"from": "yesterday"}, "from"),
        ({"to": "0001-01-01T00:00:00Z"}, "to"),
    ],
)
async def test_bad_windows_are_400_naming_the_parameter(client: TestClient, params: dict[str, str], field: str) -> None:
    response = await client.get("/api/alice/reminders", params=params, headers=ALICE)
    assert response.status_code == 400, response.text
    assert [error["key"] for error in problem_of(response)["errors"]] == [field]


async def test_a_window_that_ends_before_it_starts_is_empty(client: TestClient) -> None:
    await create(client, "Soon", due_at=at(2), reminders=[0])
    for end in (at(-1), at(0)):
        response = await client.get("/api/alice/reminders", params={"from": at(0), "to": end}, headers=ALICE)
        assert (response.status_code, response.json()) == (200, [])


async def test_another_user_s_reminders_are_403(client: TestClient) -> None:
    assert (await client.get("/api/bob/reminders", headers=ALICE)).status_code == 403
    assert (await client.get("/api/alice/reminders")).status_code == 401
