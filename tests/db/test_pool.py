"""Pool settings and the start-up retry, against a real server where it matters."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest

from service.db.pool import create_pool, pool_options
from service.db.urls import asyncpg_dsn
from tests.conftest import make_settings
from tests.db.test_urls import NEON


def test_pool_options_follow_settings() -> None:
    settings = make_settings(
        NEON,
        db_pool_min_size=2,
        db_pool_max_size=7,
        db_command_timeout=3.5,
        db_statement_timeout_ms=1234,
        db_application_name="tasks-eu",
        db_max_inactive_connection_lifetime=200.0,
        db_statement_cache_size=0,
    )
    options = pool_options(settings)
    assert options["min_size"] == 2
    assert options["max_size"] == 7
    assert options["command_timeout"] == 3.5
    assert options["max_inactive_connection_lifetime"] == 200.0
    assert options["statement_cache_size"] == 0
    assert options["server_settings"] == {"application_name": "tasks-eu", "statement_timeout": "1234"}
    assert "channel_binding" not in options["dsn"]


def test_statement_timeout_zero_is_not_sent() -> None:
    options = pool_options(make_settings(NEON, db_statement_timeout_ms=0))
    assert "statement_timeout" not in options["server_settings"]


@pytest.mark.direct  # statement_timeout as a connection setting, which PgBouncer refuses
async def test_pool_applies_server_settings(migrated: str) -> None:
    settings = make_settings(migrated, db_statement_timeout_ms=4321, db_application_name="settings-check")
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW statement_timeout") == "4321ms"
            assert await connection.fetchval("SHOW application_name") == "settings-check"
    finally:
        await pool.close()


@pytest.mark.direct  # statement_timeout as a connection setting, which PgBouncer refuses
async def test_statement_timeout_cancels_a_slow_statement(migrated: str) -> None:
    pool = await create_pool(make_settings(migrated, db_statement_timeout_ms=100))
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.fetchval("SELECT pg_sleep(2)")
        assert await pool.fetchval("SELECT 1") == 1  # the connection is usable afterwards
    finally:
        await pool.close()


async def test_startup_retries_then_fails_with_a_helpful_message() -> None:
    # Nothing listens on port 1; the retry must give up after about db_connect_retry_seconds.
    settings = make_settings("postgresql://app:s3cret-pw@127.0.0.1:1/tasks", db_connect_retry_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(RuntimeError) as raised:
        await create_pool(settings)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 10
    message = str(raised.value)
    assert "postgresql://app:***@127.0.0.1:1/tasks" in message
    assert "s3cret-pw" not in message
    assert "Check that DATABASE_URL" in message


async def test_wrong_database_name_fails_at_once(migrated: str) -> None:
    parts = urlsplit(asyncpg_dsn(migrated))
    url = urlunsplit(parts._replace(path="/no_such_database"))
    settings = msgspec.structs.replace(make_settings(url), db_connect_retry_seconds=30.0)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="Check the user, password and database name"):
        await create_pool(settings)
    assert time.monotonic() - started < 5
