"""Benchmark the service with wrk against two reference points, all in one run on one machine.

    make bench                       # or: python -m bench.run
    BENCH_DURATION=20 BENCH_CONNECTIONS=64 make bench

Three servers (one uvicorn worker each, uvloop, httptools) share one embedded PostgreSQL
seeded with USERS users of TASKS tasks each: a no-op route, a bare handler running the list
SQL, and the service. wrk (two threads) loads one at a time; the targets alternate over
BENCH_ROUNDS rounds and each row reports medians, so a noisy neighbour skews all alike.
Results are printed as a Markdown table and written to .bench/latest.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, cast
from urllib.parse import urlencode

import asyncpg
import httpx
import msgspec
import psutil

from service.config import Settings, load_settings
from service.db import embedded, migrations
from service.db.urls import asyncpg_dsn
from service.http.auth import issue_token
from service.tasks import listing
from service.tasks.schemas import Task
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".bench"
USERS = 200
TASKS = 20
DURATION = int(os.environ.get("BENCH_DURATION", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = 2
# BENCH_ONLY="list 20,get one" runs those service scenarios only (the references always run).
ONLY = [name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()]

# What wrk runs: a table of ready-made requests, one picked at random per call, and a
# JSON summary at the end. Requests are formatted once per thread, not per call.
LUA = """
local specs = %(specs)s
local reqs = {}
function init(args)
  for i, s in ipairs(specs) do
    for n = 1, s.weight do
      reqs[#reqs + 1] = wrk.format(s.method, s.path, s.headers, s.body)
    end
  end
end
function request()
  return reqs[math.random(#reqs)]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "errors": %%d, "status_errors": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None = None
    weight: int = 1


@dataclass
class Result:
    target: str
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu: float
    wrk_cpu: float
    cpu_us_per_request: float


def lua_value(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{json.dumps(k)}] = {lua_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(lua_value(v) for v in value) + "}"
    return json.dumps(value)


FILTERED = {"completed": "false", "tag": "work", "sort": "-due_at", "limit": "5"}


async def seed(database_url: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """USERS users with TASKS tasks each; returns their task ids, and for each user the cursor
    of the first page of the FILTERED list."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute("TRUNCATE tasks")
        await connection.execute(
            """
            INSERT INTO tasks (user_id, title, description, priority, tags, due_at)
            SELECT 'bench-' || u, 'task ' || t, CASE WHEN t % 2 = 0 THEN 'some words about it' END,
                   (ARRAY['low', 'medium', 'high']::task_priority[])[1 + t % 3],
                   CASE WHEN t % 2 = 0 THEN ARRAY['work'] ELSE ARRAY['home', 'errands'] END,
                   CASE WHEN t % 4 <> 0 THEN now() + t * interval '1 hour' END
            FROM generate_series(1, $1) AS u, generate_series(1, $2) AS t
            """,
            USERS,
            TASKS,
        )
        await connection.execute("VACUUM ANALYZE tasks")
        rows = await connection.fetch("SELECT user_id, id::text FROM tasks")
        ends = await connection.fetch(
            """
            SELECT DISTINCT ON (user_id) user_id, due_at, id
            FROM (SELECT user_id, due_at, id, row_number() OVER (
                      PARTITION BY user_id ORDER BY coalesce(due_at, 'infinity') DESC, id DESC) AS n
                  FROM tasks WHERE NOT completed AND tags @> '{work}') AS page
            WHERE n = 5
            """
        )
    finally:
        await connection.close()
    ids: dict[str, list[str]] = {}
    for row in rows:
        ids.setdefault(row["user_id"], []).append(row["id"])
    sort: listing.Sort = "-due_at"
    cursors = {
        row["user_id"]: listing.encode_cursor(sort, cast(Task, SimpleNamespace(due_at=row["due_at"], id=row["id"])))
        for row in ends
    }
    return ids, cursors


def scenarios(ids: dict[str, list[str]], cursors: dict[str, str], secret: str) -> dict[str, list[Request]]:
    settings = msgspec.structs.replace(load_settings(environ={}, env_file=os.devnull), better_auth_secret=secret)
    json_headers = {"Content-Type": "application/json"}

    def auth(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(settings, user, ttl_seconds=3600)}"}

    users = sorted(ids)
    tokens = {user: auth(user) for user in users}
    creators = {f"bench-new-{n}": auth(f"bench-new-{n}") for n in range(USERS)}
    lists = [Request("GET", f"/api/{u}/tasks", tokens[u]) for u in users]
    # The second page of a filtered list sorted by due date.
    filtered = [
        Request("GET", f"/api/{u}/tasks?{urlencode({**FILTERED, 'cursor': cursors[u]})}", tokens[u]) for u in users
    ]
    gets = [Request("GET", f"/api/{u}/tasks/{ids[u][n % TASKS]}", tokens[u]) for n, u in enumerate(users)]
    toggles = [
        Request("PATCH", f"/api/{u}/tasks/{ids[u][-1 - n % TASKS]}/complete", tokens[u]) for n, u in enumerate(users)
    ]
    creates = [
        Request("POST", f"/api/{u}/tasks", {**h, **json_headers}, '{"title": "bench task", "description": null}')
        for u, h in creators.items()
    ]

    def weighted(requests: list[Request], weight: int) -> list[Request]:
        return [Request(r.method, r.path, r.headers, r.body, weight) for r in requests]

    return {
        "list 20": lists,
        "list filtered": filtered,
        "get one": gets,
        "create": creates,
        "toggle": toggles,
        "mixed": weighted(lists, 14) + weighted(gets, 3) + weighted(toggles, 2) + weighted(creates, 1),
    }


def wrk(base: str, requests: list[Request], seconds: int) -> dict[str, int]:
    """Run wrk and return its summary."""
    specs = [
        {"method": r.method, "path": r.path, "headers": r.headers, "body": r.body, "weight": r.weight} for r in requests
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:  # wrk wants a path
        script.write(LUA % {"specs": lua_value(specs)})
    try:
        command = [
            "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            script.name,
            base,
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    finally:
        os.unlink(script.name)
    line = next((line for line in output.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed:\n{output}")
    summary: dict[str, int] = json.loads(line[len("BENCH ") :])
    return summary


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


@contextmanager
def server(command: list[str], env: dict[str, str], ready_path: str) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    # Logs go to a file: a pipe nobody reads would fill up and stall the server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env={**env, "PORT": str(port)}, cwd=ROOT, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base + ready_path, process, log)
            yield base, psutil.Process(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            log.seek(0)
            raise RuntimeError(f"{process.args!r} did not start: {log.read().decode()[-2000:]}")
        time.sleep(0.2)


def measure(target: str, name: str, base: str, proc: psutil.Process, requests: list[Request]) -> Result:
    cpu_before, wrk_before, started = proc.cpu_times(), children_cpu(), time.monotonic()
    summary = wrk(base, requests, DURATION)
    wall = time.monotonic() - started
    cpu_after, wrk_after = proc.cpu_times(), children_cpu()
    server_seconds = cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system
    server_cpu = server_seconds / wall
    result = Result(
        target=target,
        scenario=name,
        rps=summary["requests"] / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        errors=summary["errors"] + summary["status_errors"],
        server_cpu=server_cpu,
        wrk_cpu=(wrk_after - wrk_before) / wall,
        cpu_us_per_request=server_seconds / summary["requests"] * 1e6,
    )
    print(
        f"  {target:8} {name:8} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
        f"  errors {result.errors}  cpu server {result.server_cpu:.0%} wrk {result.wrk_cpu:.0%}"
        f"  {result.cpu_us_per_request:.0f} us cpu/req",
        flush=True,
    )
    return result


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {sys.version.split()[0]}, {sys.platform}"


def report(results: list[Result], rss_mb: float) -> str:
    by = {(r.target, r.scenario): r for r in results}
    bare = by[("bare", "list 20")]
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; "
        f"wrk -t{THREADS} -c{CONNECTIONS}; medians of {ROUNDS} rounds of {DURATION} s per row, targets "
        f"alternating, after {WARMUP} s of warm-up each; "
        f"{USERS} users with {TASKS} tasks each.",
        "",
        "| target | scenario | requests/s | p50 ms | p99 ms | p99/p50 | errors "
        "| server CPU | µs CPU/request | wrk CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.target} | {r.scenario} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.p99_ms / r.p50_ms:.1f} | {r.errors} | {r.server_cpu:.0%} | {r.cpu_us_per_request:.0f} | "
            f"{r.wrk_cpu:.0%} |"
        )
    service_list = by[("service", "list 20")]
    lines += [
        "",
        f"- Authenticated list as a fraction of the bare handler: **{service_list.rps / bare.rps:.0%}** "
        f"({service_list.rps:,.0f} / {bare.rps:,.0f} requests/s); by server CPU per request: "
        f"**{bare.cpu_us_per_request / service_list.cpu_us_per_request:.0%}**.",
        f"- Service worker RSS after the run: **{rss_mb:.0f} MB**.",
    ]
    quiet = by.get(("service, no access log", "list 20"))
    if quiet is not None:
        lines.insert(
            -1,
            f"- The access log costs {service_list.cpu_us_per_request - quiet.cpu_us_per_request:.0f} µs of CPU "
            f"per request ({quiet.rps:,.0f} requests/s without it, {service_list.rps / quiet.rps:.0%} with it).",
        )
    return "\n".join(lines) + "\n"


def median_result(rounds: list[Result]) -> Result:
    def mid(values: list[float]) -> float:
        return statistics.median(values)

    first = rounds[0]
    return Result(
        target=first.target,
        scenario=first.scenario,
        rps=mid([r.rps for r in rounds]),
        p50_ms=mid([r.p50_ms for r in rounds]),
        p99_ms=mid([r.p99_ms for r in rounds]),
        errors=sum(r.errors for r in rounds),
        server_cpu=mid([r.server_cpu for r in rounds]),
        wrk_cpu=mid([r.wrk_cpu for r in rounds]),
        cpu_us_per_request=mid([r.cpu_us_per_request for r in rounds]),
    )


def service_env(database_url: str, secret: str) -> dict[str, str]:
    """What the servers see: this environment's service settings (ACCESS_LOG=false, DB_...), our database."""
    known = {field.encode_name for field in msgspec.structs.fields(Settings)}
    return {
        # Each bench user sends ~10 requests a second: limit far above that, so the limiter's
        # cost is measured but it never refuses.
        "RATE_LIMIT_PER_MINUTE": "1000000",
        **{k: v for k, v in os.environ.items() if k in known or k in {"PATH", "HOME", "LANG"}},
        "DATABASE_URL": database_url,
        "BETTER_AUTH_SECRET": secret,
        "WORKERS": "1",
    }


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (Debian/Ubuntu: sudo apt-get install wrk)", file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    with embedded.temporary() as database_url, ExitStack() as servers:
        migrations.apply(database_url)
        ids, cursors = asyncio.run(seed(database_url))
        secret = secrets.token_urlsafe(48)
        env = service_env(database_url, secret)
        python = sys.executable
        # All three stay up (an idle server costs nothing) so rounds can alternate between them.
        noop = servers.enter_context(server([python, "-c", _UVICORN, "bench.reference:noop_app"], env, "/noop"))
        bare = servers.enter_context(
            server([python, "-c", _UVICORN, "bench.reference:bare_app"], env, "/bare/bench-1/tasks")
        )
        service = servers.enter_context(server([python, "-m", "service", "serve"], env, "/health/ready"))
        quiet = servers.enter_context(
            server([python, "-m", "service", "serve"], {**env, "ACCESS_LOG": "false"}, "/health/ready")
        )
        everything = scenarios(ids, cursors, secret)
        plan = [
            ("noop", "noop", noop, [Request("GET", "/noop", {})]),
            ("bare", "list 20", bare, [Request("GET", f"/bare/{u}/tasks", {}) for u in sorted(ids)]),
            ("service, no access log", "list 20", quiet, everything["list 20"]),
            *(("service", name, service, requests) for name, requests in everything.items()),
        ]
        plan = [row for row in plan if not ONLY or not row[0].startswith("service") or row[1] in ONLY]
        for _target, _name, (base, _proc), requests in plan:
            wrk(base, requests, WARMUP)
        rounds: dict[tuple[str, str], list[Result]] = {}
        order = random.Random(ROUNDS)  # a new order each round (no row always follows another), repeatable
        for number in range(1, ROUNDS + 1):
            print(f"round {number} of {ROUNDS}", flush=True)
            for target, name, (base, proc), requests in order.sample(plan, len(plan)):
                rounds.setdefault((target, name), []).append(measure(target, name, base, proc, requests))
        rss_mb = service[1].memory_info().rss / 2**20
    results = [median_result(rounds[(target, name)]) for target, name, _server, _requests in plan]
    text = report(results, rss_mb)
    (OUT / "latest.md").write_text(text)
    print("\n" + text)
    return 0


# The reference apps run under uvicorn exactly as `task-api serve` runs the service.
_UVICORN = (
    "import os, sys, uvicorn; uvicorn.run(sys.argv[1], factory=True, host='127.0.0.1', port=int(os.environ['PORT']),"
    " loop='uvloop', http='httptools', access_log=False, log_level='warning', server_header=False)"
)

if __name__ == "__main__":
    sys.exit(main())
