"""Limits on the request head, against the real server process over raw sockets.

The in-process test client hands the app a parsed request, so only ``task-api serve`` (uvicorn with
httptools) shows what a long URL or big headers do. httptools has no limit of its own that helps:
it buffers a URL or a header of any size until the head is complete. ``service.http.head_limits``
adds them (``service.asgi`` hands the protocol to uvicorn): a URL over MAX_URL_BYTES is a 414,
headers over MAX_HEADER_BYTES a 431, and the connection is closed. Each test checks that the
server still answers /health afterwards.

The limits subclass uvicorn's httptools protocol; the last tests pin, in-process, what of uvicorn
the subclass relies on, so an upgrade that changes it fails here by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from uvicorn import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from service.asgi import server_options
from service.config import Settings
from service.http.head_limits import MAX_HEADER_BYTES, MAX_URL_BYTES, LimitedHttpToolsProtocol
from tests.conftest import ALICE, SECRET
from tests.support.server import served

ANSWER_WITHIN = 5.0  # seconds; measured answers take milliseconds, but the machine is noisy
KIB, MIB = 1024, 1024 * 1024


@dataclass
class Server:
    base: str
    process: psutil.Process

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.base)
        assert parts.hostname is not None
        assert parts.port is not None
        return parts.hostname, parts.port

    @property
    def host(self) -> str:
        return urlsplit(self.base).netloc

    def assert_healthy(self) -> None:
        started = time.monotonic()
        assert httpx.get(f"{self.base}/health", timeout=ANSWER_WITHIN).status_code == 200
        assert time.monotonic() - started < ANSWER_WITHIN


@pytest.fixture(scope="module")
def server(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": migrated,
        "BETTER_AUTH_SECRET": SECRET,
        "RATE_LIMIT_PER_MINUTE": "0",
    }
    with served(env, Path(tmp_path_factory.mktemp("limits"))) as (process, base):
        yield Server(base, psutil.Process(process.pid))


@dataclass
class Answer:
    """What came back: a status (None: the connection closed or reset first), and how long it took."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> dict[str, object]:
        document = json.loads(self.body)
        assert isinstance(document, dict)
        return document


def head(target: str, host: str, headers: list[tuple[str, str]] | None = None, method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *(f"{name}: {value}" for name, value in headers or [])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def header_block(host: str, size: int, *, authorized: bool = False) -> list[tuple[str, str]]:
    """Headers that, with ``Host``, are exactly ``size`` bytes as the limit counts them ("Name: value\\r\\n" each)."""
    headers = [("Authorization", ALICE["Authorization"])] if authorized else []
    used = sum(len(name) + len(value) + 4 for name, value in [("Host", host), *headers])
    padding = size - used - len("X-Pad") - 4
    assert padding >= 0
    return [*headers, ("X-Pad", "p" * padding)]


def receive(connection: socket.socket, started: float) -> Answer:
    """One response from ``connection``; a reset or a close before a whole head is ``status=None``."""
    received = b""
    try:
        while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < _length(received):
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    except ConnectionResetError:
        pass
    seconds = time.monotonic() - started
    if b"\r\n\r\n" not in received:
        return Answer(None, {}, b"", seconds)
    raw_head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return Answer(int(status_line.split()[1]), headers, body, seconds)


def _length(received: bytes) -> int:
    for line in received.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def send(connection: socket.socket, data: bytes) -> None:
    """Send what the server still takes: it may close the connection before the rest is read."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        connection.sendall(data)


def exchange(server: Server, request: bytes) -> Answer:
    """``request`` on a new connection; a refusal must also close it."""
    with socket.create_connection(server.address, timeout=ANSWER_WITHIN) as connection:
        started = time.monotonic()
        send(connection, request)
        answer = receive(connection, started)
        if answer.status is not None and answer.status >= 400 and answer.headers.get("connection") == "close":
            assert _closed(connection)
        return answer


def _closed(connection: socket.socket) -> bool:
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


def assert_refused(answer: Answer, status: int, detail: str) -> None:
    """A problem from the HTTP layer (no request id: the app never saw it), the connection closed, in time."""
    assert answer.seconds < ANSWER_WITHIN
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["connection"] == "close"
    assert answer.json() == {"status": status, "title": answer.json()["title"], "detail": detail}


def assert_refused_or_cut(answer: Answer, status: int) -> None:
    """Refused, or, with megabytes still unread, the connection reset before the refusal could be read."""
    assert answer.seconds < ANSWER_WITHIN
    assert answer.status in (status, None), answer


URL_TOO_LONG = f"the URL is longer than {MAX_URL_BYTES} bytes"
HEADERS_TOO_LARGE = f"the request headers are larger than {MAX_HEADER_BYTES} bytes"


# --- the URL ------------------------------------------------------------------------------------


def test_a_url_at_the_limit_reaches_the_app_and_the_connection_stays_open(server: Server) -> None:
    target = "/no-such-page/" + "u" * (MAX_URL_BYTES - len("/no-such-page/"))
    assert len(target) == MAX_URL_BYTES
    with socket.create_connection(server.address, timeout=ANSWER_WITHIN) as connection:
        started = time.monotonic()
        connection.sendall(head(target, server.host))
        answer = receive(connection, started)
        assert answer.seconds < ANSWER_WITHIN
        assert answer.status == 404  # the app's answer: it carries the request's id
        assert answer.json()["request_id"] == answer.headers["x-request-id"]
        started = time.monotonic()
        connection.sendall(head("/health", server.host))
        assert receive(connection, started).status == 200
    server.assert_healthy()


def test_a_url_one_byte_past_the_limit_is_414(server: Server) -> None:
    target = "/no-such-page/" + "u" * (MAX_URL_BYTES + 1 - len("/no-such-page/"))
    assert_refused(exchange(server, head(target, server.host)), 414, URL_TOO_LONG)
    server.assert_healthy()


def test_a_url_past_the_limit_in_its_query_is_414(server: Server) -> None:
    target = "/health?" + "q" * MAX_URL_BYTES
    assert_refused(exchange(server, head(target, server.host)), 414, URL_TOO_LONG)
    server.assert_healthy()


@pytest.mark.parametrize("size", [64 * KIB, MIB], ids=["64KiB", "1MiB"])
def test_a_far_longer_url_is_414(server: Server, size: int) -> None:
    assert_refused_or_cut(exchange(server, head("/" + "u" * (size - 1), server.host)), 414)
    server.assert_healthy()


# --- the headers --------------------------------------------------------------------------------


def test_headers_at_the_limit_are_served(server: Server) -> None:
    headers = header_block(server.host, MAX_HEADER_BYTES, authorized=True)
    answer = exchange(server, head("/api/alice/tasks", server.host, headers))
    assert answer.seconds < ANSWER_WITHIN
    assert answer.status == 200, answer
    assert isinstance(json.loads(answer.body), list)  # alice's tasks
    server.assert_healthy()


def test_headers_one_byte_past_the_limit_are_431(server: Server) -> None:
    headers = header_block(server.host, MAX_HEADER_BYTES + 1, authorized=True)
    assert_refused(exchange(server, head("/api/alice/tasks", server.host, headers)), 431, HEADERS_TOO_LARGE)
    server.assert_healthy()


def test_one_header_of_8_kib_is_served(server: Server) -> None:
    answer = exchange(server, head("/health", server.host, [("X-Big", "b" * 8 * KIB)]))
    assert answer.status == 200, answer
    server.assert_healthy()


@pytest.mark.parametrize("size", [64 * KIB, MIB], ids=["64KiB", "1MiB"])
def test_one_header_far_past_the_limit_is_431(server: Server, size: int) -> None:
    assert_refused_or_cut(exchange(server, head("/health", server.host, [("X-Big", "b" * size)])), 431)
    server.assert_healthy()


def test_a_thousand_small_headers_are_served(server: Server) -> None:
    headers = [(f"X-Header-{n}", "v") for n in range(1000)]  # about 16 KiB
    answer = exchange(server, head("/health", server.host, headers))
    assert answer.seconds < ANSWER_WITHIN
    assert answer.status == 200, answer
    server.assert_healthy()


def test_ten_thousand_small_headers_are_431(server: Server) -> None:
    headers = [(f"X-Header-{n}", "v") for n in range(10_000)]  # about 170 KiB
    assert_refused_or_cut(exchange(server, head("/health", server.host, headers)), 431)
    server.assert_healthy()


@pytest.mark.parametrize("part", ["url", "header"])
def test_an_endless_head_is_cut_off_without_the_server_holding_it(server: Server, part: str) -> None:
    # Without the limits the server took all of it: RSS grew with every megabyte, a core was busy
    # copying, and /health slowed to seconds.
    opening = b"GET /" if part == "url" else f"GET /health HTTP/1.1\r\nHost: {server.host}\r\nX-Big: ".encode()
    rss_before = server.process.memory_info().rss
    sent = 0
    with socket.create_connection(server.address, timeout=ANSWER_WITHIN) as connection:
        started = time.monotonic()
        try:
            connection.sendall(opening)
            while sent < 64 * MIB:
                connection.sendall(b"x" * MIB)
                sent += MIB
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = receive(connection, started)
    assert sent < 64 * MIB  # the server closed the connection long before
    assert_refused_or_cut(answer, 414 if part == "url" else 431)
    assert server.process.memory_info().rss - rss_before < 32 * MIB
    server.assert_healthy()


# --- a connection that carries several requests ----------------------------------------------------


def test_a_body_larger_than_any_head_is_no_head_and_each_request_has_its_own_limit(server: Server) -> None:
    # JSON padded with spaces: a valid 60 KB body, longer than a head may be, sent with its head at once.
    body = b'{"title": "a body of 60 KB"' + b" " * (60 * KIB) + b"}"
    post = head(
        "/api/alice/tasks",
        server.host,
        [
            ("Authorization", ALICE["Authorization"]),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
        ],
        method="POST",
    )
    with socket.create_connection(server.address, timeout=ANSWER_WITHIN) as connection:
        started = time.monotonic()
        connection.sendall(post + body)
        created = receive(connection, started)
        assert created.status == 201, created
        for size, status in [(MAX_HEADER_BYTES, 200), (MAX_HEADER_BYTES, 200), (MAX_HEADER_BYTES + 1, 431)]:
            started = time.monotonic()
            connection.sendall(head("/health", server.host, header_block(server.host, size)))
            answer = receive(connection, started)
            assert answer.status == status, (size, answer)
        assert _closed(connection)
    task = json.loads(created.body)
    assert httpx.delete(f"{server.base}/api/alice/tasks/{task['id']}", headers=ALICE).status_code == 204
    server.assert_healthy()


def test_a_malformed_request_is_still_uvicorns_400(server: Server) -> None:
    answer = exchange(server, f"GET /health HTTP/1.1\r\nHost: {server.host}\r\nNo colon here\r\n\r\n".encode())
    assert answer.status == 400, answer
    assert answer.headers["content-type"].startswith("text/plain")
    server.assert_healthy()


# --- what of uvicorn the limits rely on, pinned in-process ----------------------------------------


def test_serve_runs_the_limited_protocol(settings: Settings) -> None:
    assert server_options(settings)["http"] is LimitedHttpToolsProtocol


@pytest.mark.parametrize(
    ("callback", "parameters"),
    [
        ("data_received", ["self", "data"]),
        ("on_url", ["self", "url"]),
        ("on_headers_complete", ["self"]),
        ("on_message_complete", ["self"]),
        ("send_400_response", ["self", "msg"]),
    ],
)
def test_uvicorn_keeps_the_callbacks_the_limits_override(callback: str, parameters: list[str]) -> None:
    assert list(inspect.signature(getattr(HttpToolsProtocol, callback)).parameters) == parameters
    assert getattr(LimitedHttpToolsProtocol, callback) is not getattr(HttpToolsProtocol, callback)


def test_uvicorn_has_a_status_line_for_each_refusal() -> None:
    assert STATUS_LINE[414].startswith(b"HTTP/1.1 414 ")
    assert STATUS_LINE[431].startswith(b"HTTP/1.1 431 ")


class Transport(asyncio.Transport):
    """What a protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def never_called(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("a refused request reached the app")


def connected(protocol_class: type[HttpToolsProtocol]) -> tuple[HttpToolsProtocol, Transport]:
    config = Config(app=never_called, log_config=None)  # uvicorn's default would reconfigure logging
    protocol = protocol_class(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def test_uvicorn_answers_a_parser_error_through_send_400_response() -> None:
    # The limits stop httptools by raising in a callback and answer from send_400_response.
    reported: list[str] = []

    class Reporting(HttpToolsProtocol):
        def send_400_response(self, msg: str) -> None:
            reported.append(msg)
            super().send_400_response(msg)

    protocol, transport = connected(Reporting)
    protocol.data_received(b"GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n")
    assert reported == ["Invalid HTTP request received."]
    assert transport.written.startswith(STATUS_LINE[400])
    assert transport.closed


async def test_the_limited_protocol_refuses_in_process() -> None:
    protocol, transport = connected(LimitedHttpToolsProtocol)
    protocol.data_received(b"GET /" + b"u" * MAX_URL_BYTES + b" HTTP/1.1\r\n")
    assert transport.written.startswith(STATUS_LINE[414])
    assert transport.closed

    protocol, transport = connected(LimitedHttpToolsProtocol)
    protocol.data_received(b"GET / HTTP/1.1\r\nX-Pad: " + b"p" * MAX_HEADER_BYTES + b"\r\n\r\n")
    assert transport.written.startswith(STATUS_LINE[431])
    assert transport.closed
