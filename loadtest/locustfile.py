"""Simulated people using the task API: each signs their own tokens, seeds a list, then mostly reads it.

Run through ``make loadtest`` (``python -m loadtest.run``), or by hand::

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000

Settings come from the environment (and ``.env``, as the service reads it):

- ``BETTER_AUTH_SECRET`` (required), ``JWT_ISSUER``, ``JWT_AUDIENCE``: how tokens are signed.
- ``LOADTEST_WAIT_MIN`` / ``LOADTEST_WAIT_MAX``: think time between actions, seconds (0.5 / 2.5).
- ``LOADTEST_SEED_TASKS``: tasks each person creates before the loop (20).
- ``LOADTEST_MAX_TASKS``: the most tasks a person keeps; creating beyond it deletes the oldest first (2 x seed).
- ``LOADTEST_TOKEN_TTL``: lifetime of each token, seconds (900); a new one is minted a minute before expiry.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import deque
from contextlib import AbstractContextManager
from typing import Any

import jwt
from locust import FastHttpUser, between, task
from locust.contrib.fasthttp import ResponseContextManager

from service.config import load_settings

WAIT_MIN = float(os.environ.get("LOADTEST_WAIT_MIN") or 0.5)
WAIT_MAX = float(os.environ.get("LOADTEST_WAIT_MAX") or 2.5)
SEED_TASKS = int(os.environ.get("LOADTEST_SEED_TASKS") or 20)
MAX_TASKS = int(os.environ.get("LOADTEST_MAX_TASKS") or 2 * SEED_TASKS)
TOKEN_TTL = int(os.environ.get("LOADTEST_TOKEN_TTL") or 900)
TOKEN_RENEW_BEFORE = min(60, TOKEN_TTL // 2)

# Stats group by these names (and the method), not by each user's URL.
TASKS = "/api/[user]/tasks"
TASK = "/api/[user]/tasks/[id]"
COMPLETE = "/api/[user]/tasks/[id]/complete"
SEED = "/api/[user]/tasks (seed)"


class TokenMinter:
    """HS256 tokens for one user, with the claims Better Auth's tokens carry, renewed before they expire."""

    def __init__(self, user_id: str):
        settings = load_settings()
        if not settings.better_auth_secret:
            raise RuntimeError("BETTER_AUTH_SECRET is not set (environment or .env): the load test cannot sign tokens")
        self._secret = settings.better_auth_secret
        self._claims: dict[str, Any] = {"sub": user_id}
        if settings.jwt_issuer:
            self._claims["iss"] = settings.jwt_issuer
        if settings.jwt_audience:
            self._claims["aud"] = settings.jwt_audience
        self._token = ""
        self._expires_at = 0

    def header(self) -> dict[str, str]:
        now = int(time.time())
        if now >= self._expires_at - TOKEN_RENEW_BEFORE:
            self._expires_at = now + TOKEN_TTL
            claims = {**self._claims, "iat": now, "exp": self._expires_at}
            self._token = jwt.encode(claims, self._secret, algorithm="HS256")
        return {"Authorization": f"Bearer {self._token}"}


def check(response: ResponseContextManager, expected: int) -> dict[str, Any] | None:
    """Mark the request failed unless it has the ``expected`` status; return the JSON body when there is one."""
    if response.status_code != expected:
        body = (response.text or "")[:300]
        error = getattr(response, "error", None)
        reason = f" ({error!r})" if response.status_code == 0 and error else ""  # no response at all
        response.failure(f"status {response.status_code}, expected {expected}{reason}: {body}")
        return None
    response.success()
    if expected == 204:
        return None
    try:
        body_json: dict[str, Any] = response.json()
    except ValueError:
        response.failure(f"status {expected} but the body is not JSON: {(response.text or '')[:300]}")
        return None
    return body_json


class TaskUser(FastHttpUser):
    """One person with their own list: reads dominate, writes touch only their own tasks."""

    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self) -> None:
        self.user_id = f"lt-{uuid.uuid4().hex}"
        self.base = f"/api/{self.user_id}/tasks"
        self.tokens = TokenMinter(self.user_id)
        self.seeded: list[str] = []  # tasks made before the loop
        self.created: deque[str] = deque()  # tasks made in the loop, deleted oldest first
        for number in range(SEED_TASKS):
            task_id = self._create(f"Seeded task {number + 1}", SEED)
            if task_id:
                self.seeded.append(task_id)

    # ---- helpers

    def _request(self, method: str, path: str, name: str, **kwargs: Any) -> AbstractContextManager[Any]:
        return self.client.request(method, path, name=name, headers=self.tokens.header(), catch_response=True, **kwargs)

    def _create(self, title: str, name: str = TASKS) -> str | None:
        body = {"title": title, "description": f"made by {self.user_id} under load"}
        with self._request("POST", self.base, name, json=body) as response:
            task = check(response, 201)
        return str(task["id"]) if task else None

    def _delete(self, task_id: str) -> None:
        with self._request("DELETE", f"{self.base}/{task_id}", TASK) as response:
            check(response, 204)

    def _any_task(self) -> str | None:
        ids = self.seeded + list(self.created)
        return random.choice(ids) if ids else None

    # ---- the mix (weights are percentages)

    @task(55)
    def list_tasks(self) -> None:
        with self._request("GET", self.base, TASKS) as response:
            check(response, 200)

    @task(15)
    def get_task(self) -> None:
        task_id = self._any_task()
        if task_id is None:
            return
        with self._request("GET", f"{self.base}/{task_id}", TASK) as response:
            check(response, 200)

    @task(10)
    def create_task(self) -> None:
        if len(self.seeded) + len(self.created) >= MAX_TASKS and self.created:
            self._delete(self.created.popleft())
        task_id = self._create(f"Task {uuid.uuid4().hex[:8]}")
        if task_id:
            self.created.append(task_id)

    @task(8)
    def edit_task(self) -> None:
        task_id = self._any_task()
        if task_id is None:
            return
        body = {"title": f"Edited {uuid.uuid4().hex[:8]}", "description": "changed under load"}
        with self._request("PATCH", f"{self.base}/{task_id}", TASK, json=body) as response:
            check(response, 200)

    @task(8)
    def toggle_task(self) -> None:
        task_id = self._any_task()
        if task_id is None:
            return
        with self._request("PATCH", f"{self.base}/{task_id}/complete", COMPLETE) as response:
            check(response, 200)

    @task(4)
    def delete_task(self) -> None:
        """Delete one of this person's tasks: the oldest made in the loop, else a seeded one (keeping one)."""
        if self.created:
            self._delete(self.created.popleft())
        elif len(self.seeded) > 1:
            self._delete(self.seeded.pop(0))
