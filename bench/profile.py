"""Where the service's CPU per request goes beyond the bare handler's, by py-spy under wrk.

    .venv/bin/pip install py-spy                 # not a project dependency
    .venv/bin/python -m bench.profile            # about 4 minutes
    PROFILE_SECONDS=10 .venv/bin/python -m bench.profile "list 20,create"

For each scenario the service and its bare handler (uvicorn, one worker each, as in bench.run)
are loaded by wrk while py-spy samples the worker (its default mode, which pauses the process
for each sample: slower, but each sample is where the CPU really was). Each sample is charged
to the innermost frame that belongs to a part of the request path (OWNERS, by file), so a
Litestar helper called by the auth middleware counts as auth. A part's µs per request is its
share of the samples times the CPU per request measured over the same run; the table shows
both apps and the difference. Samples of the log-flushing thread asleep are left out.
"""

from __future__ import annotations

import collections
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg

from bench import run as bench_run
from bench import servers
from service.db import embedded, migrations

SECONDS = int(os.environ.get("PROFILE_SECONDS", "20"))
PY_SPY = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
RATE = 100  # samples a second
SCENARIOS = ("list 20", "get one", "create", "toggle")

# (file path prefix, part of the request path): the first that matches, leaf first, owns a sample.
OWNERS = (
    ("service/http/head_limits.py", "HTTP head limits (uvicorn protocol subclass)"),
    ("service/http/auth.py", "auth middleware"),
    ("litestar/middleware/authentication.py", "auth middleware"),
    ("service/http/rate_limit.py", "rate limiter"),
    ("service/http/query.py", "strict query check"),
    ("service/http/body.py", "strict body guard"),
    ("service/http/body_deadline.py", "body deadline wrapper"),
    ("service/observability/request_id.py", "request id wrapper"),
    ("service/observability/access.py", "access log + metrics wrapper"),
    ("prometheus_client/", "access log + metrics wrapper"),
    ("service/observability/logs.py", "logging (records, formatting)"),
    ("logging/", "logging (records, formatting)"),
    ("service/http/allow.py", "before_send hook"),
    ("service/http/conditional.py", "handler (controller, queries, ETag)"),
    ("service/tasks/", "handler (controller, queries, ETag)"),
    ("bench/reference.py", "handler (controller, queries, ETag)"),
    ("service/app.py", "dependency injection, parameters"),
    ("litestar/_kwargs/", "dependency injection, parameters"),
    ("litestar/_signature/", "dependency injection, parameters"),
    ("litestar/di.py", "dependency injection, parameters"),
    ("service/db/", "Database wrapper (acquire with timeout, release)"),
    ("asyncpg/", "asyncpg (protocol, socket writes)"),
    ("litestar/response/", "response (building, encoding)"),
    ("litestar/serialization/", "response (building, encoding)"),
    ("litestar/routes/", "route handling (guards, handler call)"),
    ("litestar/handlers/", "route handling (guards, handler call)"),
    ("litestar/_asgi/", "routing"),
    ("litestar/middleware/_internal/cors", "CORS middleware"),
    ("litestar/middleware/_internal/exceptions", "exception middleware"),
    ("litestar/middleware/base.py", "middleware plumbing (ASGIMiddleware)"),
    ("litestar/app.py", "Litestar entry"),
    ("uvicorn/middleware/proxy_headers", "uvicorn proxy headers"),
    ("uvicorn/", "uvicorn (HTTP parsing, socket writes)"),
    ("asyncio/", "event loop (tasks, timeouts, callbacks)"),
    ("<frozen", "event loop (tasks, timeouts, callbacks)"),
)
_FILE = re.compile(r"\(([^():]*):\d+\)$")


def owner(frames: list[str]) -> str:
    for frame in reversed(frames):
        match = _FILE.search(frame)
        path = match[1] if match else frame
        for prefix, name in OWNERS:
            if path.startswith(prefix) or f"/{prefix}" in path:
                return name
    return "other"


def shares(raw: Path) -> dict[str, float]:
    """Each part's share of the samples in py-spy's raw (collapsed) output."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if "threading.py" in frames[-1] and "wait" in frames[-1]:
            continue  # the log-flushing thread asleep between flushes
        counts[owner(frames)] += int(count)
    total = sum(counts.values()) or 1
    return {name: count / total for name, count in counts.items()}


def profile(row: bench_run.Row, bench: bench_run.Bench, out: Path) -> float:
    """Load ``row`` with wrk while py-spy records its worker; the CPU µs per request."""
    bench.load(row, 2)  # warm
    pid, seconds = str(row.server.processes[-1].pid), str(SECONDS + 1)
    spy = subprocess.Popen(
        [str(PY_SPY), "record", "-p", pid, "-d", seconds, "-r", str(RATE), "-f", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    before = row.server.cpu_seconds()
    summary = bench.load(row, SECONDS)
    cpu = row.server.cpu_seconds() - before
    spy.wait()
    return cpu / summary["requests"] * 1e6


def main() -> int:
    if PY_SPY is None or shutil.which("wrk") is None:
        print("profile: needs py-spy (.venv/bin/pip install py-spy) and wrk", file=sys.stderr)
        return 2
    wanted = sys.argv[1].split(",") if len(sys.argv) > 1 else list(SCENARIOS)
    with embedded.temporary() as database_url, ExitStack() as stack:
        migrations.apply(database_url)
        db = stack.enter_context(psycopg.connect(database_url, autocommit=True))
        ids, replaced, cursors = bench_run.seed(db)
        secret = secrets.token_urlsafe(48)
        env = bench_run.service_env(database_url, secret)
        everything = bench_run.scenarios(db, ids, replaced, cursors, secret)
        apps = {
            "service": stack.enter_context(servers.started("uvicorn", servers.SERVICE, env, "/health/ready")),
            "bare": stack.enter_context(
                servers.started("uvicorn", "bench.reference:bare_app", env, "/api/bench-1/tasks")
            ),
        }
        bench = bench_run.Bench(db)
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-profile-")))
        for scenario in wanted:
            us: dict[str, dict[str, float]] = {}
            totals: dict[str, float] = {}
            for name, server in apps.items():
                raw = directory / f"{name}-{scenario}.txt"
                totals[name] = profile(bench_run.Row(server, name, everything[scenario], 16), bench, raw)
                us[name] = {part: share * totals[name] for part, share in shares(raw).items()}
            parts = sorted(
                set(us["service"]) | set(us["bare"]), key=lambda p: us["bare"].get(p, 0) - us["service"].get(p, 0)
            )
            print(f"\n{scenario}: µs of CPU per request, service {totals['service']:.0f}, bare {totals['bare']:.0f}\n")
            print("| part of the request path | service | bare | difference |")
            print("|---|---:|---:|---:|")
            for part in parts:
                service_us, bare_us = us["service"].get(part, 0.0), us["bare"].get(part, 0.0)
                print(f"| {part} | {service_us:.0f} | {bare_us:.0f} | {service_us - bare_us:+.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
