"""Schema migrations through yoyo (psycopg 3, synchronous), holding yoyo's lock while they run."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from yoyo import get_backend, read_migrations
from yoyo.backends.base import DatabaseBackend
from yoyo.migrations import MigrationList

from service.db.urls import psycopg_url, redacted

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def all_migrations(directory: Path = MIGRATIONS_DIR) -> MigrationList:
    return read_migrations(str(directory))


def migration_ids(directory: Path = MIGRATIONS_DIR) -> list[str]:
    return [migration.id for migration in all_migrations(directory)]


def refuse_a_pooler(database_url: str) -> None:
    """Migrations need the direct endpoint: a transaction pooler (Neon's ``-pooler`` host) may run
    each statement of a migration on a different server connection, and cuts long DDL off at its
    query timeout."""
    host = urlsplit(database_url).hostname or ""
    if "-pooler." in host:
        raise ValueError(
            f"{host} is Neon's pooled endpoint; run migrations against the direct one "
            f"({host.replace('-pooler.', '.', 1)}): set MIGRATIONS_DATABASE_URL to it"
        )


def _connect(database_url: str, retry_seconds: float) -> DatabaseBackend:
    """yoyo's backend, retrying the connection for ``retry_seconds`` (the database may be starting)."""
    refuse_a_pooler(database_url)
    deadline = time.monotonic() + retry_seconds
    delay = 0.25
    while True:
        try:
            return get_backend(psycopg_url(database_url))
        except psycopg.OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise RuntimeError(
                    f"cannot connect to PostgreSQL at {redacted(database_url)} to migrate: {exc}".strip()
                    + ". Check DATABASE_URL; migrations need the direct endpoint, not a transaction pooler."
                ) from exc
            log.warning("database not reachable yet for migrations; retrying in %.2fs", delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@contextmanager
def _locked_backend(database_url: str, retry_seconds: float) -> Iterator[DatabaseBackend]:
    """yoyo's backend holding its migration lock, so concurrent runs take turns."""
    backend = _connect(database_url, retry_seconds)
    try:
        with backend.lock():
            yield backend
    finally:
        backend.connection.close()


def apply(database_url: str, *, retry_seconds: float = 0, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; safe to run from several processes at once."""
    with _locked_backend(database_url, retry_seconds) as backend:
        pending = backend.to_apply(all_migrations(directory))
        backend.apply_migrations(pending)
    applied = [migration.id for migration in pending]
    log.info("migrations applied: %s", ", ".join(applied) or "none pending")
    return applied


def rollback(
    database_url: str, *, count: int = 1, retry_seconds: float = 0, directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Roll back the ``count`` most recently applied migrations (all of them when ``count`` is 0)."""
    with _locked_backend(database_url, retry_seconds) as backend:
        applied = backend.to_rollback(all_migrations(directory))
        chosen = applied if count == 0 else applied[:count]
        backend.rollback_migrations(chosen)
    rolled_back = [migration.id for migration in chosen]
    log.info("migrations rolled back: %s", ", ".join(rolled_back) or "none applied")
    return rolled_back
