"""The entrypoint the Makefile and the container run, as real processes over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import jwt
import msgspec
import psutil
import pytest

from service.config import HANDED_DOWN, Settings, SettingsError, hand_down, handed_down
from service.db import migrations
from service.http.auth import issue_token
from tests.conftest import SECRET, make_settings
from tests.support.server import clean_env, free_port, served, start_server, stop


def task_api(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """clean_env(); the test runs in an empty directory (no .env)."""
    return clean_env()


@pytest.fixture
def server(migrated: str, base_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    env = {**base_env, "DATABASE_URL": migrated, "BETTER_AUTH_SECRET": SECRET, "WORKERS": "1"}
    with served(env, tmp_path) as (_process, base):
        yield base


def test_served_over_http_with_a_token_from_the_cli(server: str, base_env: dict[str, str], tmp_path: Path) -> None:
    printed = task_api("token", "cli-user", env={**base_env, "BETTER_AUTH_SECRET": SECRET}, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "cli-user"
    assert claims["exp"] - claims["iat"] == 3600

    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{server}/api/cli-user/tasks", json={"title": "from the CLI"}, headers=headers)
    assert created.status_code == 201
    listed = httpx.get(f"{server}/api/cli-user/tasks", headers=headers)
    assert [task["title"] for task in listed.json()] == ["from the CLI"]
    assert "server" not in listed.headers  # no version banner
    httpx.delete(f"{server}{created.headers['location']}", headers=headers)


def test_root_leads_to_the_docs_page_which_offers_bearer_auth(server: str) -> None:
    root = httpx.get(f"{server}/", follow_redirects=False)
    assert root.status_code in {301, 302, 307, 308}
    assert root.headers["location"] == "/docs"
    page = httpx.get(f"{server}/docs")
    assert page.status_code == 200
    assert "swagger" in page.text.lower()
    schema = httpx.get(f"{server}/docs/openapi.json").json()
    assert schema["components"]["securitySchemes"]["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT from the web app's Better Auth JWT plugin (EdDSA by default; ES256 and RS256 too), "
        "checked against the keys at JWT_JWKS_URL; or an HS256 token signed with BETTER_AUTH_SECRET "
        "(other issuers, development, `make token`).",
    }
    assert set(schema["paths"]) >= {
        "/api/{user_id}/tasks",
        "/api/{user_id}/tasks/{task_id}",
        "/api/{user_id}/tasks/{task_id}/complete",
        "/health",
        "/health/ready",
    }


def test_cors_preflight_allows_the_web_app_with_authorization(server: str) -> None:
    preflight = httpx.options(
        f"{server}/api/alice/tasks",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code in {200, 204}
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "POST" in preflight.headers["access-control-allow-methods"]

    stranger = httpx.options(
        f"{server}/api/alice/tasks",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert stranger.headers.get("access-control-allow-origin") != "https://evil.example"


def test_serve_without_any_token_verification_refuses_to_start(
    migrated: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    result = task_api("serve", env={**base_env, "DATABASE_URL": migrated, "WORKERS": "2"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "set BETTER_AUTH_SECRET or JWT_JWKS_URL" in result.stderr


def test_serve_with_an_unreachable_database_fails_with_a_clear_message(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **base_env,
        "DATABASE_URL": f"postgresql://app:pw@127.0.0.1:{free_port()}/tasks",
        "BETTER_AUTH_SECRET": SECRET,
        "DB_CONNECT_RETRY_SECONDS": "0.5",
        "WORKERS": "2",
    }
    result = task_api("serve", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot connect to PostgreSQL at postgresql://app:***@127.0.0.1" in result.stderr


def test_serve_with_an_unreachable_events_database_names_it(
    base_env: dict[str, str], tmp_path: Path, migrated: str
) -> None:
    env = {
        **base_env,
        "DATABASE_URL": migrated,
        "EVENTS_DATABASE_URL": f"postgresql://app:pw@127.0.0.1:{free_port()}/tasks",
        "BETTER_AUTH_SECRET": SECRET,
        "DB_CONNECT_RETRY_SECONDS": "0.5",
    }
    result = task_api("serve", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "EVENTS_DATABASE_URL: cannot connect to PostgreSQL at postgresql://app:***@127.0.0.1" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("LOG_LEVEL", "verbose", "LOG_LEVEL must be one of"), ("PORT", "eighty", "PORT"), ("WORKERS", "0", "WORKERS")],
)
def test_bad_configuration_is_reported_not_a_traceback(
    base_env: dict[str, str], tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = task_api("token", "alice", env={**base_env, "BETTER_AUTH_SECRET": SECRET, variable: value}, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_token_without_a_secret_says_what_is_missing(base_env: dict[str, str], tmp_path: Path) -> None:
    result = task_api("token", "alice", env=base_env, cwd=tmp_path)
    assert result.returncode == 1
    assert "BETTER_AUTH_SECRET is not set" in result.stderr


def test_migrate_and_rollback_commands(scratch_url: str, base_env: dict[str, str], tmp_path: Path) -> None:
    env = {**base_env, "DATABASE_URL": scratch_url}
    migrated = task_api("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrations applied: 0001.create-tasks, 0002.organise-tasks" in migrated.stderr
    again = task_api("migrate", env=env, cwd=tmp_path)
    assert "none pending" in again.stderr
    rolled_back = task_api("rollback", env=env, cwd=tmp_path)
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert f"migrations rolled back: {migrations.migration_ids()[-1]}" in rolled_back.stderr  # the latest only


def test_dotenv_file_is_read_and_the_environment_wins(base_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"BETTER_AUTH_SECRET={SECRET}\nJWT_ISSUER=https://from-file.example\n")
    result = task_api("token", "alice", env={**base_env, "JWT_ISSUER": "https://from-env.example"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["iss"] == "https://from-env.example"


def test_help_lists_every_command(base_env: dict[str, str], tmp_path: Path) -> None:
    result = task_api("--help", env=base_env, cwd=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "run", "migrate", "rollback", "token"):
        assert command in result.stdout


async def test_sigterm_lets_accepted_requests_finish_then_exits_0(
    migrated: str, admin: asyncpg.Connection, base_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**base_env, "DATABASE_URL": migrated, "BETTER_AUTH_SECRET": SECRET, "WORKERS": "1"}
    process, base = start_server(env, tmp_path)
    headers = {"Authorization": f"Bearer {issue_token(make_settings(migrated), 'alice')}"}
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=20) as client:
            created = await client.post("/api/alice/tasks", json={"title": "in flight"})
            path = created.headers["location"]
        # Each request on its own connection, blocked in the database on a row we hold.
        clients = [httpx.AsyncClient(base_url=base, headers=headers, timeout=20) for _ in range(10)]
        async with admin.transaction():
            await admin.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", created.json()["id"])
            in_flight = [asyncio.create_task(c.patch(f"{path}/complete", json={"completed": True})) for c in clients]
            await asyncio.sleep(0.5)  # all ten are accepted and waiting on the lock
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
        responses = await asyncio.gather(*in_flight)
        for each in clients:
            await each.aclose()
        assert [response.status_code for response in responses] == [200] * 10
        assert await asyncio.to_thread(process.wait, 15) == 0
    finally:
        stop(process)


def test_instances_started_together_all_come_up_and_migrate_once(
    scratch_url: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    # What a deployment of several containers does: each runs `migrate`, then serves.
    env = {**base_env, "DATABASE_URL": scratch_url, "BETTER_AUTH_SECRET": SECRET}
    migrators = [
        subprocess.Popen(
            [sys.executable, "-m", "service", "migrate"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=60)[1] for process in migrators]
    assert [process.returncode for process in migrators] == [0, 0, 0], outputs
    assert sum("migrations applied: 0001.create-tasks" in output for output in outputs) == 1
    assert sum("none pending" in output for output in outputs) == 2

    servers = [start_server({**env, "WORKERS": "1"}, tmp_path) for _ in range(3)]
    try:
        for _process, base in servers:
            assert httpx.get(f"{base}/health/ready").status_code == 200
    finally:
        assert [stop(process) for process, _base in servers] == [0, 0, 0]


def test_env_example_documents_every_setting() -> None:
    text = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    assert documented == {field.encode_name for field in msgspec.structs.fields(Settings)}


def test_migrate_uses_migrations_database_url_over_database_url(
    scratch_url: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    # DATABASE_URL is the pooler the service would use; here nothing listens there at all.
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    env = {**base_env, "DATABASE_URL": dead, "MIGRATIONS_DATABASE_URL": scratch_url, "DB_CONNECT_RETRY_SECONDS": "0"}
    migrated = task_api("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrations applied: 0001.create-tasks" in migrated.stderr


def test_settings_are_handed_down_whole_and_checked_again() -> None:
    settings = make_settings(
        "postgresql://app@db/tasks", workers=3, log_format="json", cors_origins="https://a.example"
    )
    assert handed_down(hand_down(settings)) == settings
    with pytest.raises(SettingsError, match=HANDED_DOWN):
        handed_down({})
    with pytest.raises(SettingsError, match="PORT"):
        handed_down({HANDED_DOWN: hand_down(settings)[HANDED_DOWN].replace('"PORT":8000', '"PORT":0')})


def test_workers_serve_with_the_settings_the_cli_read(migrated: str, base_env: dict[str, str], tmp_path: Path) -> None:
    # The secret is only in .env: the workers verify tokens with what the CLI read and handed down.
    (tmp_path / ".env").write_text(f"BETTER_AUTH_SECRET={SECRET}\n")
    log = tmp_path / "service.log"
    process, base = start_server({**base_env, "DATABASE_URL": migrated, "WORKERS": "2"}, tmp_path, log=log)
    try:
        headers = {"Authorization": f"Bearer {issue_token(make_settings(migrated), 'workers')}"}
        statuses = [httpx.get(f"{base}/api/workers/tasks", headers=headers).status_code for _ in range(20)]
        assert statuses == [200] * 20
        workers = psutil.Process(process.pid).children()
        assert len(workers) >= 2
        assert all(HANDED_DOWN in worker.environ() for worker in workers)
    finally:
        assert stop(process) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    for event in ("Started server process", "Finished server process"):  # the last line a worker writes
        assert len({line["message"] for line in lines if line["message"].startswith(event)}) == 2, event
    assert [line["status"] for line in lines if line["logger"] == "service.access" and line["route"] != "/health"]


def test_importing_the_service_changes_nothing_global(base_env: dict[str, str], tmp_path: Path) -> None:
    # What uvicorn imports in a worker, and every module the app is made of.
    check = (
        "import logging, threading\n"
        "from prometheus_client import REGISTRY\n"
        "import service.cli, service.app, service.asgi\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert not logging.getLogger().handlers and logging.logThreads and logging._srcfile\n"
        "assert not [family.name for family in REGISTRY.collect() if family.name.startswith('task_api')]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check],
        env=base_env,
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
