"""``python -m loadtest.run`` (``make loadtest``): run the Locust scenario headless and check the objectives.

Environment (``make loadtest VAR=...`` passes each through; empty means the default):

- ``TARGET_URL``: the service to load; unset starts ``python -m service run`` here on a free port.
- ``USERS`` (100), ``SPAWN_RATE`` (20 a second), ``DURATION`` (60s; Locust's ``-t``: 90s, 5m, 1h30m).
- ``LOADTEST_P95_READ_MS`` (100), ``LOADTEST_P95_WRITE_MS`` (200): p95 limits for GET and for writes.
- ``LOADTEST_MAX_ERRORS`` (0): failed requests allowed in the whole run.

Reports land in ``.loadtest/`` (``stats_*.csv``, ``report.html``, ``locust.log``, ``service.log``).
Exit 0 when every objective is met, 1 when one is missed, 2 when the test could not run.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from service.config import SettingsError, load_settings
from tests.support.server import free_port

REPO = Path(__file__).resolve().parent.parent
REPORTS = REPO / ".loadtest"
LOCUSTFILE = REPO / "loadtest" / "locustfile.py"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoadTestError(RuntimeError):
    """The load test could not run (as opposed to: it ran and missed an objective)."""


@dataclass(frozen=True)
class Options:
    target_url: str
    users: int
    spawn_rate: float
    duration: str
    p95_read_ms: float
    p95_write_ms: float
    max_errors: int


@dataclass(frozen=True)
class Row:
    """One line of Locust's ``stats_stats.csv``: an endpoint, or the aggregate."""

    method: str
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}".strip()


def _env(environ: Mapping[str, str], name: str, default: str) -> str:
    return environ.get(name) or default


def options_from_env(environ: Mapping[str, str]) -> Options:
    try:
        return Options(
            target_url=_env(environ, "TARGET_URL", "").rstrip("/"),
            users=int(_env(environ, "USERS", "100")),
            spawn_rate=float(_env(environ, "SPAWN_RATE", "20")),
            duration=_env(environ, "DURATION", "60s"),
            p95_read_ms=float(_env(environ, "LOADTEST_P95_READ_MS", "100")),
            p95_write_ms=float(_env(environ, "LOADTEST_P95_WRITE_MS", "200")),
            max_errors=int(_env(environ, "LOADTEST_MAX_ERRORS", "0")),
        )
    except ValueError as exc:
        raise LoadTestError(f"bad setting: {exc}") from None


# ---- the service under test


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll ``/health/ready`` until it answers 200; fail if the service exits or takes too long."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LoadTestError(f"the service exited with {process.returncode} before it was ready:\n{tail(log_path)}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise LoadTestError(f"the service was not ready within {READY_TIMEOUT_SECONDS:g}s:\n{tail(log_path)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then wait; the service shuts down gracefully (and stops its embedded PostgreSQL)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"loadtest: the service did not stop within {STOP_TIMEOUT_SECONDS:g}s; killing it", file=sys.stderr)
        process.kill()
        process.wait()


@contextmanager
def local_service() -> Iterator[str]:
    """``python -m service run`` in the repository (embedded database, ``.env`` secret) on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = REPORTS / "service.log"
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    print(f"loadtest: starting the service on {url} (log: {log_path.relative_to(REPO)})", flush=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "run"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_ready(url, process, log_path)
            yield url
        finally:
            stop(process)
            print(f"loadtest: service stopped (exit {process.returncode})", flush=True)


# ---- Locust


def token_env() -> dict[str, str]:
    """What the locustfile signs tokens with, read as the service reads it (environment over ``.env``)."""
    try:
        settings = load_settings(env_file=REPO / ".env")
    except SettingsError as exc:
        raise LoadTestError(str(exc)) from None
    if not settings.better_auth_secret:
        raise LoadTestError(
            "BETTER_AUTH_SECRET is not set (environment or .env): the load test signs HS256 tokens with it; "
            "pass the target's secret, e.g. make loadtest TARGET_URL=... BETTER_AUTH_SECRET=..."
        )
    return {
        "BETTER_AUTH_SECRET": settings.better_auth_secret,
        "JWT_ISSUER": settings.jwt_issuer,
        "JWT_AUDIENCE": settings.jwt_audience,
    }


def run_locust(options: Options, url: str) -> Path:
    """Run Locust headless against ``url``; return the path of its stats CSV."""
    prefix = REPORTS / "stats"
    log_path = REPORTS / "locust.log"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(options.users), "-r", str(options.spawn_rate), "-t", options.duration,
        "--host", url, "--csv", str(prefix), "--html", str(REPORTS / "report.html"),
        "--only-summary",
    ]  # fmt: skip
    env = {**os.environ, **token_env()}
    print(
        f"loadtest: {options.users} users (+{options.spawn_rate:g}/s) for {options.duration} against {url}",
        flush=True,
    )
    with log_path.open("wb") as log:
        result = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.is_file():
        raise LoadTestError(f"locust exited with {result.returncode} and wrote no stats:\n{tail(log_path)}")
    return stats


# ---- results


def read_stats(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as file:
        return [
            Row(
                method=line["Type"],
                name=line["Name"],
                requests=int(line["Request Count"]),
                failures=int(line["Failure Count"]),
                rps=float(line["Requests/s"]),
                p50=_ms(line["50%"]),
                p95=_ms(line["95%"]),
                p99=_ms(line["99%"]),
            )
            for line in csv.DictReader(file)
        ]


def _ms(value: str) -> float:
    return float(value) if value not in ("", "N/A") else 0.0


def format_table(rows: list[Row]) -> str:
    width = max(len(row.label) for row in rows)
    columns = ("requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms")
    header = f"{'endpoint':<{width}}" + "".join(f"  {column:>8}" for column in columns)
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.label:<{width}}  {row.requests:>8}  {row.failures:>8}  {row.rps:>8.1f}  "
            f"{row.p50:>8g}  {row.p95:>8g}  {row.p99:>8g}"
        )
    return "\n".join(lines)


def breaches(rows: list[Row], options: Options) -> list[str]:
    """Every objective the run missed, in words."""
    found = []
    total_failures = sum(row.failures for row in rows if row.name != "Aggregated")
    if total_failures > options.max_errors:
        found.append(f"{total_failures} failed requests, more than LOADTEST_MAX_ERRORS={options.max_errors}")
    for row in rows:
        if row.method in READ_METHODS and row.p95 > options.p95_read_ms:
            found.append(f"{row.label}: p95 {row.p95:g} ms > LOADTEST_P95_READ_MS={options.p95_read_ms:g}")
        elif row.method in WRITE_METHODS and row.p95 > options.p95_write_ms:
            found.append(f"{row.label}: p95 {row.p95:g} ms > LOADTEST_P95_WRITE_MS={options.p95_write_ms:g}")
    return found


def tail(path: Path, lines: int = 20) -> str:
    if not path.is_file():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def print_failures(path: Path, limit: int = 5) -> None:
    """The most frequent failure messages, from Locust's ``stats_failures.csv``."""
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as file:
        lines = sorted(csv.DictReader(file), key=lambda line: -int(line["Occurrences"]))
    print(f"most frequent failures (all in {path.relative_to(REPO)}):")
    for line in lines[:limit]:
        print(f"  {line['Occurrences']:>6} x {line['Method']} {line['Name']}: {line['Error'][:200]}")


def report(rows: list[Row], options: Options) -> int:
    print()
    print(format_table(rows))
    print()
    missed = breaches(rows, options)
    for breach in missed:
        print(f"OBJECTIVE MISSED: {breach}")
    if not missed:
        print(
            f"objectives met: p95 reads <= {options.p95_read_ms:g} ms, writes <= {options.p95_write_ms:g} ms, "
            f"failures <= {options.max_errors}"
        )
    if any(row.failures for row in rows):
        print_failures(REPORTS / "stats_failures.csv")
    print(f"reports: {(REPORTS / 'report.html').relative_to(REPO)}, {REPORTS.relative_to(REPO)}/stats_*.csv")
    return 1 if missed else 0


def main() -> int:
    try:
        options = options_from_env(os.environ)
        REPORTS.mkdir(exist_ok=True)
        for old in REPORTS.glob("stats_*.csv"):
            old.unlink()
        if options.target_url:
            token_env()  # fail before starting anything when there is no secret
            stats = run_locust(options, options.target_url)
        else:
            with local_service() as url:
                stats = run_locust(options, url)
        return report(read_stats(stats), options)
    except LoadTestError as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
