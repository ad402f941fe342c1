"""What each server does with an oversized or slow request head or body, probed with raw sockets.

The service's rules under uvicorn: a URL over 8 KiB is a 414 and header lines over 32 KiB a 431
(its HTTP protocol subclass), and a body must arrive within 10 s, else 408 (an ASGI wrapper, so
any server gets it). The probes run at once, in threads, so the slowest sets the time they take.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

HEAD_WAIT = 35.0  # Granian's header read timeout is 30 s by default; uvicorn has none


@dataclass(frozen=True)
class Probe:
    name: str
    rule: str  # what the service promises under uvicorn
    request: Callable[[str], bytes]
    wait: float = 15.0


def _get(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n" + extra + b"\r\n"


PROBES = (
    Probe("URL of 9 KiB", "414", lambda token: _get("/" + "a" * 9 * 1024)),
    Probe("URL of 60 KiB", "414", lambda token: _get("/" + "a" * 60 * 1024)),
    Probe(
        "header lines of 40 KiB (5 of 8 KiB)",
        "431",
        lambda token: _get("/health", b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 8192) for i in range(5))),
    ),
    Probe(
        "header lines of 320 KiB (40 of 8 KiB)",
        "431",
        lambda token: _get("/health", b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 8192) for i in range(40))),
    ),
    Probe("one header of 1 MiB", "431", lambda token: _get("/health", b"X-Filler: " + b"a" * 2**20 + b"\r\n")),
    Probe(
        "101 small headers",
        "200 (any number within 32 KiB)",
        lambda token: _get("/health", b"".join(b"X-Filler-%d: a\r\n" % i for i in range(100))),
    ),
    Probe(
        "a body that stops after 4 of 100 bytes",
        "408 after 10 s",
        lambda token: (
            b"POST /api/bench-1/tasks HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer "
            + token.encode()
            + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ti'
        ),
    ),
    Probe(
        "a head that never ends",
        "none (waits)",
        lambda token: b"GET /health HTTP/1.1\r\nHost: bench\r\n",
        wait=HEAD_WAIT,
    ),
)


def answer(base: str, data: bytes, wait: float) -> str:
    """The status the server answered ``data`` with, and after how long when it took a second or more."""
    url = urlsplit(base)
    started = time.monotonic()
    received = b""
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=wait) as connection:
        try:
            connection.sendall(data)
            while b"\r\n" not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            return f"no answer in {wait:.0f} s"
        except OSError as exc:
            return f"connection error ({exc.strerror or exc})"
    elapsed = time.monotonic() - started
    after = f" after {elapsed:.0f} s" if elapsed >= 1 else ""
    if not received:
        return "closed, no answer" + after
    status = received.split(b"\r\n", 1)[0].split(b" ")
    return (status[1].decode() if len(status) > 1 else "?") + after


def probe(bases: dict[str, str], token: str) -> dict[tuple[str, str], str]:
    """For each server (name -> base URL) and probe name, what the server answered."""
    jobs = [(server, p) for server in bases for p in PROBES]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = pool.map(lambda job: answer(bases[job[0]], job[1].request(token), job[1].wait), jobs)
        return {(server, p.name): result for (server, p), result in zip(jobs, answers, strict=True)}


def table(bases: dict[str, str], answers: dict[tuple[str, str], str]) -> list[str]:
    servers = list(bases)
    lines = [
        "| request | the service's rule | " + " | ".join(servers) + " |",
        "|---|---|" + "---|" * len(servers),
    ]
    for p in PROBES:
        lines.append(f"| {p.name} | {p.rule} | " + " | ".join(answers[(s, p.name)] for s in servers) + " |")
    return lines
