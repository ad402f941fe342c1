"""Settings, read once from the environment (and an optional ``.env`` file).

``task-api serve`` reads them in its own process and hands them to its worker processes in one
variable, HANDED_DOWN, so every worker serves with the settings the CLI checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec
from dotenv import dotenv_values
from msgspec import Meta

from service.observability.logs import LogFormat

HANDED_DOWN = "TASK_API_SETTINGS"

PositiveFloat = Annotated[float, Meta(gt=0)]
PositiveInt = Annotated[int, Meta(gt=0)]
Port = Annotated[int, Meta(ge=1, le=65535)]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(msgspec.Struct, kw_only=True, frozen=True, rename="upper"):
    """Every variable the service reads; ``.env.example`` documents each one."""

    host: str = "127.0.0.1"
    port: Port = 8000
    workers: PositiveInt = 1
    forwarded_allow_ips: str = "127.0.0.1"
    shutdown_grace_seconds: PositiveInt = 20
    log_level: str = "INFO"
    log_format: LogFormat = "auto"
    access_log: bool = True
    log_user_key: str = ""  # keys the access log's user reference; empty: a random key per process
    metrics_enabled: bool = True

    database_url: str = ""
    # Where migrations run: the direct endpoint when DATABASE_URL is a transaction pooler (Neon's
    # -pooler host); empty means DATABASE_URL.
    migrations_database_url: str = ""
    db_pool_min_size: Annotated[int, Meta(ge=0)] = 1
    db_pool_max_size: PositiveInt = 10
    db_pool_acquire_timeout: PositiveFloat = 5.0
    db_command_timeout: PositiveFloat = 10.0
    db_statement_timeout_ms: Annotated[int, Meta(ge=0)] = 5000
    db_application_name: str = "task-api"
    db_max_inactive_connection_lifetime: Annotated[float, Meta(ge=0)] = 240.0
    db_statement_cache_size: Annotated[int, Meta(ge=0)] = 100
    db_connect_retry_seconds: Annotated[float, Meta(ge=0)] = 30.0
    embedded_pg_dir: str = ".data/postgres"

    better_auth_secret: str = ""
    jwt_jwks_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway_seconds: Annotated[float, Meta(ge=0, le=300)] = 30.0
    jwks_cache_seconds: PositiveFloat = 300.0
    jwks_min_refetch_seconds: PositiveFloat = 1.0
    jwks_timeout_seconds: PositiveFloat = 3.0

    cors_origins: str = "http://localhost:3000"
    max_body_bytes: PositiveInt = 65536
    body_timeout_seconds: PositiveFloat = 10.0
    max_tasks_per_user: PositiveInt = 10_000
    max_lists_per_user: PositiveInt = 200
    trash_retention_days: PositiveInt = 30  # a deleted task stays restorable this long
    sync_retention_days: PositiveInt = 30  # the change feed remembers deletions this long; older since: 410
    purge_interval_seconds: Annotated[float, Meta(ge=0)] = 300.0  # how often each process purges; 0: never

    events_enabled: bool = True  # GET /events, its LISTEN connection and the reminder scheduler
    # Where the LISTEN connection goes: the direct endpoint when DATABASE_URL is a transaction
    # pooler (Neon's -pooler host), which does not pass notifications on; empty means DATABASE_URL.
    events_database_url: str = ""
    events_max_streams_per_user: PositiveInt = 10  # open event streams per user, in each process
    events_keepalive_seconds: Annotated[float, Meta(gt=0, le=15)] = 15.0  # a comment line at least this often

    rate_limit_per_minute: Annotated[int, Meta(ge=0)] = 600  # per user; 0 turns limiting off
    rate_limit_burst: PositiveInt = 60
    rate_limit_store_url: str = ""  # empty: each process counts alone; redis://... shares the count

    def __post_init__(self) -> None:
        if self.log_level.upper() not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")

    @property
    def migrations_url(self) -> str:
        return self.migrations_database_url or self.database_url

    @property
    def events_url(self) -> str:
        return self.events_database_url or self.database_url

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


class SettingsError(ValueError):
    """The environment holds a value the service cannot use."""


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | Path = ".env") -> Settings:
    """Build settings from ``environ`` (default: ``os.environ``) over an optional ``.env`` file.

    Real environment variables win over the file, as in every twelve-factor tool.
    """
    values: dict[str, str] = {}
    if Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    known = {field.encode_name for field in msgspec.structs.fields(Settings)}
    # An empty variable means "not set": compose files and CI often export VAR= .
    given = {k: v for k, v in values.items() if k in known and v != ""}
    try:
        return msgspec.convert(given, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid configuration: {exc}") from None


def hand_down(settings: Settings) -> dict[str, str]:
    """The environment that gives processes started from this one ``settings`` (see handed_down)."""
    return {HANDED_DOWN: msgspec.json.encode(settings).decode()}


def handed_down(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings a parent process handed down in HANDED_DOWN, checked again as they are decoded."""
    encoded = (os.environ if environ is None else environ).get(HANDED_DOWN)
    if encoded is None:
        raise SettingsError(f"{HANDED_DOWN} is not set: this process is started by `task-api serve`")
    try:
        return msgspec.json.decode(encoded, type=Settings)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise SettingsError(f"invalid {HANDED_DOWN}: {exc}") from None
