"""DATABASE_URL translated for asyncpg and psycopg, against a real server where it matters."""

from __future__ import annotations

import asyncpg
import pytest

from service.db.urls import DatabaseURLError, asyncpg_dsn, psycopg_url, redacted

NEON = (
    "postgresql://alex:AbC123dEf@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb"
    "?sslmode=require&channel_binding=require"
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql://u:p@h:5432/db"),
        ("postgres://u:p@h/db", "postgresql://u:p@h/db"),
        ("postgresql+asyncpg://u:p@h/db", "postgresql://u:p@h/db"),
        (
            NEON,
            "postgresql://alex:AbC123dEf@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require",
        ),
        (
            "postgresql://u@/db?host=/tmp/pg&application_name=x&options=-c%20a%3Db",
            "postgresql://u@/db?host=%2Ftmp%2Fpg",
        ),
        (
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem",
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=%2Fca.pem",
        ),
    ],
)
def test_asyncpg_dsn_keeps_only_what_asyncpg_understands(url: str, expected: str) -> None:
    assert asyncpg_dsn(url) == expected


async def test_libpq_only_parameters_would_break_asyncpg_and_are_dropped(migrated: str) -> None:
    # asyncpg forwards query parameters it does not know to the server as settings; the
    # server (and Neon's pooler) refuses them. The translated URL connects.
    url = _with_query(migrated, "channel_binding=prefer&connect_timeout=10")
    with pytest.raises(asyncpg.PostgresError, match="channel_binding"):
        await asyncpg.connect(url)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        assert await connection.fetchval("SELECT 1") == 1
    finally:
        await connection.close()


def _with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


def test_psycopg_url_keeps_libpq_parameters_for_migrations() -> None:
    assert psycopg_url(NEON) == NEON.replace("postgresql://", "postgresql+psycopg://", 1)
    assert psycopg_url("postgres+asyncpg://u@h/db").startswith("postgresql+psycopg://u@h/db")


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite:///x.db", "localhost:5432", ""])
def test_non_postgres_urls_are_refused(url: str) -> None:
    with pytest.raises(DatabaseURLError, match="must start with postgresql://"):
        asyncpg_dsn(url)


def test_redacted_hides_the_password() -> None:
    assert redacted(NEON).startswith("postgresql://alex:***@ep-cool")
    assert "AbC123dEf" not in redacted(NEON)
    assert redacted("postgresql://u@h/db") == "postgresql://u@h/db"
