"""A seeded random workload over any store with a change feed: concurrent writers, syncing readers.

Writers, each on a connection of its own, make random changes to the tasks of a few users, most in
a transaction that sleeps a few milliseconds after its write and before it commits: commits arrive
late, and out of the order in which the changes were made. Meanwhile one reader per user pulls the
user's change feed from where it last was, in small pages, and applies each page to its copy.
When the writers are done and every reader has caught up, each copy must equal the user's live
tasks in the store: a change a reader skipped stays missing, stale or undeleted in its copy.

The store (``Store``) says how to make one random write, how to read a page of the feed and what is
live; the harness is the same for every store. tests/sync/test_concurrency.py runs it on the
service's own tables and, as a check of the harness, on a feed that pages by clock timestamps.

The seed fixes the random draws (operations, titles, sleeps, page sizes); how the connections
interleave, and so which task a draw lands on, is up to the machine. A failure names the seed, and
``SYNC_WORKLOAD_SEED=<seed>`` replays its draws.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from service.db.pool import Database
from service.db.statements import ExecSQL, Executor

SEED = int(os.environ.get("SYNC_WORKLOAD_SEED", "20240917"))
USERS = ("ann", "ben", "cat", "dan")

SLEEP = ExecSQL("SELECT pg_sleep($1)")

Cursor = TypeVar("Cursor")


@dataclass
class Page(Generic[Cursor]):
    """One answer of a change feed: where to read from next, and what changed."""

    cursor: Cursor
    has_more: bool
    changed: dict[UUID, object]  # each task in its latest state
    deleted: list[UUID]


class Store(Protocol[Cursor]):
    db: Database  # the writers' connections
    start: Cursor  # where a reader with an empty copy starts

    async def write(self, db: Executor, rng: random.Random, user: str, known: list[UUID]) -> None:
        """One random change to the user's tasks (``known``: ids the writers made, to pick from)."""

    async def changes(self, user: str, since: Cursor, limit: int) -> Page[Cursor]: ...

    async def live(self, user: str) -> dict[UUID, object]:
        """The user's tasks as the store holds them, once no one writes."""


@dataclass(frozen=True)
class Workload:
    writers: int = 16  # one connection each
    transactions_per_writer: int = 24
    late_share: float = 0.75  # of transactions, those that sleep between their write and their commit
    sleep_seconds: tuple[float, float] = (0.001, 0.008)
    limits: tuple[int, int] = (1, 8)  # a reader's page size, drawn for each page


@dataclass
class Outcome:
    transactions: int = 0
    late_commits: int = 0
    pages: int = 0
    divergences: dict[str, str] = field(default_factory=dict)  # user -> how their copy differs


async def run_workload(store: Store[Cursor], seed: int = SEED, workload: Workload = Workload()) -> Outcome:
    """Run the workload to the end; an error of any write or read propagates, naming the seed."""
    outcome = Outcome()
    known: dict[str, list[UUID]] = {user: [] for user in USERS}
    writing = asyncio.Event()
    writing.set()
    try:
        async with asyncio.TaskGroup() as readers:
            copies = {
                user: readers.create_task(
                    _read(store, random.Random(f"{seed}:reader:{user}"), user, writing, workload, outcome)
                )
                for user in USERS
            }
            async with asyncio.TaskGroup() as writers:
                for n in range(workload.writers):
                    rng = random.Random(f"{seed}:writer:{n}")
                    writers.create_task(_write(store, rng, workload, known, outcome))
            writing.clear()
        for user in USERS:
            difference = divergence(copies[user].result(), await store.live(user))
            if difference:
                outcome.divergences[user] = difference
    except BaseException as exc:
        exc.add_note(f"the workload of seed {seed}: SYNC_WORKLOAD_SEED={seed} replays it")
        raise
    return outcome


async def _write(
    store: Store[Cursor], rng: random.Random, workload: Workload, known: Mapping[str, list[UUID]], outcome: Outcome
) -> None:
    for _ in range(workload.transactions_per_writer):
        user = rng.choice(USERS)
        if rng.random() < workload.late_share:
            async with store.db.transaction() as tx:
                for _ in range(rng.choice((1, 1, 1, 2))):
                    await store.write(tx, rng, user, known[user])
                await tx.execute(SLEEP, rng.uniform(*workload.sleep_seconds))
            outcome.late_commits += 1
        else:
            await store.write(store.db, rng, user, known[user])
        outcome.transactions += 1


async def _read(
    store: Store[Cursor], rng: random.Random, user: str, writing: asyncio.Event, workload: Workload, outcome: Outcome
) -> dict[UUID, object]:
    """Sync the user's copy until the writers are done and a page begun after that is the last."""
    copy: dict[UUID, object] = {}
    cursor = store.start
    while True:
        final = not writing.is_set()  # read before the page: it then sees every commit
        page = await store.changes(user, cursor, rng.randint(*workload.limits))
        outcome.pages += 1
        for task_id in page.deleted:
            copy.pop(task_id, None)
        copy.update(page.changed)
        cursor = page.cursor
        if page.has_more:
            continue
        if final:
            return copy
        await asyncio.sleep(rng.uniform(0.001, 0.01))


def divergence(copy: Mapping[UUID, object], live: Mapping[UUID, object]) -> str:
    """How a reader's copy differs from the live tasks, in words; empty when it equals them."""
    missing = sorted(live.keys() - copy.keys(), key=str)
    undeleted = sorted(copy.keys() - live.keys(), key=str)
    stale = sorted((task_id for task_id in copy.keys() & live.keys() if copy[task_id] != live[task_id]), key=str)
    found = []
    if missing:
        found.append(f"{len(missing)} live tasks missing, e.g. {live[missing[0]]}")
    if undeleted:
        found.append(f"{len(undeleted)} deleted tasks kept, e.g. {copy[undeleted[0]]}")
    if stale:
        found.append(f"{len(stale)} stale, e.g. {copy[stale[0]]} where the store has {live[stale[0]]}")
    return "; ".join(found)
