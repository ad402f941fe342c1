"""Per-user rate limits: a burst, then a steady rate; 429 with Retry-After and RateLimit headers."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from litestar.stores.memory import MemoryStore
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.config import Settings
from service.http import rate_limit
from service.http.rate_limit import MemoryLimiter, Policy, StoreLimiter
from tests.conftest import ALICE, BOB, TestClient, make_settings, problem_of, wipe


def test_a_full_bucket_allows_a_burst_then_one_request_per_interval() -> None:
    policy = Policy(per_minute=60, burst=3)
    tat = None
    answers = []
    for now in [0, 0, 0, 0, 0.5, 1.0, 1.0, 2.0, 10, 10, 10, 10]:
        decision, tat = policy.decide(tat, now)
        answers.append((decision.allowed, decision.remaining, decision.retry_after))
    assert answers == [
        (True, 2, 0),
        (True, 1, 0),
        (True, 0, 0),
        (False, 0, 1.0),  # the burst is spent: the next slot is one interval away
        (False, 0, 0.5),
        (True, 0, 0),
        (False, 0, 1.0),
        (True, 0, 0),
        (True, 2, 0),  # idle long enough: the whole burst is back
        (True, 1, 0),
        (True, 0, 0),
        (False, 0, 1.0),
    ]


def test_headers_state_the_policy_and_what_is_left() -> None:
    policy = Policy(per_minute=600, burst=60)
    allowed, _ = policy.decide(None, 100.0)
    assert policy.headers(allowed) == {
        "RateLimit-Policy": "60;w=6",  # 60 at once, refilled in 6 s
        "RateLimit-Limit": "60",
        "RateLimit-Remaining": "59",
        "RateLimit-Reset": "1",
    }
    refused = rate_limit.Decision(False, 0, 6.0, 0.04)
    assert policy.headers(refused)["Retry-After"] == "1"  # whole seconds, never 0


async def test_the_memory_limiter_forgets_users_whose_bucket_is_full_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MemoryLimiter, "MAX_USERS", 3)
    limiter = MemoryLimiter(Policy(per_minute=60, burst=2))
    for user in ("a", "b", "c"):
        await limiter.take(user, now=0.0)
    await limiter.take("d", now=5.0)  # a, b and c refilled long ago
    assert set(limiter._tats) == {"d"}


async def test_a_store_limiter_keeps_the_count_in_the_store() -> None:
    store = MemoryStore()
    first, second = (StoreLimiter(Policy(per_minute=60, burst=2), store) for _ in range(2))  # two instances
    assert (await first.take("alice", 0.0)).allowed
    assert (await second.take("alice", 0.0)).allowed
    refused = await first.take("alice", 0.0)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(1.0)
    assert (await second.take("bob", 0.0)).allowed


class Clock:
    """Stands in for the ``time`` module inside service.rate_limit."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(rate_limit, "time", fake)
    return fake


@pytest.fixture
async def limited(migrated: str, admin: asyncpg.Connection) -> AsyncIterator[TestClient]:
    await wipe(admin)
    settings = make_settings(migrated, rate_limit_per_minute=60, rate_limit_burst=3)
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def test_a_user_past_the_burst_gets_429_until_the_next_slot(
    limited: TestClient, admin: asyncpg.Connection, clock: Clock
) -> None:
    remaining = []
    for _ in range(3):
        response = await limited.get("/api/alice/tasks", headers=ALICE)
        assert response.status_code == 200
        remaining.append(response.headers["ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]

    refused = await limited.post("/api/alice/tasks", json={"title": "one too many"}, headers=ALICE)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["content-type"] == "application/problem+json"
    assert "60 a minute" in problem_of(refused)["detail"]
    assert await admin.fetchval("SELECT count(*) FROM tasks") == 0  # refused before any work

    assert (await limited.get("/api/bob/tasks", headers=BOB)).status_code == 200  # per user
    clock.now += 1.0
    assert (await limited.get("/api/alice/tasks", headers=ALICE)).status_code == 200


async def test_unauthenticated_and_health_requests_are_not_counted(limited: TestClient, clock: Clock) -> None:
    for _ in range(5):
        assert (await limited.get("/health")).status_code == 200
        assert (await limited.get("/api/alice/tasks")).status_code == 401
    response = await limited.get("/api/alice/tasks", headers=ALICE)
    assert response.headers["ratelimit-remaining"] == "2"
    assert "ratelimit-limit" not in (await limited.get("/health")).headers


async def test_zero_turns_limiting_off(migrated: str) -> None:
    async with AsyncTestClient(app=create_app(make_settings(migrated, rate_limit_per_minute=0))) as client:
        response = await client.get("/api/alice/tasks", headers=ALICE)
        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers


def test_the_default_is_on() -> None:
    assert Settings().rate_limit_per_minute > 0


# --- a shared count in a real Redis (make test-redis) ----------------------------------------------


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.redis
async def test_two_instances_share_one_count_through_redis(migrated: str, redis_url: str) -> None:
    settings = make_settings(migrated, rate_limit_per_minute=60, rate_limit_burst=3, rate_limit_store_url=redis_url)
    async with (
        AsyncTestClient(app=create_app(settings)) as first,
        AsyncTestClient(app=create_app(settings)) as second,
    ):
        statuses = [(await client.get("/api/alice/tasks", headers=ALICE)).status_code for client in (first, second) * 2]
        assert statuses == [200, 200, 200, 429]
        assert (await second.get("/api/bob/tasks", headers=BOB)).status_code == 200
        await asyncio.sleep(1.1)  # the real clock: Redis expires keys by it too
        assert (await first.get("/api/alice/tasks", headers=ALICE)).status_code == 200


def test_a_redis_url_without_the_client_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_redis(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "litestar.stores.redis":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_redis)
    with pytest.raises(ValueError, match=r"task-api\[redis\]"):
        rate_limit.limiter(make_settings("postgresql://x/y", rate_limit_per_minute=1, rate_limit_store_url="redis://h"))
