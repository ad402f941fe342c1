"""``task-api`` (also ``python -m service``): the commands the Makefile and the container run."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import logging
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec
import uvicorn
from litestar import Litestar

from service import asgi
from service.app import create_app, require_servable
from service.config import Settings, SettingsError, hand_down, handed_down, load_settings
from service.db import embedded, migrations
from service.db import pool as database
from service.http.auth import issue_token
from service.observability import logs

log = logging.getLogger("service")

ENV_FILE = Path(".env")


def _with_database(settings: Settings) -> Settings:
    """``settings`` with ``DATABASE_URL``, starting the embedded server when it is unset."""
    if settings.database_url:
        return settings
    return msgspec.structs.replace(settings, database_url=embedded.start(settings.embedded_pg_dir))


def _with_dev_secret(settings: Settings) -> Settings:
    """With no way to verify tokens configured, create a development secret in ``.env``."""
    if settings.better_auth_secret or settings.jwt_jwks_url:
        return settings
    secret = secrets.token_urlsafe(48)
    with ENV_FILE.open("a", encoding="utf-8") as env_file:
        env_file.write(f"\n# Created by `make run` for local development.\nBETTER_AUTH_SECRET={secret}\n")
    log.warning("no BETTER_AUTH_SECRET or JWT_JWKS_URL set: wrote a development secret to %s", ENV_FILE.resolve())
    return msgspec.structs.replace(settings, better_auth_secret=secret)


async def _check_database(settings: Settings) -> None:
    """Connect once to each database the service uses, or fail naming the variable to fix."""
    pool = await database.create_pool(settings)
    await pool.close()
    if settings.events_enabled and settings.events_database_url:
        listening = msgspec.structs.replace(
            settings, database_url=settings.events_database_url, db_pool_min_size=1, db_pool_max_size=1
        )
        try:
            pool = await database.create_pool(listening)
        except RuntimeError as exc:
            raise RuntimeError(f"EVENTS_DATABASE_URL: {exc}") from exc
        await pool.close()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


WORKER_APP = f"{__name__}:worker_app"


def worker_app() -> Litestar:
    """The app of one of ``serve``'s worker processes, with the settings ``serve`` handed down.

    uvicorn calls it in each worker before it logs anything there. A worker stopped by SIGTERM
    dies by the signal right after uvicorn's last lines, with no exit handlers run: from the app's
    stop on, its log lines are written at once. Any other exit releases the handler.
    """
    settings = handed_down()
    log_handler = logs.configure(settings.log_level, settings.log_format)
    atexit.register(logs.release, log_handler)
    app = create_app(settings)
    app.on_shutdown.append(log_handler.unbuffer)
    return app


def serve(settings: Settings) -> None:
    """Serve with ``settings``: one worker in this process, or WORKERS processes handed them."""
    # Fail here, once and clearly, rather than in every worker process, where uvicorn
    # would restart a worker that cannot start, or exit 0.
    require_servable(settings)
    asyncio.run(_check_database(settings))
    if settings.workers == 1:
        app: Litestar | str = create_app(settings)  # served in this process
    else:
        os.environ.update(hand_down(settings))  # the worker processes inherit it
        app = WORKER_APP
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again so the
    # process dies by it; a finished graceful shutdown is a clean exit, so make that exit 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        log_config=None,  # this process's logging is the CLI's, a worker's is worker_app's
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        **asgi.server_options(settings),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="task-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve HTTP (DATABASE_URL, or the embedded server when unset)")
    commands.add_parser("run", help="development: embedded database if needed, dev secret if needed, migrate, serve")
    commands.add_parser("migrate", help="apply pending migrations to MIGRATIONS_DATABASE_URL, else DATABASE_URL")
    rollback = commands.add_parser("rollback", help="roll back the latest migrations")
    rollback.add_argument("--count", type=int, default=1, help="how many (0 for all; default 1)")
    token = commands.add_parser("token", help="print an HS256 token for a user, signed with BETTER_AUTH_SECRET")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"task-api: {exc}", file=sys.stderr)
        return 2
    log_handler = logs.configure(settings.log_level, settings.log_format)
    try:
        if args.command == "token":
            print(issue_token(settings, args.user_id, ttl_seconds=args.ttl))
        elif args.command == "migrate":
            settings = _with_database(settings)
            migrations.apply(settings.migrations_url, retry_seconds=settings.db_connect_retry_seconds)
        elif args.command == "rollback":
            settings = _with_database(settings)
            migrations.rollback(settings.migrations_url, count=args.count)
        elif args.command == "run":
            settings = _with_dev_secret(_with_database(settings))
            migrations.apply(settings.migrations_url, retry_seconds=settings.db_connect_retry_seconds)
            serve(settings)
        else:
            serve(_with_database(settings))
    except (ValueError, RuntimeError) as exc:
        print(f"task-api: {exc}", file=sys.stderr)
        return 1
    finally:
        logs.release(log_handler)
    return 0
