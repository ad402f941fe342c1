"""Which text search should the task list's q= use? Measured on a million tasks, in one run.

    .venv/bin/python -m bench.search             # about 6 minutes on 2 cores
    SEARCH_ROUNDS=2 SEARCH_RUNS=5 .venv/bin/python -m bench.search

Starts a throwaway PostgreSQL from the system install (SEARCH_PG_BIN, default PostgreSQL 15:
it ships pg_trgm and btree_gin, which the embedded server does not), as SEARCH_PG_USER when
run as root (initdb refuses root), applies the repo's migrations and bulk-loads 100 users with
10,000 tasks each. Then, for one user, it times the first page (101 rows, newest first) of
tasks matching a few search terms, five ways:

    a  FTS prefix (search @@ to_tsquery), no extra index   -- what the service does now
    b  FTS prefix, GIN index on search
    c  FTS prefix, btree_gin GIN index on (user_id, search)
    d  ILIKE '%term%', btree_gin + pg_trgm GIN index on (user_id, title || ' ' || description)
    e  ILIKE '%term%', no extra index

Each variant's index exists only while that variant is measured. Rounds repeat the variants in
a new random order (repeatable), so a noisy neighbour hits them all alike; every number
reported is a median (or p95) over the rounds. Times are wall time around asyncpg's fetch of a
prepared statement on a local TCP connection, planned as a fresh statement does
(force_custom_plan) and as a warm one may be (force_generic_plan). Writes are timed as 20,000
creates through asyncpg's executemany of the service's create_task statement (pipelined, one
transaction), with the variant's index present.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from service.db import migrations
from service.db.urls import asyncpg_dsn
from service.tasks import listing, queries, statements
from tests.support.server import free_port

PG_BIN = Path(os.environ.get("SEARCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = os.environ.get("SEARCH_PG_USER", "pgserver")  # who runs PostgreSQL when we are root
ROUNDS = int(os.environ.get("SEARCH_ROUNDS", "5"))
RUNS = int(os.environ.get("SEARCH_RUNS", "6"))  # timed runs per query per round
USERS = 100
TASKS_PER_USER = 10_000
WRITES = 20_000
USER = "user-042"
LIMIT = 101  # a page of 100 and one more, to know whether there is a next page
PLAN_MODES = ("force_custom_plan", "force_generic_plan")
MODE_NAMES = {"force_custom_plan": "custom", "force_generic_plan": "generic"}

# Roughly by frequency: word n of N is picked with probability ((n+1)/N)^(1/3) - (n/N)^(1/3),
# so the first few are in a third or more of the tasks and the last ones in a few dozen per user.
_WORDS = """
review update call email fix send meeting plan check write report team client buy order book
prepare project schedule clean pay finish draft test deploy design read follow weekly notes
budget groceries doctor dentist milk bread coffee laptop phone invoice contract slides demo
release bug feature ticket sprint backlog standup retro roadmap sales marketing customer support
onboarding hiring interview candidate offer payroll taxes insurance rent bank account password
backup server database migration api docs website blog newsletter social post video photo
gym run yoga swim bike walk dinner lunch breakfast recipe kitchen garden laundry vacuum dishes
car oil tires garage parking train flight hotel trip visa passport luggage tickets museum
birthday gift card party wedding flowers cake mom dad kids school homework teacher library
proposal presentation quarterly annual monthly daily agenda minutes summary analysis metrics
dashboard chart spreadsheet export import upload download sync install configure upgrade
patch refactor cleanup lint format typing coverage pipeline build docker cluster monitoring
alert incident postmortem oncall rotation security audit compliance privacy policy legal
vendor supplier quote purchase shipping delivery warehouse inventory stock returns refund
feedback survey research competitor pricing discount campaign launch event conference talk
workshop training course lesson exam certificate mentor coaching goals habits journal
process profile program promotion prototype product progress problem priority protocol
partner investor board pitch deck valuation funding grant donation charity volunteer
plumber electrician painter roof window door fence lawn paint tools hardware furniture sofa
desk chair lamp shelf curtains carpet mattress pillow blanket towels soap shampoo toothpaste
vitamins medicine pharmacy appointment checkup vaccine therapy massage haircut nails glasses
apples bananas eggs cheese butter yogurt chicken fish rice pasta beans tomatoes onions garlic
pepper salt sugar flour honey tea juice water wine beer snacks chocolate cereal soup salad
keys wallet umbrella jacket shoes socks shirt jeans dress suit tie belt watch ring earrings
printer scanner router modem cable charger battery headphones speaker camera tripod monitor
keyboard mouse tablet tv console games puzzle board guitar piano drums violin concert tickets
moving boxes packing storage donate sell recycle trash compost repair replace return borrow
lend renew cancel subscribe unsubscribe register apply submit approve reject sign scan fax
"""
VOCABULARY = list(dict.fromkeys(_WORDS.split()))  # each word once
RARE = "zeppelin"  # in five tasks of each user, and nowhere else


@dataclass(frozen=True)
class Term:
    name: str
    text: str  # what the client puts in q=

    @property
    def words(self) -> list[str]:
        return self.text.split()


TERMS = (
    Term("common prefix", "revi"),
    Term("two prefixes", "revi inv"),
    Term("mid-frequency word", "invoice"),
    Term("rare word", RARE),
    Term("3-letter prefix", "pro"),
    Term("no match", "xylograph"),
)

DOCUMENT = "(title || ' ' || coalesce(description, ''))"  # what the trigram index and ILIKE see


@dataclass(frozen=True)
class Variant:
    key: str
    name: str
    uses_fts: bool
    index: str | None  # the CREATE INDEX statement, or None for no extra index

    @property
    def index_name(self) -> str | None:
        return self.index.split()[2] if self.index else None


VARIANTS = (
    Variant("a", "FTS prefix, no extra index (now)", True, None),
    Variant("b", "FTS prefix + GIN (search)", True, "CREATE INDEX tasks_search_gin ON tasks USING gin (search)"),
    Variant(
        "c",
        "FTS prefix + GIN (user_id, search)",
        True,
        "CREATE INDEX tasks_user_search_gin ON tasks USING gin (user_id, search)",
    ),
    Variant(
        "d",
        "ILIKE + trigram GIN (user_id, text)",
        False,
        f"CREATE INDEX tasks_user_trgm_gin ON tasks USING gin (user_id, {DOCUMENT} gin_trgm_ops)",
    ),
    Variant("e", "ILIKE, no extra index", False, None),
)

FTS_SQL, _ = statements.list_statement(USER, statements.TaskQuery(search="x"))  # exactly what the service sends
SEARCH_LINE = "AND search @@ to_tsquery('simple', $2)"
assert SEARCH_LINE in FTS_SQL, FTS_SQL
assert FTS_SQL.rstrip().endswith("LIMIT $3"), FTS_SQL


def sql_for(variant: Variant, term: Term) -> str:
    if variant.uses_fts:
        return FTS_SQL
    clauses = " ".join(f"AND {DOCUMENT} ILIKE ${n + 2}" for n in range(len(term.words)))
    head = FTS_SQL.rstrip().removesuffix("LIMIT $3")
    return head.replace(SEARCH_LINE, clauses) + f"LIMIT ${len(term.words) + 2}"


def args_for(variant: Variant, term: Term) -> list[Any]:
    if variant.uses_fts:
        return [USER, listing.search_terms(term.text), LIMIT]
    return [USER, *(f"%{word}%" for word in term.words), LIMIT]


# --- a throwaway PostgreSQL ---------------------------------------------------------------

INITDB_OPTIONS = ("-E", "UTF8", "--locale=C.UTF-8")


@contextmanager
def postgres() -> Iterator[str]:
    """A new cluster in a temporary directory, stopped and deleted afterwards; yields its URL."""
    as_root = os.geteuid() == 0
    runner = [shutil.which("runuser") or "runuser", "-u", PG_USER, "--"] if as_root else []
    directory = Path(tempfile.mkdtemp(prefix="task-api-search-"))
    data, log = directory / "data", directory / "postgres.log"
    try:
        if as_root:
            shutil.chown(directory, PG_USER, PG_USER)
        subprocess.run(
            [*runner, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", *INITDB_OPTIONS],
            check=True,
            cwd=directory,
            capture_output=True,
        )
        port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(directory),
            "shared_buffers": "1GB",  # the million tasks stay in memory: we time CPU, not disks
            "maintenance_work_mem": "1GB",
            "max_wal_size": "8GB",
            "checkpoint_timeout": "1h",  # checkpoints only when we ask, before each write sample
            "autovacuum": "off",  # we VACUUM and ANALYZE at known points
            "jit": "off",
        }
        options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        try:
            subprocess.run(
                [
                    *runner,
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "120",
                    "start",
                ],
                check=True,
                cwd=directory,
                capture_output=True,
            )
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        except subprocess.CalledProcessError:
            print(log.read_text() if log.exists() else "(no server log)", file=sys.stderr)
            raise
        finally:
            subprocess.run(
                [*runner, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                check=False,
                cwd=directory,
                capture_output=True,
            )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --- the million tasks ----------------------------------------------------------------------

LOAD = """
INSERT INTO tasks (user_id, title, description, completed, completed_at, priority, tags, due_at,
                   created_at, updated_at, revision)
-- A word is picked with probability ((n+1)/N)^(1/3) - (n/N)^(1/3) for the n-th of N words.
SELECT 'user-' || lpad((g % $1::int)::text, 3, '0'),
       (SELECT string_agg(($2::text[])[1 + floor(cardinality($2::text[]) * power(random(), 3))::int], ' ')
        FROM generate_series(1, title_words))
           || CASE WHEN (g / $1) % 2000 = 777 THEN ' ' || $3::text ELSE '' END,
       (SELECT string_agg(($2::text[])[1 + floor(cardinality($2::text[]) * power(random(), 3))::int], ' ')
        FROM generate_series(1, description_words)),
       done,
       CASE WHEN done THEN created + interval '1 day' END,
       (ARRAY['low', 'medium', 'high']::task_priority[])[1 + floor(random() * 3)::int],
       CASE floor(random() * 4)::int WHEN 2 THEN ARRAY['home'] WHEN 3 THEN ARRAY['work'] ELSE '{}' END,
       CASE WHEN random() < 0.5 THEN created + (random() * 60 - 30) * interval '1 day' END,
       created,
       CASE WHEN done THEN created + interval '1 day' ELSE created END,
       g / $1 + 1  -- each user's tasks numbered from 1
FROM (
    -- Users' tasks interleave in the table, as when they are created over time.
    SELECT g,
           now() - ($4::int - g) * interval '1 minute' AS created,
           random() < 0.3 AS done,
           2 + floor(random() * 5)::int AS title_words,
           CASE WHEN random() < 1.0 / 3 THEN 4 + floor(random() * 12)::int END AS description_words
    FROM generate_series(0, $4 - 1) AS g
    OFFSET 0  -- keeps each random() evaluated once per row
) AS rows
"""


async def load(url: str) -> None:
    """The million tasks, loaded as a bulk load is: no indexes, no triggers, then the indexes."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("CREATE EXTENSION pg_trgm; CREATE EXTENSION btree_gin")
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'tasks'"
        )
        await connection.execute("ALTER TABLE tasks DROP CONSTRAINT tasks_pkey")
        for index in indexes:
            await connection.execute(f"DROP INDEX IF EXISTS {index['indexname']}")
        await connection.execute("SET session_replication_role = replica")  # so we set completed_at
        await connection.execute("SELECT setseed(0.2026)")
        await connection.execute(LOAD, USERS, VOCABULARY, RARE, USERS * TASKS_PER_USER)
        await connection.execute("RESET session_replication_role")
        for index in indexes:
            await connection.execute(index["indexdef"])
        await connection.execute("ALTER TABLE tasks ADD CONSTRAINT tasks_pkey PRIMARY KEY USING INDEX tasks_pkey")
        await connection.execute("VACUUM ANALYZE tasks")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Samples:
    reads: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)  # (variant, mode, term) -> ms
    plans: dict[tuple[str, str, str], str] = field(default_factory=dict)
    explain_ms: dict[tuple[str, str, str], float] = field(default_factory=dict)
    writes: dict[str, list[float]] = field(default_factory=dict)  # variant -> seconds for WRITES creates
    builds: dict[str, list[float]] = field(default_factory=dict)  # variant -> seconds to build its index
    sizes: dict[str, int] = field(default_factory=dict)  # variant -> bytes of its index


def literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def plan_label(node: dict[str, Any]) -> str:
    """A short description of a plan: its scans and sorts, from the bottom up."""
    kind = node["Node Type"]
    children = [plan_label(child) for child in node.get("Plans", [])]
    index = node.get("Index Name", "").removeprefix("tasks_").removesuffix("_idx")
    if kind == "Bitmap Index Scan":
        return f"bitmap {index}"
    if kind in {"BitmapAnd", "BitmapOr"}:
        return (" & " if kind == "BitmapAnd" else " | ").join(children)
    if kind in {"Index Scan", "Index Only Scan"}:
        return f"{index} range" + (" + filter" if "Filter" in node else "")
    if kind == "Seq Scan":
        return "seq scan"
    if kind in {"Bitmap Heap Scan", "Limit"}:
        return children[0]
    if kind == "Sort":
        return f"{children[0]} → {'top-N ' if 'top-N' in node.get('Sort Method', '') else ''}sort"
    return f"{', '.join(children)} → {kind.lower()}"


def rows_read(plan: dict[str, Any]) -> int:
    """Table rows the scans looked at: those kept plus those a filter or recheck threw away."""
    total = 0.0
    for node in plan_nodes(plan):
        if node["Node Type"] in {"Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Seq Scan"}:
            per_loop = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            total += (per_loop + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
    return round(total)


async def measure_reads(
    connection: asyncpg.Connection, variant: Variant, mode: str, order: random.Random, samples: Samples
) -> None:
    await connection.execute(f"SET plan_cache_mode = {mode}")
    statements = {term: await connection.prepare(sql_for(variant, term)) for term in TERMS}
    for term, statement in statements.items():  # warm-up, untimed: a new index comes into the cache
        await statement.fetch(*args_for(variant, term))
    for _ in range(RUNS):
        for term in order.sample(TERMS, len(TERMS)):
            arguments = args_for(variant, term)
            started = time.perf_counter()
            await statements[term].fetch(*arguments)
            elapsed = (time.perf_counter() - started) * 1000
            samples.reads.setdefault((variant.key, mode, term.name), []).append(elapsed)
    for term, statement in statements.items():  # the plan that statement runs now, run once more
        values = ", ".join(literal(value) for value in args_for(variant, term))
        explained = await connection.fetchval(
            f'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE "{statement.get_name()}"({values})'
        )
        plan = json.loads(explained)[0]
        key = (variant.key, mode, term.name)
        top = plan["Plan"]
        buffers = top["Shared Hit Blocks"] + top["Shared Read Blocks"]
        samples.plans[key] = f"{plan_label(top)}; {rows_read(top):,} rows, {buffers:,} buffers"
        samples.explain_ms[key] = plan["Execution Time"]
    await connection.execute("RESET plan_cache_mode")


async def measure_writes(connection: asyncpg.Connection, variant: Variant, rows: list[tuple[Any, ...]]) -> float:
    """Seconds to create the rows and fold them into the variant's index.

    A GIN index first appends new rows to its pending list (fastupdate) and merges them into the
    index later, when the list outgrows gin_pending_list_limit or at VACUUM: that merge is part of
    the price of the writes, so it is flushed and timed here.
    """
    await connection.execute("CHECKPOINT")  # every sample starts from a clean checkpoint
    started = time.perf_counter()
    await connection.executemany(queries.CREATE_TASK.sql, rows)
    if variant.index:
        await connection.execute("SELECT gin_clean_pending_list($1::regclass)", variant.index_name)
    return time.perf_counter() - started


async def measure(url: str) -> tuple[Samples, dict[str, Any]]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    samples = Samples()
    try:
        context = await describe(connection)
        texts = await connection.fetch(
            "SELECT title, description FROM tasks WHERE user_id <> $1 ORDER BY random() LIMIT $2", USER, WRITES
        )
        writes: list[tuple[Any, ...]] = [
            (f"writer-{n % USERS:03}", row["title"], row["description"], "medium", [], None)
            for n, row in enumerate(texts)
        ]
        order = random.Random(ROUNDS * 1000 + RUNS)  # a new order each round, repeatable
        for number in range(1, ROUNDS + 1):
            for variant in order.sample(VARIANTS, len(VARIANTS)):
                print(f"round {number} of {ROUNDS}: {variant.key} {variant.name}", flush=True)
                if variant.index:
                    started = time.perf_counter()
                    await connection.execute(variant.index)
                    samples.builds.setdefault(variant.key, []).append(time.perf_counter() - started)
                    samples.sizes[variant.key] = await connection.fetchval(
                        "SELECT pg_relation_size($1::regclass)", variant.index_name
                    )
                await connection.execute("ANALYZE tasks")  # for every variant, so all plan from fresh statistics
                for mode in order.sample(PLAN_MODES, len(PLAN_MODES)):
                    await measure_reads(connection, variant, mode, order, samples)
                samples.writes.setdefault(variant.key, []).append(await measure_writes(connection, variant, writes))
                if variant.index:
                    await connection.execute(f"DROP INDEX {variant.index_name}")
                await connection.execute("DELETE FROM tasks WHERE user_id LIKE 'writer-%'")
                await connection.execute("VACUUM tasks")
    finally:
        await connection.close()
    return samples, context


async def describe(connection: asyncpg.Connection) -> dict[str, Any]:
    """Sizes, and how many of the user's tasks each term matches each way."""
    context: dict[str, Any] = {
        "version": await connection.fetchval("SHOW server_version"),
        "table": await connection.fetchval("SELECT pg_table_size('tasks')"),
        "indexes": await connection.fetchval("SELECT pg_indexes_size('tasks')"),
        "search column": await connection.fetchval("SELECT sum(pg_column_size(search)) FROM tasks"),
        "tasks": await connection.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", USER),
        "with description": await connection.fetchval("SELECT count(description) FROM tasks WHERE user_id = $1", USER),
    }
    for term in TERMS:
        context[f"fts {term.name}"] = await connection.fetchval(
            "SELECT count(*) FROM tasks WHERE user_id = $1 AND search @@ to_tsquery('simple', $2)",
            USER,
            listing.search_terms(term.text),
        )
        context[f"ilike {term.name}"] = await connection.fetchval(
            f"SELECT count(*) FROM tasks WHERE user_id = $1 AND {DOCUMENT} ILIKE ALL($2::text[])",  # noqa: S608
            USER,
            [f"%{word}%" for word in term.words],
        )
    return context


# --- the report -----------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores (nproc), {memory:.0f} GiB, Python {sys.version.split()[0]}"


def report(samples: Samples, context: dict[str, Any], seconds: float) -> str:
    mib = 2**20
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL {context['version']}, "
        f"in {seconds / 60:.0f} min. {USERS * TASKS_PER_USER:,} tasks ({USERS} users); user {USER} has "
        f"{context['tasks']:,} ({context['with description']:,} with a description). Table "
        f"{context['table'] / mib:,.0f} MiB, of which the stored search column {context['search column'] / mib:,.0f} "
        f"MiB; the six existing indexes {context['indexes'] / mib:,.0f} MiB.",
        "",
        f"First page ({LIMIT} rows, newest first), milliseconds of wall time per query: median / p95 of "
        f"{ROUNDS} rounds x {RUNS} runs, and the median as a multiple of variant a in the same plan mode. "
        "Matches: the user's tasks that the FTS prefix / the ILIKE substring search finds.",
        "",
        "| q= | matches | plan | " + " | ".join(f"{v.key}: {v.name}" for v in VARIANTS) + " |",
        "|---|---|---|" + "---:|" * len(VARIANTS),
    ]
    for term in TERMS:
        matches = f"{context[f'fts {term.name}']:,} / {context[f'ilike {term.name}']:,}"
        for mode in PLAN_MODES:
            base = statistics.median(samples.reads[("a", mode, term.name)])
            cells = []
            for variant in VARIANTS:
                values = samples.reads[(variant.key, mode, term.name)]
                median = statistics.median(values)
                cells.append(f"{median:.2f} / {p95(values):.2f} ({median / base:.2g}x)")
            label = f"{term.name} `{term.text}`"
            lines.append(f"| {label} | {matches} | {MODE_NAMES[mode]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Plans (last round; rows = table rows the scan visited, including those filtered out; buffers = 8 kB "
        "pages of table and indexes touched):",
        "",
        "| q= | plan | " + " | ".join(v.key for v in VARIANTS) + " |",
        "|---|---|" + "---|" * len(VARIANTS),
    ]
    for term in TERMS:
        for mode in PLAN_MODES:
            cells = [samples.plans[(v.key, mode, term.name)] for v in VARIANTS]
            lines.append(f"| {term.name} | {MODE_NAMES[mode]} | " + " | ".join(cells) + " |")
    base_writes = statistics.median(samples.writes["a"])
    lines += [
        "",
        f"Writes: {WRITES:,} creates (the service's create_task INSERT, asyncpg executemany: pipelined, one "
        f"transaction) with the variant's index present, plus flushing its GIN pending list; median (min-max) "
        f"of {ROUNDS}. Index size and build time on the {USERS * TASKS_PER_USER:,} tasks.",
        "",
        "| variant | extra index | index MiB | build s | creates s | µs per create | vs a |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        writes = samples.writes[variant.key]
        write = statistics.median(writes)
        size = f"{samples.sizes[variant.key] / mib:,.0f}" if variant.index else "-"
        build = f"{statistics.median(samples.builds[variant.key]):.1f}" if variant.index else "-"
        lines.append(
            f"| {variant.key}: {variant.name} | {variant.index_name or 'none'} | {size} | {build} | "
            f"{write:.2f} ({min(writes):.2f}-{max(writes):.2f}) | "
            f"{write / WRITES * 1e6:.0f} | {write / base_writes:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).exists():
            print(f"bench.search: {PG_BIN / tool} not found (set SEARCH_PG_BIN)", file=sys.stderr)
            return 2
    started = time.perf_counter()
    with postgres() as url:
        print(f"PostgreSQL up at {url}; migrating and loading {USERS * TASKS_PER_USER:,} tasks", flush=True)
        migrations.apply(url)
        asyncio.run(load(url))
        print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
        samples, context = asyncio.run(measure(url))
    print("\n" + report(samples, context, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
