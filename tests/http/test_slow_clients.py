"""A client that trickles its request body cannot hold the server: 408 at BODY_TIMEOUT_SECONDS."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ALICE, SECRET
from tests.support.server import served

BODY_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def server(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": migrated,
        "BETTER_AUTH_SECRET": SECRET,
        "BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "RATE_LIMIT_PER_MINUTE": "0",
    }
    with served(env, Path(tmp_path_factory.mktemp("slow"))) as (_process, base):
        yield base


def post_head(base: str, length: int) -> tuple[socket.socket, bytes]:
    parts = urlsplit(base)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=10)
    head = (
        f"POST /api/alice/tasks HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: {ALICE['Authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    return connection, head.encode()


def read_response(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    received = b""
    while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < content_length(received):
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def content_length(received: bytes) -> int:
    for line in received.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_a_body_trickled_past_the_deadline_is_408_and_the_connection_closes(server: str) -> None:
    body = json.dumps({"title": "trickled"}).encode()
    connection, head = post_head(server, len(body))
    with connection:
        connection.sendall(head)
        started = time.monotonic()
        try:
            for byte in body:  # one byte every 0.25 s: the whole body would take 5 s
                connection.sendall(bytes([byte]))
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before the trickle ends
        status, headers, answer = read_response(connection)
        waited = time.monotonic() - started
        assert status == 408
        assert headers["content-type"] == "application/problem+json"
        assert "did not arrive within 1.5 s" in json.loads(answer)["detail"]
        assert BODY_TIMEOUT <= waited < BODY_TIMEOUT + 4
        assert connection.recv(1) == b""  # closed: the server holds nothing more for it
    # Nothing half-made, and others were served all along.
    listed = httpx.get(f"{server}/api/alice/tasks", headers=ALICE, timeout=5).json()
    assert "trickled" not in [task["title"] for task in listed]


def test_a_slow_body_within_the_deadline_is_served(server: str) -> None:
    body = json.dumps({"title": "slow but fine"}).encode()
    connection, head = post_head(server, len(body))
    with connection:
        connection.sendall(head)
        connection.sendall(body[:5])
        time.sleep(BODY_TIMEOUT / 3)
        connection.sendall(body[5:])
        status, _, answer = read_response(connection)
    assert status == 201
    assert json.loads(answer)["title"] == "slow but fine"


def test_the_server_answers_others_while_a_client_trickles(server: str) -> None:
    connection, head = post_head(server, 100)
    with connection:
        connection.sendall(head + b"{")
        started = time.monotonic()
        assert httpx.get(f"{server}/health", timeout=5).status_code == 200
        assert time.monotonic() - started < 1
