"""Random sequences of operations by several users: after every step, each user sees exactly
their own tasks, lists and trash, as a model predicts, and nothing else in the tables changed.
Lists are made, renamed, filed into, deleted (their tasks to the trash) and tasks moved among
them, each attempted on other users' lists and tasks too.

Every rule may pick any user's task for any user, so the sequences are full of attempts on
other users' tasks (404 through one's own path, 403 through theirs) among the legitimate ones.

Each user also has a client that keeps a copy of their tasks through the change feed, a page at a
time: from wherever it stopped, syncing until has_more is false gives exactly the live tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from litestar.testing import TestClient

from service.app import create_app
from service.db.urls import psycopg_url
from tests.conftest import WIPE, bearer, make_settings

USERS = ("alice", "bob", "carol")
HEADERS = {user: bearer(user) for user in USERS}
FIELDS = ("title", "description", "completed", "priority", "tags", "due_at")

titles = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20).filter(
    lambda title: title.strip() != ""
)
tags = st.lists(st.sampled_from(["home", "work", "Errands", " urgent "]), max_size=3)
priorities = st.sampled_from(["low", "medium", "high"])
users = st.sampled_from(USERS)
page_sizes = st.integers(min_value=1, max_value=3)


def stored(task: dict[str, Any]) -> dict[str, Any]:
    return {field: task[field] for field in FIELDS}


class Isolation(RuleBasedStateMachine):
    """The model: for each user, their tasks and their trash by id, as the API last returned them;
    and each user's client: its copy of their tasks and the revision it has seen."""

    client: TestClient[Any]
    database_url: str
    tasks = Bundle("tasks")  # (owner, id)
    made_lists = Bundle("lists")  # (owner, id)
    trashed = Bundle("trashed")  # (owner, id) of the tasks moved to the trash: restore and purge pick there

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, dict[str, dict[str, Any]]] = {user: {} for user in USERS}
        self.trash: dict[str, dict[str, dict[str, Any]]] = {user: {} for user in USERS}
        self.owned: dict[str, set[str]] = {user: set() for user in USERS}  # every id a user ever had
        self.copies: dict[str, dict[str, dict[str, Any]]] = {user: {} for user in USERS}
        self.since = dict.fromkeys(USERS, 0)
        self.lists: dict[str, dict[str, str]] = {user: {} for user in USERS}  # id -> name
        self.list_of: dict[str, str | None] = {}  # each task's list, live or trashed
        with psycopg.connect(self.database_url) as connection:
            wipe = connection.execute(WIPE).fetchone()
            assert wipe is not None
            connection.execute(wipe[0])

    def call(self, method: str, path: str, user: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=HEADERS[user], **kwargs)

    @initialize(target=tasks)
    def some_tasks(self) -> MultipleResults[tuple[str, str]]:
        """Two tasks for each user to start from, whichever rules a run leaves out (swarm testing); all
        clients but carol's hold them already, so any deletion must reach them through the feed."""
        created = [self._create(user, f"task {n}", [], "medium") for user in USERS for n in range(2)]
        for user in USERS[:-1]:
            self.sync(user, limit=2)
        return multiple(*created)

    @rule(target=tasks, user=users, title=titles, tags=tags, priority=priorities)
    def create(self, user: str, title: str, tags: list[str], priority: str) -> tuple[str, str]:
        return self._create(user, title, tags, priority)

    def _create(self, user: str, title: str, tags: list[str], priority: str) -> tuple[str, str]:
        response = self.call(
            "POST", f"/api/{user}/tasks", user, json={"title": title, "tags": tags, "priority": priority}
        )
        assert response.status_code == 201, response.text
        task = response.json()
        self.model[user][task["id"]] = stored(task)
        self.owned[user].add(task["id"])
        self.list_of[task["id"]] = None
        return user, task["id"]

    @rule(target=made_lists, user=users, n=st.integers(min_value=0, max_value=10**6))
    def create_list(self, user: str, n: int) -> MultipleResults[tuple[str, str]]:
        response = self.call("POST", f"/api/{user}/lists", user, json={"name": f"list {n}"})
        if f"list {n}" in self.lists[user].values():
            assert response.status_code == 409
            return multiple()
        assert response.status_code == 201, response.text
        made = response.json()
        self.lists[user][made["id"]] = made["name"]
        return multiple((user, made["id"]))

    @rule(target=tasks, into=made_lists, user=users, title=titles)
    def create_in_list(self, into: tuple[str, str], user: str, title: str) -> MultipleResults[tuple[str, str]]:
        owner, list_id = into
        response = self.call("POST", f"/api/{user}/tasks", user, json={"title": title, "list_id": list_id})
        if user != owner or list_id not in self.lists[owner]:
            assert response.status_code == 400, response.text  # another user's list is no list here
            return multiple()
        assert response.status_code == 201, response.text
        task = response.json()
        self.model[user][task["id"]] = stored(task)
        self.owned[user].add(task["id"])
        self.list_of[task["id"]] = list_id
        return multiple((user, task["id"]))

    @rule(into=made_lists, user=users, name=st.sampled_from(["a", "b", "c"]))
    def rename_list(self, into: tuple[str, str], user: str, name: str) -> None:
        owner, list_id = into
        response = self.call("PATCH", f"/api/{user}/lists/{list_id}", user, json={"name": name})
        if user != owner or list_id not in self.lists[owner]:
            assert response.status_code == 404
        elif name in {taken for other, taken in self.lists[owner].items() if other != list_id}:
            assert response.status_code == 409
        else:
            assert response.status_code == 200, response.text
            self.lists[owner][list_id] = name

    @rule(target=trashed, into=made_lists, user=users)
    def delete_list(self, into: tuple[str, str], user: str) -> MultipleResults[tuple[str, str]]:
        owner, list_id = into
        response = self.call("DELETE", f"/api/{user}/lists/{list_id}", user)
        if user != owner or list_id not in self.lists[owner]:
            assert response.status_code == 404
            return multiple()
        assert response.status_code == 204
        del self.lists[owner][list_id]
        gone = [task_id for task_id in self.model[owner] if self.list_of[task_id] == list_id]
        for task_id in gone:
            self.trash[owner][task_id] = self.model[owner].pop(task_id)
        return multiple(*((owner, task_id) for task_id in gone))

    @rule(task=tasks, user=users, into=st.none() | made_lists)
    def move(self, task: tuple[str, str], user: str, into: tuple[str, str] | None) -> None:
        owner, task_id = task
        body: dict[str, Any] = {"after": None}
        if into is not None:
            body["list_id"] = into[1]
        response = self.call("POST", f"/api/{user}/tasks/{task_id}/move", user, json=body)
        if user != owner or task_id not in self.model[owner]:
            assert response.status_code == 404
        elif into is not None and (into[0] != owner or into[1] not in self.lists[owner]):
            assert response.status_code == 400, response.text
        else:
            assert response.status_code == 200, response.text
            if into is not None:  # else it stays in its list
                self.list_of[task_id] = into[1]
            assert response.json()["list_id"] == self.list_of[task_id]

    @rule(task=tasks, user=users, title=titles)
    def rename(self, task: tuple[str, str], user: str, title: str) -> None:
        self._write(task, user, "PATCH", "", {"title": title})

    @rule(task=tasks, user=users)
    def toggle(self, task: tuple[str, str], user: str) -> None:
        self._write(task, user, "PATCH", "/complete", None)

    @rule(task=tasks, user=users, title=titles, priority=priorities)
    def replace(self, task: tuple[str, str], user: str, title: str, priority: str) -> None:
        self._write(task, user, "PUT", "", {"title": title, "priority": priority})

    @rule(target=trashed, task=tasks, user=users)
    def delete(self, task: tuple[str, str], user: str) -> MultipleResults[tuple[str, str]]:
        owner, task_id = task
        response = self.call("DELETE", f"/api/{user}/tasks/{task_id}", user)
        if user == owner and task_id in self.model[owner]:
            assert response.status_code == 204
            self.trash[owner][task_id] = self.model[owner].pop(task_id)
            return multiple(task)
        assert response.status_code == 404
        return multiple()

    @rule(task=trashed, user=users)
    def restore(self, task: tuple[str, str], user: str) -> None:
        owner, task_id = task
        response = self.call("POST", f"/api/{user}/trash/{task_id}/restore", user)
        if user == owner and task_id in self.trash[owner]:
            assert response.status_code == 200, response.text
            assert stored(response.json()) == self.trash[owner][task_id]  # as it was
            self.model[owner][task_id] = self.trash[owner].pop(task_id)
            if self.list_of[task_id] not in self.lists[owner]:  # its list is gone: the inbox
                self.list_of[task_id] = None
            assert response.json()["list_id"] == self.list_of[task_id]
        else:
            assert response.status_code == 404

    @rule(task=trashed, user=users)
    def purge(self, task: tuple[str, str], user: str) -> None:
        owner, task_id = task
        response = self.call("DELETE", f"/api/{user}/trash/{task_id}", user)
        if user == owner and task_id in self.trash[owner]:
            assert response.status_code == 204
            del self.trash[owner][task_id]
        else:
            assert response.status_code == 404

    @precondition(lambda self: any(self.trash.values()))  # else it would crowd out the rules that fill it
    @rule(user=users)
    def empty_trash(self, user: str) -> None:
        response = self.call("DELETE", f"/api/{user}/trash", user)
        assert response.json() == {"deleted": len(self.trash[user])}
        self.trash[user].clear()

    @rule(user=users, limit=page_sizes)
    def sync(self, user: str, limit: int) -> None:
        """One page of the change feed, from where the user's client stopped; 403 through another's path."""
        self.since[user] = self._sync_page(user, self.copies[user], self.since[user], limit)["revision"]
        another = USERS[(USERS.index(user) + 1) % len(USERS)]
        assert self.call("GET", f"/api/{another}/changes", user).status_code == 403

    def _sync_page(self, user: str, copy: dict[str, dict[str, Any]], since: int, limit: int) -> dict[str, Any]:
        """Apply one page of changes after ``since`` to ``copy``; the page."""
        response = self.call("GET", f"/api/{user}/changes", user, params={"since": since, "limit": limit})
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        assert page["revision"] >= since
        assert len(page["tasks"]) + len(page["deleted_tasks"]) <= limit
        changed = [task["id"] for task in page["tasks"]]
        # Each id at most once: never twice in a list, never in both.
        assert len(set(changed) | set(page["deleted_tasks"])) == len(changed) + len(page["deleted_tasks"])
        assert {task["user_id"] for task in page["tasks"]} <= {user}
        assert set(page["deleted_tasks"]) <= self.owned[user]  # never another user's
        assert all(since < task["revision"] <= page["revision"] for task in page["tasks"])
        for task in page["tasks"]:
            copy[task["id"]] = task
        for task_id in page["deleted_tasks"]:
            copy.pop(task_id, None)
        return page

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

    @rule(target=trashed, user=users)
    def clear_completed(self, user: str) -> MultipleResults[tuple[str, str]]:
        response = self.call("DELETE", f"/api/{user}/tasks", user, params={"completed": "true"})
        done = [task_id for task_id, task in self.model[user].items() if task["completed"]]
        assert response.json() == {"deleted": len(done)}
        for task_id in done:
            self.trash[user][task_id] = self.model[user].pop(task_id)
        return multiple(*((user, task_id) for task_id in done))

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
            assert {task["id"]: task["list_id"] for task in listed} == {
                task_id: self.list_of[task_id] for task_id in self.model[user]
            }
            mine = self.call("GET", f"/api/{user}/lists", user).json()
            assert {item["id"]: item["name"] for item in mine} == self.lists[user]
            trashed = self.call("GET", f"/api/{user}/trash", user, params={"limit": 200}).json()
            assert {task["id"]: stored(task) for task in trashed} == self.trash[user]
            # From where the user's client stopped, syncing while has_more gives exactly the live tasks.
            copy, since = dict(self.copies[user]), self.since[user]
            while (page := self._sync_page(user, copy, since, 500))["has_more"]:
                since = page["revision"]
            assert copy == {task["id"]: task for task in listed}

    @invariant()
    def the_table_holds_the_model_and_nothing_else(self) -> None:
        with psycopg.connect(self.database_url) as connection:
            rows = connection.execute("SELECT user_id, id::text, title, completed FROM tasks").fetchall()
            trashed = connection.execute("SELECT user_id, id::text, title, completed FROM trashed_tasks").fetchall()
        for table, model in ((rows, self.model), (trashed, self.trash)):
            assert sorted(table) == sorted(
                (user, task_id, task["title"], task["completed"])
                for user, owned in model.items()
                for task_id, task in owned.items()
            )


@pytest.fixture
def isolation_machine(migrated: str) -> Iterator[type[Isolation]]:
    with TestClient(app=create_app(make_settings(migrated))) as client:
        Isolation.client = client
        Isolation.database_url = psycopg_url(migrated).replace("postgresql+psycopg", "postgresql", 1)
        yield Isolation


def test_users_never_see_or_change_each_others_tasks(isolation_machine: type[Isolation]) -> None:
    run_state_machine_as_test(
        isolation_machine,
        settings=settings(
            max_examples=15,  # every step also reads each user's trash and change feed: 15 keeps the run short
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,  # nothing written to .hypothesis/ in the working tree
        ),
    )
