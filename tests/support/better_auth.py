"""A real Better Auth server (tests/support/betterauth/server.mjs, on Node) and the people who sign up on it.

Its npm packages come from the committed lock: ``npm ci`` runs first when ``node_modules`` is missing or does
not match the lock. Without Node the tests that need it fail, saying so: they are selected on purpose
(``make test-betterauth``), and CI must not pass them by skipping.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.server import clean_env, free_port

PROJECT = Path(__file__).resolve().parent / "betterauth"
PASSWORD = "correct horse battery staple"


def installed_versions(lock: Path) -> dict[str, str]:
    packages = json.loads(lock.read_text())["packages"]
    return {path: entry.get("version", "") for path, entry in packages.items() if path}


def install() -> None:
    """``npm ci`` in the project, unless ``node_modules`` already holds exactly what the lock says."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: the Better Auth tests need Node 20 or newer with npm")
    hidden_lock = PROJECT / "node_modules" / ".package-lock.json"  # what npm last installed there
    lock = PROJECT / "package-lock.json"
    if hidden_lock.exists() and installed_versions(hidden_lock) == installed_versions(lock):
        return
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],  # noqa: S607  # npm from PATH, as a developer runs it
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"npm ci in {PROJECT} failed:\n{result.stdout}\n{result.stderr}")


@dataclass
class Person:
    """Someone signed up with email and password; ``client`` holds their session cookie."""

    name: str
    email: str
    user_id: str
    client: httpx.Client = field(repr=False)

    def token(self) -> str:
        """A JWT from ``/api/auth/token``, as ``authClient.token()`` fetches it."""
        response = self.client.get("/api/auth/token")
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def session_token(self) -> str:
        """A JWT from the ``set-auth-jwt`` header of ``/api/auth/get-session``, as the web app reads it."""
        response = self.client.get("/api/auth/get-session")
        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == self.user_id
        assert "set-auth-jwt" in response.headers["access-control-expose-headers"]
        return response.headers["set-auth-jwt"]


@dataclass
class BetterAuth:
    origin: str
    log: Path
    people: list[Person] = field(default_factory=list)

    @property
    def jwks_url(self) -> str:
        return f"{self.origin}/api/auth/jwks"

    def jwks(self) -> dict[str, object]:
        document: dict[str, object] = httpx.get(self.jwks_url, timeout=10).json()
        return document

    def sign_up(self, name: str) -> Person:
        client = httpx.Client(base_url=self.origin, timeout=10)
        email = f"{name.lower()}-{secrets.token_hex(4)}@example.com"
        response = client.post("/api/auth/sign-up/email", json={"name": name, "email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        assert "better-auth.session_token" in client.cookies  # signed in at once
        person = Person(name=name, email=email, user_id=response.json()["user"]["id"], client=client)
        self.people.append(person)
        return person

    def jwks_requests(self) -> int:
        """How many times the JWKS has been asked for so far (the server logs one line per request)."""
        return sum(line.startswith("GET /api/auth/jwks ") for line in self.log.read_text().splitlines())


@contextmanager
def better_auth(directory: Path, *, rotation_seconds: float | None = None) -> Iterator[BetterAuth]:
    """Better Auth on a free port of 127.0.0.1, with a secret of its own; stopped (by its pid) afterwards."""
    install()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {
        **clean_env(),
        "NODE_ENV": "test",
        "PORT": str(port),
        "BETTER_AUTH_URL": origin,
        "BETTER_AUTH_SECRET": secrets.token_hex(32),
    }
    if rotation_seconds is not None:
        env["JWKS_ROTATION_SECONDS"] = str(rotation_seconds)
    log = directory / f"better-auth-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["node", "server.mjs"],  # noqa: S607
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = BetterAuth(origin=origin, log=log)
    try:
        wait_until_up(process, f"{origin}/api/auth/ok", log)
        yield server
    finally:
        for person in server.people:
            person.client.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Better Auth did not start:\n{log.read_text()}")
        time.sleep(0.1)
