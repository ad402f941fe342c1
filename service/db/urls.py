"""DATABASE_URL as each driver wants it: asyncpg for the service, psycopg 3 for yoyo's migrations."""

from __future__ import annotations

import logging
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

log = logging.getLogger(__name__)

_SCHEMES = {"postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg", "postgres+asyncpg"}
# Query parameters asyncpg understands itself. Anything else it would send to the
# server as a run-time setting, which PgBouncer (and so Neon's pooler) rejects.
_ASYNCPG_PARAMS = {
    "host",
    "port",
    "dbname",
    "database",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslnegotiation",
    "sslcrl",
    "sslpassword",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "target_session_attrs",
    "krbsrvname",
    "gsslib",
}


class DatabaseURLError(ValueError):
    """``DATABASE_URL`` is not a PostgreSQL URL."""


def _split(url: str) -> tuple[SplitResult, list[tuple[str, str]]]:
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise DatabaseURLError(
            f"DATABASE_URL must start with postgresql:// (or postgres://, postgresql+asyncpg://), "
            f"not {parts.scheme or 'nothing'}://"
        )
    return parts, parse_qsl(parts.query, keep_blank_values=True)


def asyncpg_dsn(url: str) -> str:
    """The URL as asyncpg wants it: plain scheme, only parameters asyncpg itself handles.

    ``channel_binding`` (libpq only) and other unknown parameters are dropped, with a log line,
    instead of being forwarded to the server as settings.
    """
    parts, query = _split(url)
    kept = [(k, v) for k, v in query if k in _ASYNCPG_PARAMS]
    dropped = sorted({k for k, _ in query if k not in _ASYNCPG_PARAMS})
    if dropped:
        log.info("DATABASE_URL: ignoring parameters asyncpg does not use: %s", ", ".join(dropped))
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept), ""))


def psycopg_url(url: str) -> str:
    """The URL as yoyo wants it for psycopg 3 (libpq), which understands every libpq parameter."""
    parts, query = _split(url)
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, urlencode(query), ""))


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
