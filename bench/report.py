"""The bench's results as Markdown: one table per server, the targets with PASS or FAIL, Granian against uvicorn."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

NOOP, BARE, SERVICE, QUIET, REPLICA = "noop", "bare", "service", "service, no access log", "fastapi+sqlmodel"
BEFORE_SYNC = "bare without revisions"

# The service's scenarios measured against their bare handler, and the endpoints of the first
# contract measured against the FastAPI + SQLModel replica of the original design.
AGAINST_BARE = ("list 20", "get one", "create", "toggle")
AGAINST_REPLICA = ("list 20", "get one", "create", "replace", "toggle", "delete")
BARE_TARGET = 0.85
REPLICA_TARGET = 5.0
P99_TARGET = 2.0  # service p99 / bare p99, at the high connection count
RSS_TARGET_MB = 100.0
# The issue "Sync": what revisions and tombstones may cost a write (the bare handler's write with
# them over the same write without them, CPU of the app and PostgreSQL per request), and a page of
# the change feed against a page of the list of the same size.
REVISED_WRITES = ("toggle", "create", "delete")
REVISIONS_TARGET = 1.15
CHANGES, CHANGES_LIST = "changes 20", "list limit 20"
CHANGES_TARGET = 1.0
# And a write with an Idempotency-Key against the same write without one, on the service.
KEYED_WRITES = ("toggle", "create")
IDEMPOTENCY_TARGET = 1.20
# The issue of recurring tasks and reminders: completing an open occurrence of a series (which makes
# the next one) against a plain toggle, CPU of the app and PostgreSQL per request; and one day's
# reminders of a user with 10,000 tasks against a page of the same user's list, by latency.
RECURRING = "complete recurring"
RECURRING_TARGET = 2.0
REMINDERS, REMINDERS_LIST = "reminders day", "list 10k tasks"
REMINDERS_TARGET = 2.0
# The issue of lists and the user's own order: a move against a toggle, CPU of the app and
# PostgreSQL per request; and a list's tasks in position order against the default list.
MOVE = "move"
MOVE_TARGET = 1.5
BY_POSITION, DEFAULT_LIST = "list by position", "list 20"
BY_POSITION_TARGET = 1.0


def keyed(scenario: str) -> str:
    """The scenario of the same write, each request with an Idempotency-Key of its own."""
    return f"{scenario} keyed"


@dataclass
class Result:
    server: str  # uvicorn or granian
    target: str
    scenario: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu: float
    wrk_cpu: float
    cpu_us_per_request: float  # the server's processes
    db_cpu_us_per_request: float | None = None  # PostgreSQL's processes, when they could be read

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.server, self.target, self.scenario, self.connections)

    @property
    def total_cpu_us_per_request(self) -> float | None:
        """The app's and PostgreSQL's CPU time per request together."""
        if self.db_cpu_us_per_request is None:
            return None
        return self.cpu_us_per_request + self.db_cpu_us_per_request


def median_result(rounds: list[Result]) -> Result:
    def mid(value: Callable[[Result], float]) -> float:
        return statistics.median(value(r) for r in rounds)

    first = rounds[0]
    db = [r.db_cpu_us_per_request for r in rounds if r.db_cpu_us_per_request is not None]
    return Result(
        server=first.server,
        target=first.target,
        scenario=first.scenario,
        connections=first.connections,
        rps=mid(lambda r: r.rps),
        p50_ms=mid(lambda r: r.p50_ms),
        p99_ms=mid(lambda r: r.p99_ms),
        errors=sum(r.errors for r in rounds),
        server_cpu=mid(lambda r: r.server_cpu),
        wrk_cpu=mid(lambda r: r.wrk_cpu),
        cpu_us_per_request=mid(lambda r: r.cpu_us_per_request),
        db_cpu_us_per_request=statistics.median(db) if len(db) == len(rounds) else None,
    )


@dataclass
class Check:
    name: str
    goal: str
    values: dict[str, tuple[float, bool] | None]  # per server: the value and whether it meets the goal


def _us(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def results_table(results: list[Result]) -> list[str]:
    lines = [
        "| target | scenario | conns | requests/s | p50 ms | p99 ms | p99/p50 | errors "
        "| server CPU | µs CPU/request | PostgreSQL µs CPU/request | wrk CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.target} | {r.scenario} | {r.connections} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.p99_ms / r.p50_ms:.1f} | {r.errors} | {r.server_cpu:.0%} | {r.cpu_us_per_request:.0f} | "
            f"{_us(r.db_cpu_us_per_request)} | {r.wrk_cpu:.0%} |"
        )
    return lines


def checks(
    by: dict[tuple[str, str, str, int], Result], servers: list[str], low: int, high: int, rss_mb: dict[str, float]
) -> list[Check]:
    """Each target, for each server, from that server's rows."""

    def quotient(server: str, a: tuple[str, str, int], b: tuple[str, str, int], field: str) -> float | None:
        top, bottom = by.get((server, *a)), by.get((server, *b))
        if top is None or bottom is None or getattr(top, field) is None or getattr(bottom, field) is None:
            return None
        return float(getattr(top, field)) / float(getattr(bottom, field))

    def check(name: str, goal: str, value: Callable[[str], float | None], passes: Callable[[float], bool]) -> Check:
        values: dict[str, tuple[float, bool] | None] = {}
        for server in servers:
            v = value(server)
            values[server] = None if v is None else (v, passes(v))
        return Check(name, goal, values)

    def at_least(goal: float) -> Callable[[float], bool]:
        return lambda v: v >= goal

    found: list[Check] = []
    for scenario in AGAINST_BARE:
        service, bare = (SERVICE, scenario, low), (BARE, scenario, low)
        found += [
            check(
                f"{scenario}: service / bare, requests/s",
                f"≥ {BARE_TARGET:.2f}",
                partial(quotient, a=service, b=bare, field="rps"),
                at_least(BARE_TARGET),
            ),
            check(
                f"{scenario}: bare / service, CPU per request",
                f"≥ {BARE_TARGET:.2f}",
                partial(quotient, a=bare, b=service, field="cpu_us_per_request"),
                at_least(BARE_TARGET),
            ),
        ]
    for scenario in AGAINST_REPLICA:
        service, replica = (SERVICE, scenario, low), (REPLICA, scenario, low)
        found.append(
            check(
                f"{scenario}: service / {REPLICA}, requests/s",
                f"≥ {REPLICA_TARGET:.0f}",
                partial(quotient, a=service, b=replica, field="rps"),
                at_least(REPLICA_TARGET),
            )
        )
    for scenario in REVISED_WRITES:
        found.append(
            check(
                f"revisions: {scenario}, bare with / without, CPU per request (app + PostgreSQL)",
                f"≤ {REVISIONS_TARGET:.2f}",
                partial(
                    quotient, a=(BARE, scenario, low), b=(BEFORE_SYNC, scenario, low), field="total_cpu_us_per_request"
                ),
                lambda v: v <= REVISIONS_TARGET,
            )
        )
    found.append(
        check(
            f"{CHANGES} / {CHANGES_LIST}: service, CPU per request (app + PostgreSQL)",
            f"≤ {CHANGES_TARGET:.2f}",
            partial(
                quotient, a=(SERVICE, CHANGES, low), b=(SERVICE, CHANGES_LIST, low), field="total_cpu_us_per_request"
            ),
            lambda v: v <= CHANGES_TARGET,
        )
    )
    found += [
        check(
            f"{RECURRING} / toggle: service, CPU per request (app + PostgreSQL)",
            f"≤ {RECURRING_TARGET:.0f}",
            partial(
                quotient, a=(SERVICE, RECURRING, low), b=(SERVICE, "toggle", low), field="total_cpu_us_per_request"
            ),
            lambda v: v <= RECURRING_TARGET,
        ),
        check(
            f"{REMINDERS} / {REMINDERS_LIST}: service, p50 latency",
            f"≤ {REMINDERS_TARGET:.0f}",
            partial(quotient, a=(SERVICE, REMINDERS, low), b=(SERVICE, REMINDERS_LIST, low), field="p50_ms"),
            lambda v: v <= REMINDERS_TARGET,
        ),
        check(
            f"{REMINDERS_LIST} / {REMINDERS}: service, requests/s",
            f"≤ {REMINDERS_TARGET:.0f}",
            partial(quotient, a=(SERVICE, REMINDERS_LIST, low), b=(SERVICE, REMINDERS, low), field="rps"),
            lambda v: v <= REMINDERS_TARGET,
        ),
    ]
    found += [
        check(
            f"{MOVE} / toggle: service, CPU per request (app + PostgreSQL)",
            f"≤ {MOVE_TARGET:.1f}",
            partial(quotient, a=(SERVICE, MOVE, low), b=(SERVICE, "toggle", low), field="total_cpu_us_per_request"),
            lambda v: v <= MOVE_TARGET,
        ),
        check(
            f"{BY_POSITION} / {DEFAULT_LIST}: service, CPU per request (app + PostgreSQL)",
            f"≤ {BY_POSITION_TARGET:.2f}",
            partial(
                quotient,
                a=(SERVICE, BY_POSITION, low),
                b=(SERVICE, DEFAULT_LIST, low),
                field="total_cpu_us_per_request",
            ),
            lambda v: v <= BY_POSITION_TARGET,
        ),
    ]
    for scenario in KEYED_WRITES:
        found.append(
            check(
                f"idempotency: {scenario}, service with a key / without, CPU per request (app + PostgreSQL)",
                f"≤ {IDEMPOTENCY_TARGET:.2f}",
                partial(
                    quotient,
                    a=(SERVICE, keyed(scenario), low),
                    b=(SERVICE, scenario, low),
                    field="total_cpu_us_per_request",
                ),
                lambda v: v <= IDEMPOTENCY_TARGET,
            )
        )
    found += [
        check(
            f"list 20 at {high} connections: service p99 / bare p99",
            f"≤ {P99_TARGET:.0f}",
            lambda s: quotient(s, (SERVICE, "list 20", high), (BARE, "list 20", high), "p99_ms"),
            lambda v: v <= P99_TARGET,
        ),
        check(
            f"list 20: service requests/s at {high} / at {low} connections",
            "≥ 1.00",
            lambda s: quotient(s, (SERVICE, "list 20", high), (SERVICE, "list 20", low), "rps"),
            at_least(1.0),
        ),
        check(
            "service worker RSS after the run, MB",
            f"≤ {RSS_TARGET_MB:.0f}",
            rss_mb.get,
            lambda v: v <= RSS_TARGET_MB,
        ),
    ]
    return found


def checks_table(found: list[Check], servers: list[str]) -> list[str]:
    lines = [
        "| target | goal | " + " | ".join(servers) + " |",
        "|---|---|" + "---:|" * len(servers),
    ]
    for check in found:
        cells = []
        for server in servers:
            value = check.values[server]
            if value is None:
                cells.append("not measured")
            else:
                number = f"{value[0]:.0f}" if "MB" in check.name else f"{value[0]:.2f}"
                cells.append(f"{number} {'PASS' if value[1] else '**FAIL**'}")
        lines.append(f"| {check.name} | {check.goal} | " + " | ".join(cells) + " |")
    return lines


def summary(found: list[Check], servers: list[str]) -> list[str]:
    lines = []
    for server in servers:
        measured = [c.values[server] for c in found if c.values[server] is not None]
        met = sum(1 for value in measured if value is not None and value[1])
        lines.append(
            f"- {server}: **{met} of {len(measured)}** targets met ({len(found) - len(measured)} not measured)."
        )
    return lines


def sync_costs(by: dict[tuple[str, str, str, int], Result], servers: list[str], low: int) -> list[str]:
    """Each pair the Sync targets compare, side by side: throughput, and CPU of the app and of PostgreSQL."""
    pairs = [(BARE, BEFORE_SYNC, scenario, scenario) for scenario in REVISED_WRITES]
    pairs.append((SERVICE, SERVICE, CHANGES, CHANGES_LIST))
    pairs += [(SERVICE, SERVICE, keyed(scenario), scenario) for scenario in KEYED_WRITES]
    pairs += [(SERVICE, SERVICE, RECURRING, "toggle"), (SERVICE, SERVICE, REMINDERS, REMINDERS_LIST)]
    lines = [
        "| server | row | compared with | requests/s | its requests/s | ratio "
        "| µs CPU/request, app + PostgreSQL | its µs CPU/request | ratio |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for server in servers:
        for target, base_target, scenario, base_scenario in pairs:
            row, base = by.get((server, target, scenario, low)), by.get((server, base_target, base_scenario, low))
            if row is None or base is None:
                continue
            total, base_total = row.total_cpu_us_per_request, base.total_cpu_us_per_request
            both = f"{_us(row.cpu_us_per_request)} + {_us(row.db_cpu_us_per_request)}"
            base_both = f"{_us(base.cpu_us_per_request)} + {_us(base.db_cpu_us_per_request)}"
            ratio = "?" if total is None or base_total is None else f"{total / base_total:.2f}"
            lines.append(
                f"| {server} | {target}: {scenario} | {base_target}: {base_scenario} | {row.rps:,.0f} | "
                f"{base.rps:,.0f} | {row.rps / base.rps:.2f} | {both} | {base_both} | {ratio} |"
            )
    return lines if len(lines) > 2 else []


def servers_compared(by: dict[tuple[str, str, str, int], Result], results: list[Result]) -> list[str]:
    """Granian against uvicorn, row by row, for every target and scenario measured under both."""
    lines = [
        "| target | scenario | conns | uvicorn requests/s | Granian requests/s | Granian / uvicorn "
        "| uvicorn µs CPU/req | Granian µs CPU/req | uvicorn p99 ms | Granian p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.server != "uvicorn":
            continue
        g = by.get(("granian", r.target, r.scenario, r.connections))
        if g is None:
            continue
        lines.append(
            f"| {r.target} | {r.scenario} | {r.connections} | {r.rps:,.0f} | {g.rps:,.0f} | {g.rps / r.rps:.2f} | "
            f"{r.cpu_us_per_request:.0f} | {g.cpu_us_per_request:.0f} | {r.p99_ms:.2f} | {g.p99_ms:.2f} |"
        )
    return lines if len(lines) > 2 else []


def access_log_cost(by: dict[tuple[str, str, str, int], Result], low: int) -> list[str]:
    logged, quiet = by.get(("uvicorn", SERVICE, "list 20", low)), by.get(("uvicorn", QUIET, "list 20", low))
    if logged is None or quiet is None:
        return []
    return [
        f"- The access log costs {logged.cpu_us_per_request - quiet.cpu_us_per_request:.0f} µs of CPU per request "
        f"(list 20 under uvicorn: {quiet.rps:,.0f} requests/s without it, {logged.rps / quiet.rps:.0%} of that "
        "with it)."
    ]
