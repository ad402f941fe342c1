"""Live events (issue 15, "Speed and memory"): what open streams cost, and how fast a change arrives.

    make bench-events            # or: python -m bench.events; about 5 minutes

One embedded PostgreSQL, seeded with USERS users of TASKS tasks each, and real service processes
(``python -m service serve``, WORKERS=1, PostgreSQL with synchronous_commit=off as in bench.run).
Four measurements, each against a target printed PASS or FAIL:

1. memory per stream: a fresh server, warmed up by ordinary requests (its pool full) and a few
   streams opened and closed; its RSS with 0 streams, then with STREAMS idle streams over
   STREAM_USERS users (RATE_LIMIT_PER_MINUTE=0): RSS growth / streams, target <= 20 KiB. The
   growth from STREAMS/2 to STREAMS streams is printed too, free of any one-time cost;
2. commit to event across instances: two servers on the database, a stream per user held on B,
   WRITES toggles sent one at a time (a pause of 5-25 ms between) to A; from sending a write to
   the arrival of the ``changed`` event of its revision on B's stream, an upper bound on
   commit -> event, p50 and p99, target p99 <= 50 ms. The write's own response time is printed
   beside it (the commit happens before A answers);
3. the CPU a write pays for its NOTIFY: toggles with wrk against one server whose own LISTEN
   connection is up, with the announce triggers of task_counts enabled and then disabled, ROUNDS
   rounds of each interleaved (ABAB...), at CONNECTIONS connections (the server saturated, as in
   bench.run's toggle row) and at 2 (far from it); CPU per request of the server and of
   PostgreSQL (all of its processes); medians; target at each: enabled / disabled of the total
   <= 1.10. Every notifying commit takes one lock of the whole cluster (PostgreSQL serialises
   NOTIFY's queue), so the two differ where commits contend;
4. idle streams against ordinary requests: a mix of "get one" and "list 20" with wrk against one
   server, with 0 and with IDLE_STREAMS idle open streams, ROUNDS rounds of each interleaved. A
   round with streams starts its load so that the streams' keep-alive comments (every 15 s) fall
   inside it. Medians; target (within the noise): with / without <= 1.10 for the p50 latency and
   for the time per request (1 / throughput); p99 and CPU per request are printed, not judged.

The streams are opened by this process itself, each a raw socket sending a minimal HTTP/1.1 GET
with a token and reading up to the ``ready`` event (then draining, as a client would). The soft
limit on open files is raised for this process and the servers it starts.

Settings (environment): BENCH_EVENTS_STREAMS (2000), BENCH_EVENTS_STREAM_USERS (1000),
BENCH_EVENTS_IDLE_STREAMS (1000), BENCH_EVENTS_WRITES (500), BENCH_EVENTS_ROUNDS (5),
BENCH_EVENTS_DURATION (5, seconds of wrk per round), BENCH_EVENTS_CONNECTIONS (16, wrk's),
BENCH_EVENTS_ONLY (some of: memory, latency, notify, idle; comma-separated). The report is
printed as Markdown and written to .bench/events.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import secrets
import shutil
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
import psutil
import psycopg

from bench import servers, wrk
from bench.run import machine, service_env, settle
from bench.wrk import Request
from service.config import load_settings
from service.db import embedded, migrations
from service.http.auth import issue_token

OUT = servers.ROOT / ".bench"
USERS, TASKS = 200, 20
STREAMS = int(os.environ.get("BENCH_EVENTS_STREAMS", "2000"))
STREAM_USERS = int(os.environ.get("BENCH_EVENTS_STREAM_USERS", "1000"))
IDLE_STREAMS = int(os.environ.get("BENCH_EVENTS_IDLE_STREAMS", "1000"))
WRITES = int(os.environ.get("BENCH_EVENTS_WRITES", "500"))
ROUNDS = int(os.environ.get("BENCH_EVENTS_ROUNDS", "5"))
DURATION = int(os.environ.get("BENCH_EVENTS_DURATION", "5"))
CONNECTIONS = int(os.environ.get("BENCH_EVENTS_CONNECTIONS", "16"))
FEW_CONNECTIONS = wrk.THREADS  # the fewest wrk takes: the server far from saturated
PARTS = ("memory", "latency", "notify", "idle")
ONLY = [p.strip() for p in os.environ.get("BENCH_EVENTS_ONLY", "").split(",") if p.strip()] or list(PARTS)

MEMORY_TARGET_KIB = 20.0
LATENCY_TARGET_MS = 50.0
NOTIFY_TARGET = 1.10
IDLE_TARGET = 1.10
KEEPALIVE_SECONDS = 15.0  # the service's EVENTS_KEEPALIVE_SECONDS, left at its default
OPENING = 64  # streams being opened at once
LATENCY_USERS = 10  # users with a stream on B, written to in turn
WARM_WRITES = 20  # writes of the latency run not counted
TRIGGERS = ("task_counts_announce_inserted", "task_counts_announce_updated")
SETTLE_SECONDS = 1.0


# --- a raw HTTP/1.1 client: one connection, one request at a time, and server-sent events -------


class Http:
    """One HTTP/1.1 connection, kept alive, spoken raw: cheap enough to hold thousands."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host

    @classmethod
    async def connect(cls, base: str) -> Http:
        parts = urlsplit(base)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer, parts.netloc)

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", *(f"{k}: {v}" for k, v in headers.items())]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    async def head(self) -> tuple[int, dict[str, str]]:
        raw = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *header_lines = raw.split("\r\n")
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        return int(status_line.split(" ", 2)[1]), headers

    async def chunks(self) -> AsyncIterator[bytes]:
        """A chunked body, chunk by chunk, until its last (no trailers expected)."""
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)  # and the CRLF after it
            if size == 0:
                return
            yield data[:-2]

    async def body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return b"".join([chunk async for chunk in self.chunks()])
        return await self.reader.readexactly(int(headers.get("content-length", "0")))

    async def request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        self.send(method, path, headers)
        status, response_headers = await self.head()
        return status, await self.body(response_headers)

    def close(self) -> None:
        self.writer.close()


@dataclass
class Event:
    name: str
    id: str | None
    data: str | None
    at: float  # time.perf_counter() when the chunk holding its end arrived


async def parse_events(http: Http) -> AsyncIterator[Event]:
    """The events of a text/event-stream body (comments skipped), as the HTML standard reads them."""
    rest, name, event_id, data = b"", "", None, None
    async for chunk in http.chunks():
        now = time.perf_counter()
        *lines, rest = (rest + chunk).split(b"\n")
        for raw in lines:
            line = raw.removesuffix(b"\r").decode()
            if not line:
                if name or data is not None:
                    yield Event(name or "message", event_id, data, now)
                name, event_id, data = "", None, None
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if key == "event":
                    name = value
                elif key == "id":
                    event_id = value
                elif key == "data":
                    data = value if data is None else f"{data}\n{value}"


class EventStream:
    """An open GET /api/{user}/events, read in a task of its own: the arrival of each ``changed``."""

    def __init__(self, http: Http, events: AsyncIterator[Event], ready: Event) -> None:
        self.http = http
        self.ready = ready
        self.changed: dict[int, float] = {}  # revision: when its event arrived
        self.arrived = asyncio.Event()
        self._events = events
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base: str, user_id: str, token: str) -> EventStream:
        http = await Http.connect(base)
        try:
            async with asyncio.timeout(30):
                http.send("GET", f"/api/{user_id}/events", {"Authorization": f"Bearer {token}"})
                status, headers = await http.head()
                if status != 200:
                    raise RuntimeError(f"GET /api/{user_id}/events: {status} {(await http.body(headers))[:300]!r}")
                events = parse_events(http)
                ready = await anext(events)
                if ready.name != "ready":
                    raise RuntimeError(f"the first event of a stream was {ready}")
        except BaseException:
            http.close()
            raise
        return cls(http, events, ready)

    async def _read(self) -> None:
        try:
            async for event in self._events:
                if event.name == "changed" and event.id is not None:
                    self.changed[int(event.id)] = event.at
                    self.arrived.set()
        except (OSError, asyncio.IncompleteReadError):
            pass

    async def arrival(self, revision: int, within: float) -> float | None:
        """When the ``changed`` event of ``revision`` (or a later one) arrived; None if not ``within`` s."""
        deadline = time.monotonic() + within
        while True:
            found = [at for seen, at in self.changed.items() if seen >= revision]
            if found:
                return min(found)
            self.arrived.clear()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self.arrived.wait()
            except TimeoutError:
                return None

    async def close(self) -> None:
        self._reader.cancel()
        self.http.close()
        with suppress(asyncio.CancelledError):
            await self._reader


async def open_streams(base: str, users: list[str], token: Callable[[str], str]) -> list[EventStream]:
    """One stream per entry of ``users`` (a user may come more than once), OPENING at a time."""
    gate = asyncio.Semaphore(OPENING)

    async def one(user_id: str) -> EventStream:
        async with gate:
            return await EventStream.open(base, user_id, token(user_id))

    opened = await asyncio.gather(*(one(u) for u in users), return_exceptions=True)
    streams = [s for s in opened if isinstance(s, EventStream)]
    failed = [e for e in opened if not isinstance(e, EventStream)]
    if failed:
        await asyncio.gather(*(s.close() for s in streams))
        raise RuntimeError(f"{len(failed)} of {len(users)} streams did not open; the first: {failed[0]!r}")
    return streams


# --- the database, the servers, what they cost ------------------------------------------------


@dataclass
class Setup:
    database_url: str
    db: psycopg.Connection[Any]
    postgres: servers.Postgres
    secret: str
    ids: dict[str, list[str]]  # the seeded users' task ids
    tokens: dict[str, str] = field(default_factory=dict)  # user: token, issued on first use

    def token(self, user_id: str) -> str:
        """An HS256 token for ``user_id``, valid for longer than any run (a stream ends when its token expires)."""
        if user_id not in self.tokens:
            settings = load_settings(environ={"BETTER_AUTH_SECRET": self.secret}, env_file=os.devnull)
            self.tokens[user_id] = issue_token(settings, user_id, ttl_seconds=6 * 3600)
        return self.tokens[user_id]

    def auth(self, user_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id)}"}

    def env(self, **overrides: str) -> dict[str, str]:
        return {**service_env(self.database_url, self.secret), "EVENTS_ENABLED": "true", **overrides}


def seed(db: psycopg.Connection[Any]) -> dict[str, list[str]]:
    db.execute("ALTER SYSTEM SET synchronous_commit = off")  # as bench.run does by default
    db.execute("SELECT pg_reload_conf()")
    db.execute(
        """
        INSERT INTO tasks (user_id, title, description, priority, tags, due_at)
        SELECT 'bench-' || u, 'task ' || t, CASE WHEN t %% 2 = 0 THEN 'some words about it' END,
               (ARRAY['low', 'medium', 'high']::task_priority[])[1 + t %% 3],
               CASE WHEN t %% 2 = 0 THEN ARRAY['work'] ELSE ARRAY['home', 'errands'] END,
               CASE WHEN t %% 4 <> 0 THEN now() + t * interval '1 hour' END
        FROM generate_series(1, %s) AS u, generate_series(1, %s) AS t
        """,
        (USERS, TASKS),
    )
    db.execute("VACUUM ANALYZE tasks")
    ids: dict[str, list[str]] = {}
    for user_id, task_id in db.execute("SELECT user_id, id::text FROM tasks ORDER BY user_id, id").fetchall():
        ids.setdefault(user_id, []).append(task_id)
    return ids


def raise_open_files(needed: int) -> str:
    """Raise this process's soft limit on open files (the servers it starts inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SystemExit(f"bench: {needed} open files are needed, the hard limit is {hard} (ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return f"open files: soft limit {soft}, now {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}, hard {hard}"


def rss(server: servers.Server) -> int:
    rss_bytes: int = server.processes[0].memory_info().rss
    return rss_bytes


def connected(server: servers.Server) -> int:
    """The server's established TCP connections: its clients (and none to PostgreSQL: a Unix socket)."""
    process = server.processes[0]
    return sum(1 for c in process.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED)


async def until_connected(server: servers.Server, at_most: int, within: float = 30) -> None:
    """Wait until the server has dropped the connections of closed streams."""
    deadline = time.monotonic() + within
    while connected(server) > at_most and time.monotonic() < deadline:  # noqa: ASYNC110 (another process's sockets)
        await asyncio.sleep(0.1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "**FAIL**"


@dataclass
class Check:
    name: str
    measured: str
    target: str
    ok: bool


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)

    def add(self, title: str, lines: list[str]) -> None:
        self.sections += ["", f"### {title}", "", *lines]
        print("\n".join(["", f"### {title}", "", *lines]), flush=True)


@contextmanager
def serving(env: dict[str, str]) -> Iterator[servers.Server]:
    with servers.started("uvicorn", servers.SERVICE, env, "/health/ready") as server:
        yield server


def load(
    server: servers.Server, setup: Setup, requests: list[Request], seconds: int, connections: int = CONNECTIONS
) -> dict[str, float]:
    """wrk on ``server`` for ``seconds``, with the CPU seconds of the server and of PostgreSQL around it."""
    server_before, db_before = server.cpu_seconds(), setup.postgres.cpu_seconds()
    summary: dict[str, float] = {**wrk.run(server.base, requests, seconds, connections)}
    summary["server_cpu_s"] = server.cpu_seconds() - server_before
    summary["db_cpu_s"] = setup.postgres.cpu_seconds() - db_before
    summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6)
    return summary


def describe(summary: dict[str, float]) -> str:
    requests = summary["requests"]
    server_us, db_us = summary["server_cpu_s"] / requests * 1e6, summary["db_cpu_s"] / requests * 1e6
    return (
        f"{summary['rps']:7.0f} req/s  p50 {summary['p50_us'] / 1000:6.2f} ms  p99 {summary['p99_us'] / 1000:6.2f} ms"
        f"  errors {int(summary['errors'] + summary['status_errors'])}"
        f"  {server_us:.0f} us cpu/req + postgres {db_us:.0f}"
    )


# --- 1. memory per stream ----------------------------------------------------------------------


def memory(setup: Setup, report: Report) -> None:
    users = [f"ev-{n}" for n in range(1, STREAM_USERS + 1)]
    per_user = -(-STREAMS // STREAM_USERS)
    env = setup.env(RATE_LIMIT_PER_MINUTE="0", EVENTS_MAX_STREAMS_PER_USER=str(max(per_user, 10)))
    with serving(env) as server:
        started_rss = rss(server)
        # Warm up: ordinary requests at OPENING connections (the pool opens all its connections),
        # and a few streams opened and closed, so no one-time cost counts as the streams'.
        lists = [Request("GET", f"/api/{u}/tasks", setup.auth(u)) for u in setup.ids]
        wrk.run(server.base, lists, 2, OPENING)

        async def measure() -> tuple[int, int, int, int, int]:
            for _ in range(2):
                await asyncio.gather(*(s.close() for s in await open_streams(server.base, users[:8], setup.token)))
            await until_connected(server, 0)
            await asyncio.sleep(SETTLE_SECONDS)
            empty = rss(server)
            wanted = [users[n % len(users)] for n in range(STREAMS)]
            half = STREAMS // 2
            streams = await open_streams(server.base, wanted[:half], setup.token)
            await asyncio.sleep(SETTLE_SECONDS)
            at_half = rss(server)
            streams += await open_streams(server.base, wanted[half:], setup.token)
            await asyncio.sleep(SETTLE_SECONDS)
            full, held = rss(server), connected(server)
            await asyncio.gather(*(s.close() for s in streams))
            await until_connected(server, 0)
            await asyncio.sleep(SETTLE_SECONDS)
            return empty, at_half, full, held, rss(server)

        empty, at_half, full, held, after = asyncio.run(measure())
    per_stream = (full - empty) / STREAMS / 1024
    marginal = (full - at_half) / (STREAMS - STREAMS // 2) / 1024
    mib = 2**20
    report.checks.append(
        Check(
            f"memory per stream ({STREAMS} streams, one worker)",
            f"{per_stream:.1f} KiB",
            f"<= {MEMORY_TARGET_KIB:.0f} KiB",
            per_stream <= MEMORY_TARGET_KIB,
        )
    )
    report.add(
        "Memory per stream",
        [
            "| server RSS | MiB |",
            "|---|---:|",
            f"| just started | {started_rss / mib:.1f} |",
            f"| warmed up, 0 streams | {empty / mib:.1f} |",
            f"| {STREAMS // 2} streams | {at_half / mib:.1f} |",
            f"| {STREAMS} streams ({held} connections established) | {full / mib:.1f} |",
            f"| all closed again | {after / mib:.1f} |",
            "",
            f"Per stream: {per_stream:.1f} KiB from 0 to {STREAMS} streams, {marginal:.1f} KiB from "
            f"{STREAMS // 2} to {STREAMS}; {STREAMS} streams over {STREAM_USERS} users.",
        ],
    )


# --- 2. commit to event, across instances ------------------------------------------------------


def latency(setup: Setup, report: Report) -> None:
    users = list(setup.ids)[:LATENCY_USERS]
    with serving(setup.env()) as a, serving(setup.env()) as b:

        async def measure() -> tuple[list[float], list[float], int]:
            streams = {u: s for u, s in zip(users, await open_streams(b.base, users, setup.token), strict=True)}
            http = await Http.connect(a.base)
            answered, arrived, lost = [], [], 0
            try:
                for n in range(WARM_WRITES + WRITES):
                    user_id = users[n % len(users)]
                    task_id = setup.ids[user_id][n // len(users) % TASKS]
                    started = time.perf_counter()
                    status, body = await http.request(
                        "PATCH", f"/api/{user_id}/tasks/{task_id}/complete", setup.auth(user_id)
                    )
                    done = time.perf_counter()
                    if status != 200:
                        raise RuntimeError(f"toggle: {status} {body[:300]!r}")
                    revision: int = msgspec.json.decode(body)["revision"]
                    at = await streams[user_id].arrival(revision, within=5)
                    if n >= WARM_WRITES:
                        if at is None:
                            lost += 1
                        else:
                            answered.append((done - started) * 1000)
                            arrived.append((at - started) * 1000)
                    await asyncio.sleep(random.uniform(0.005, 0.025))
            finally:
                http.close()
                await asyncio.gather(*(s.close() for s in streams.values()))
            return answered, arrived, lost

        answered, arrived, lost = asyncio.run(measure())
    p99 = percentile(arrived, 99)
    report.checks.append(
        Check(
            "write on A -> its event on B, p99",
            f"{p99:.1f} ms",
            f"<= {LATENCY_TARGET_MS:.0f} ms",
            p99 <= LATENCY_TARGET_MS and lost == 0,
        )
    )
    behind = [e - r for e, r in zip(arrived, answered, strict=True)]
    report.add(
        "Commit to event, across instances",
        [
            "| from sending the toggle to A | p50 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|",
            f"| A's response | {percentile(answered, 50):.2f} | {percentile(answered, 99):.2f} | {max(answered):.2f} |",
            f"| the `changed` event on B's stream | {percentile(arrived, 50):.2f} | {p99:.2f} | {max(arrived):.2f} |",
            f"| the event, after the response | {percentile(behind, 50):.2f} | {percentile(behind, 99):.2f} "
            f"| {max(behind):.2f} |",
            "",
            f"{len(arrived)} toggles over {LATENCY_USERS} users, one at a time, after {WARM_WRITES} not counted; "
            f"events that never came (5 s): {lost}.",
        ],
    )


# --- 3. the CPU of NOTIFY ----------------------------------------------------------------------


def notify(setup: Setup, report: Report) -> None:
    toggles = [
        Request("PATCH", f"/api/{u}/tasks/{tasks[-1 - n % TASKS]}/complete", setup.auth(u))
        for n, (u, tasks) in enumerate(setup.ids.items())
    ]
    levels = (CONNECTIONS, FEW_CONNECTIONS)
    arms: dict[tuple[int, bool], list[dict[str, float]]] = {(c, e): [] for c in levels for e in (True, False)}

    def triggers(enabled: bool) -> None:
        settle(setup.db)
        action = "ENABLE" if enabled else "DISABLE"
        setup.db.execute(f"ALTER TABLE task_counts {', '.join(f'{action} TRIGGER {t}' for t in TRIGGERS)}")

    with serving(setup.env()) as server:
        try:
            load(server, setup, toggles, 2)  # warm-up, announced
            for number in range(1, ROUNDS + 1):
                for connections in levels:
                    for enabled in (True, False):
                        triggers(enabled)
                        settle(setup.db)
                        summary = load(server, setup, toggles, DURATION, connections)
                        arms[(connections, enabled)].append(summary)
                        state = "on " if enabled else "off"
                        print(f"  round {number} c{connections:<2} NOTIFY {state}  {describe(summary)}", flush=True)
        finally:
            triggers(True)

    def per_toggle(connections: int, enabled: bool, *keys: str) -> float:
        return statistics.median(sum(s[k] for k in keys) / s["requests"] * 1e6 for s in arms[(connections, enabled)])

    lines: list[str] = []
    for connections in levels:
        rows, ratio = [], 0.0
        for label, keys in (
            ("service", ("server_cpu_s",)),
            ("PostgreSQL", ("db_cpu_s",)),
            ("total", ("server_cpu_s", "db_cpu_s")),
        ):
            on, off = per_toggle(connections, True, *keys), per_toggle(connections, False, *keys)
            ratio = on / off  # the total's, last
            rows.append(f"| {label} | {on:.0f} | {off:.0f} | {on / off:.3f} |")
        rps = {e: statistics.median(s["rps"] for s in arms[(connections, e)]) for e in (True, False)}
        p50 = {e: statistics.median(s["p50_us"] / 1000 for s in arms[(connections, e)]) for e in (True, False)}
        errors = sum(int(s["errors"] + s["status_errors"]) for e in (True, False) for s in arms[(connections, e)])
        report.checks.append(
            Check(
                f"CPU per toggle at {connections} connections, NOTIFY on / off (service + PostgreSQL)",
                f"{ratio:.3f}",
                f"<= {NOTIFY_TARGET:.2f}",
                ratio <= NOTIFY_TARGET and errors == 0,
            )
        )
        by_round = [
            (on["server_cpu_s"] + on["db_cpu_s"])
            / on["requests"]
            / ((off["server_cpu_s"] + off["db_cpu_s"]) / off["requests"])
            for on, off in zip(arms[(connections, True)], arms[(connections, False)], strict=True)
        ]
        lines += [
            f"| CPU µs per toggle, wrk -c{connections} | NOTIFY on | NOTIFY off | on / off |",
            "|---|---:|---:|---:|",
            *rows,
            f"| toggles/s | {rps[True]:.0f} | {rps[False]:.0f} | {rps[True] / rps[False]:.3f} |",
            f"| p50 ms | {p50[True]:.2f} | {p50[False]:.2f} | {p50[True] / p50[False]:.3f} |",
            f"| errors | {errors} | | |",
            "",
            f"Total CPU on / off, round by round: {', '.join(f'{r:.2f}' for r in by_round)}.",
            "",
        ]
    report.add(
        "The CPU a write pays for its NOTIFY",
        [
            *lines,
            f"Medians of {ROUNDS} rounds of {DURATION} s each per row, on and off alternating, wrk -t{wrk.THREADS}. "
            f"Off: the triggers {' and '.join(TRIGGERS)} disabled; the server's LISTEN connection is up in both.",
        ],
    )


# --- 4. idle streams against ordinary requests -------------------------------------------------


def idle(setup: Setup, report: Report) -> None:
    users = [f"ev-{n}" for n in range(1, STREAM_USERS + 1)]
    wanted = [users[n % len(users)] for n in range(IDLE_STREAMS)]
    per_user = -(-IDLE_STREAMS // STREAM_USERS)
    mix = [
        *(
            Request("GET", f"/api/{u}/tasks/{tasks[n % TASKS]}", setup.auth(u))
            for n, (u, tasks) in enumerate(setup.ids.items())
        ),
        *(Request("GET", f"/api/{u}/tasks", setup.auth(u)) for u in setup.ids),
    ]
    arms: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    with serving(setup.env(EVENTS_MAX_STREAMS_PER_USER=str(max(per_user, 10)))) as server:

        async def rounds() -> None:
            await asyncio.to_thread(load, server, setup, mix, 2)  # warm-up
            for number in range(1, ROUNDS + 1):
                for with_streams in (False, True):
                    streams: list[EventStream] = []
                    if with_streams:
                        opened = time.monotonic()
                        streams = await open_streams(server.base, wanted, setup.token)
                        # Start so that the streams' first keep-alive comments fall inside the load.
                        start_at = max(opened + KEEPALIVE_SECONDS - DURATION / 2, time.monotonic() + SETTLE_SECONDS)
                        await asyncio.sleep(start_at - time.monotonic())
                    else:
                        await asyncio.sleep(SETTLE_SECONDS)
                    summary = await asyncio.to_thread(load, server, setup, mix, DURATION)
                    arms[with_streams].append(summary)
                    label = f"{len(streams)} streams"
                    print(f"  round {number} {label:>12}  {describe(summary)}", flush=True)
                    if streams:
                        await asyncio.gather(*(s.close() for s in streams))
                        await until_connected(server, 0)

        asyncio.run(rounds())

    def median(with_streams: bool, key: str) -> float:
        return statistics.median(s[key] for s in arms[with_streams])

    p50 = {e: median(e, "p50_us") / 1000 for e in arms}
    p99 = {e: median(e, "p99_us") / 1000 for e in arms}
    rps = {e: median(e, "rps") for e in arms}
    cpu = {e: statistics.median(s["server_cpu_s"] / s["requests"] * 1e6 for s in arms[e]) for e in arms}
    spread = {e: max(s["rps"] for s in arms[e]) / min(s["rps"] for s in arms[e]) for e in arms}
    slower, slower_p50 = rps[False] / rps[True], p50[True] / p50[False]
    errors = sum(int(s["errors"] + s["status_errors"]) for runs in arms.values() for s in runs)
    by_round = [w["p50_us"] / wo["p50_us"] for w, wo in zip(arms[True], arms[False], strict=True)]
    report.checks.append(
        Check(
            f"{IDLE_STREAMS} idle streams: p50 with / without",
            f"{slower_p50:.3f}",
            f"<= {IDLE_TARGET:.2f}",
            slower_p50 <= IDLE_TARGET and errors == 0,
        )
    )
    report.checks.append(
        Check(
            f"{IDLE_STREAMS} idle streams: time per request (1 / req/s) with / without",
            f"{slower:.3f}",
            f"<= {IDLE_TARGET:.2f}",
            slower <= IDLE_TARGET and errors == 0,
        )
    )
    n = IDLE_STREAMS
    report.add(
        "Idle streams against ordinary requests",
        [
            f"| get one + list 20 | 0 streams | {n} streams | with / without |",
            "|---|---:|---:|---:|",
            f"| requests/s | {rps[False]:.0f} | {rps[True]:.0f} | {rps[True] / rps[False]:.3f} |",
            f"| p50 ms | {p50[False]:.2f} | {p50[True]:.2f} | {p50[True] / p50[False]:.3f} |",
            f"| p99 ms | {p99[False]:.2f} | {p99[True]:.2f} | {p99[True] / p99[False]:.3f} |",
            f"| service CPU µs/request | {cpu[False]:.0f} | {cpu[True]:.0f} | {cpu[True] / cpu[False]:.3f} |",
            f"| spread of requests/s over rounds (max / min) | {spread[False]:.3f} | {spread[True]:.3f} | |",
            "",
            f"p50 with / without, round by round: {', '.join(f'{r:.2f}' for r in by_round)}.",
            "",
            f"Medians of {ROUNDS} rounds of {DURATION} s each, alternating, wrk -t{wrk.THREADS} -c{CONNECTIONS}; "
            f"errors: {errors}. Each round with streams opens {n} over {min(n, STREAM_USERS)} users, starts "
            f"its load {KEEPALIVE_SECONDS - DURATION / 2:.1f} s after it began opening them (so their first "
            "keep-alive comments fall within it), and closes them after.",
        ],
    )


# --- the run -----------------------------------------------------------------------------------

RUNS: dict[str, Callable[[Setup, Report], None]] = {
    "memory": memory,
    "latency": latency,
    "notify": notify,
    "idle": idle,
}


def main() -> int:
    unknown = [p for p in ONLY if p not in PARTS]
    if unknown:
        raise SystemExit(f"bench: BENCH_EVENTS_ONLY: no part named {unknown[0]!r} (known: {', '.join(PARTS)})")
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (Debian/Ubuntu: sudo apt-get install wrk)", file=sys.stderr)
        return 2
    limits = raise_open_files(max(STREAMS, IDLE_STREAMS) + 1024)
    OUT.mkdir(exist_ok=True)
    report = Report()
    with embedded.temporary() as database_url, ExitStack() as stack:
        migrations.apply(database_url)
        db = stack.enter_context(psycopg.connect(database_url, autocommit=True))
        setup = Setup(
            database_url, db, servers.Postgres.serving(db.info.backend_pid), secrets.token_urlsafe(48), seed(db)
        )
        for part in ONLY:
            print(f"{part}", flush=True)
            RUNS[part](setup, report)
    head = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; servers `python -m service serve` "
        f"with WORKERS=1; PostgreSQL synchronous_commit=off; {limits}.",
        "",
        "| target | measured | goal | |",
        "|---|---:|---:|---|",
        *(f"| {c.name} | {c.measured} | {c.target} | {verdict(c.ok)} |" for c in report.checks),
    ]
    text = "\n".join([*head, *report.sections]) + "\n"
    (OUT / "events.md").write_text(text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
