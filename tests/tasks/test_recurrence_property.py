"""Random sequences of operations by several users, some on recurring tasks: after every step,
each user sees exactly their own tasks, as a model predicts (tests/tasks/test_isolation_property.py
does the same with the trash and a syncing client).

Some tasks recur: completing an open occurrence makes its series' next, which joins the tasks the
rules pick from. A series never has more than one open occurrence besides those re-opened by hand,
and never holds another user's task.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from litestar.testing import TestClient

from service.app import create_app
from service.db.urls import psycopg_url
from tests.conftest import WIPE, bearer, make_settings

USERS = ("alice", "bob", "carol")
HEADERS = {user: bearer(user) for user in USERS}
FIELDS = ("title", "description", "completed", "priority", "tags", "due_at", "recurrence", "series_id")

titles = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20).filter(
    lambda title: title.strip() != ""
)
tags = st.lists(st.sampled_from(["home", "work", "Errands", " urgent "]), max_size=3)
priorities = st.sampled_from(["low", "medium", "high"])
users = st.sampled_from(USERS)
# Rules without COUNT or UNTIL, so every completion of an open occurrence has a next to make; a due
# date in the past (its missed occurrences skipped) or to come.
rules = st.sampled_from(["FREQ=DAILY", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR", "FREQ=MONTHLY;BYMONTHDAY=31"])
due_dates = st.sampled_from(["2026-01-31T08:00:00Z", "2027-03-27T08:00:00Z"])


def stored(task: dict[str, Any]) -> dict[str, Any]:
    return {field: task[field] for field in FIELDS}


class Series(RuleBasedStateMachine):
    """The model: for each user, their tasks by id, as the API last returned them."""

    client: TestClient[Any]
    database_url: str
    tasks = Bundle("tasks")  # (owner, id)
    occurrences = Bundle("occurrences")  # those of tasks that were made recurring

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, dict[str, dict[str, Any]]] = {user: {} for user in USERS}
        self.follows: dict[str, str] = {}  # an occurrence made by a completion -> the one completed
        self.completed_once: set[str] = set()  # occurrences ever completed: re-opened, they may stay open
        with psycopg.connect(self.database_url) as connection:
            wipe = connection.execute(WIPE).fetchone()
            assert wipe is not None
            connection.execute(wipe[0])

    def call(self, method: str, path: str, user: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=HEADERS[user], **kwargs)

    @rule(target=tasks, user=users, title=titles, tags=tags, priority=priorities)
    def create(self, user: str, title: str, tags: list[str], priority: str) -> tuple[str, str]:
        response = self.call(
            "POST", f"/api/{user}/tasks", user, json={"title": title, "tags": tags, "priority": priority}
        )
        assert response.status_code == 201, response.text
        task = response.json()
        self.model[user][task["id"]] = stored(task)
        return user, task["id"]

    @rule(task=tasks, user=users, title=titles)
    def rename(self, task: tuple[str, str], user: str, title: str) -> None:
        self._write(task, user, "PATCH", "", {"title": title})

    @rule(targets=(tasks, occurrences), user=users, title=titles, rule=rules, due_at=due_dates)
    def create_recurring(self, user: str, title: str, rule: str, due_at: str) -> tuple[str, str]:
        body = {"title": title, "recurrence": rule, "due_at": due_at, "time_zone": "Europe/Paris"}
        response = self.call("POST", f"/api/{user}/tasks", user, json=body)
        assert response.status_code == 201, response.text
        task = response.json()
        assert task["series_id"] is not None
        self.model[user][task["id"]] = stored(task)
        return user, task["id"]

    @rule(targets=(tasks, occurrences), task=tasks, user=users)
    def toggle(self, task: tuple[str, str], user: str) -> MultipleResults[tuple[str, str]]:
        return self._toggle(task, user)

    @rule(targets=(tasks, occurrences), task=occurrences)
    def toggle_occurrence(self, task: tuple[str, str]) -> MultipleResults[tuple[str, str]]:
        """Its owner completes or re-opens an occurrence: series grow, and are re-opened, often."""
        return self._toggle(task, task[0])

    def _toggle(self, task: tuple[str, str], user: str) -> MultipleResults[tuple[str, str]]:
        owner, task_id = task
        before = self.model[owner].get(task_id) if user == owner else None
        self._write(task, user, "PATCH", "/complete", None)
        if before is None or before["completed"] or before["series_id"] is None:
            return multiple()
        self.completed_once.add(task_id)
        series = before["series_id"]
        listed = self.call("GET", f"/api/{owner}/tasks", owner, params={"series_id": series, "limit": 200}).json()
        made = [occurrence for occurrence in listed if occurrence["id"] not in self.model[owner]]
        # A next, unless the occurrence has one already (re-opened), or its series has an open
        # occurrence due later (its next was trashed after that one was made).
        has_next = any(self.follows.get(other) == task_id for other in self.model[owner])
        goes_on = any(
            other["series_id"] == series and not other["completed"] and due(other) > due(before)
            for other in self.model[owner].values()
        )
        assert len(made) == (0 if has_next or goes_on else 1), made
        for occurrence in made:
            assert (occurrence["title"], occurrence["recurrence"]) == (before["title"], before["recurrence"])
            assert not occurrence["completed"]
            assert due(occurrence) > due(before)
            self.model[owner][occurrence["id"]] = stored(occurrence)
            self.follows[occurrence["id"]] = task_id
        for other in USERS:
            if other != owner:
                seen = self.call("GET", f"/api/{other}/tasks", other, params={"series_id": series}).json()
                assert seen == []
        return multiple(*((owner, occurrence["id"]) for occurrence in made))

    @rule(task=tasks, user=users, title=titles, priority=priorities)
    def replace(self, task: tuple[str, str], user: str, title: str, priority: str) -> None:
        self._write(task, user, "PUT", "", {"title": title, "priority": priority})

    @rule(task=consumes(tasks), user=users)
    def delete(self, task: tuple[str, str], user: str) -> None:
        owner, task_id = task
        response = self.call("DELETE", f"/api/{user}/tasks/{task_id}", user)
        if user == owner and task_id in self.model[owner]:
            assert response.status_code == 204
            del self.model[owner][task_id]
        else:
            assert response.status_code == 404

    @rule(task=tasks, user=users)
    def read(self, task: tuple[str, str], user: str) -> None:
        owner, task_id = task
        response = self.call("GET", f"/api/{user}/tasks/{task_id}", user)
        if user == owner and task_id in self.model[owner]:
            assert stored(response.json()) == self.model[owner][task_id]
        else:
            assert response.status_code == 404

    @rule(task=tasks, user=users)
    def write_through_their_path(self, task: tuple[str, str], user: str) -> None:
        owner, task_id = task
        if user != owner:
            response = self.call("PATCH", f"/api/{owner}/tasks/{task_id}", user, json={"title": "stolen"})
            assert response.status_code == 403

    @rule(user=users)
    def clear_completed(self, user: str) -> None:
        response = self.call("DELETE", f"/api/{user}/tasks", user, params={"completed": "true"})
        done = [task_id for task_id, task in self.model[user].items() if task["completed"]]
        assert response.json() == {"deleted": len(done)}
        for task_id in done:
            del self.model[user][task_id]

    def _write(self, task: tuple[str, str], user: str, method: str, suffix: str, body: dict[str, Any] | None) -> None:
        owner, task_id = task
        response = self.call(method, f"/api/{user}/tasks/{task_id}{suffix}", user, json=body)
        if user == owner and task_id in self.model[owner]:
            assert response.status_code == 200, response.text
            self.model[owner][task_id] = stored(response.json())
        else:
            assert response.status_code == 404

    @invariant()
    def each_user_sees_exactly_their_own(self) -> None:
        for user in USERS:
            listed = self.call("GET", f"/api/{user}/tasks", user, params={"limit": 200}).json()
            assert {task["id"]: stored(task) for task in listed} == self.model[user]
            assert {task["user_id"] for task in listed} <= {user}
            stats = self.call("GET", f"/api/{user}/tasks/stats", user).json()
            assert stats["total"] == len(self.model[user])

    @invariant()
    def a_series_has_one_open_occurrence_besides_those_re_opened(self) -> None:
        for owned in self.model.values():
            fresh = [
                task["series_id"]
                for task_id, task in owned.items()
                if task["series_id"] is not None and not task["completed"] and task_id not in self.completed_once
            ]
            assert len(fresh) == len(set(fresh)), owned

    @invariant()
    def the_table_holds_the_model_and_nothing_else(self) -> None:
        with psycopg.connect(self.database_url) as connection:
            rows = connection.execute("SELECT user_id, id::text, title, completed FROM tasks").fetchall()
            shared = connection.execute(
                "SELECT series_id FROM tasks WHERE series_id IS NOT NULL"
                " GROUP BY series_id HAVING count(DISTINCT user_id) > 1"
            ).fetchall()
        assert shared == []
        assert sorted(rows) == sorted(
            (user, task_id, task["title"], task["completed"])
            for user, owned in self.model.items()
            for task_id, task in owned.items()
        )


def due(task: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(task["due_at"])


@pytest.fixture
def series_machine(migrated: str) -> Iterator[type[Series]]:
    with TestClient(app=create_app(make_settings(migrated))) as client:
        Series.client = client
        Series.database_url = psycopg_url(migrated).replace("postgresql+psycopg", "postgresql", 1)
        yield Series


def test_series_grow_once_per_completion_and_stay_their_users(series_machine: type[Series]) -> None:
    run_state_machine_as_test(
        series_machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,  # nothing written to .hypothesis/ in the working tree
        ),
    )
