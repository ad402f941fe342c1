"""An import: an export document written over the user's data in one transaction, upserting by id.

Ids are the user's own: the primary keys are (user_id, id), so a document that carries another
user's ids (their export) makes copies that belong to the importing user, and touches nothing of
the other user's. A replaced item is deleted and inserted again, so it keeps the timestamps it was
exported with, which an update would move (the triggers of sql/tasks.sql); its list and parent are
checked at the commit (migration 0010) and by ``misplaced`` before it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET

from service.account.schemas import ImportDocument, Imported, ImportedTask, ImportedTrashedTask
from service.db.statements import Exec, Executor, Many, Val
from service.http.field_errors import FieldError
from service.http.problems import problem
from service.tasks import positions

LOCK_COUNTER = Val.bind("lock_counter_revision")
DEFER_PLACE_CHECKS = Exec.bind("defer_place_checks")
TASK_COUNT = Val.bind("task_count")
LIST_COUNT = Val.bind("list_count")
IMPORT_CLEAR = Exec.bind("import_clear")
PLACE_ENDS = Many.bind("place_ends")
IMPORT_LISTS = Val.bind("import_lists")
IMPORT_TASKS = Val.bind("import_tasks")
IMPORT_TRASH = Val.bind("import_trash")
MISPLACED_TASKS = Many.bind("misplaced_tasks")
NAME_INDEX = "lists_user_name_idx"

Place = tuple[UUID | None, UUID | None]


def check_ids(document: ImportDocument) -> None:
    """A FieldError naming the second item of the document that has an id already given."""
    seen: set[UUID] = set()
    for index, item in enumerate(document.lists):
        if item.id in seen:
            raise FieldError(f"lists[{index}].id", "this id is given to another list of the document already")
        seen.add(item.id)
    names: set[str] = set()
    for index, item in enumerate(document.lists):
        if item.name.lower() in names:
            raise FieldError(f"lists[{index}].name", "another list of the document has this name (ignoring case)")
        names.add(item.name.lower())
    seen.clear()
    for where, items in (("tasks", document.tasks), ("trash", document.trash)):
        for index, task in enumerate(items):
            if task.id in seen:
                raise FieldError(f"{where}[{index}].id", "this id is given to another task of the document already")
            seen.add(task.id)


def place_of(task: ImportedTask, parents: dict[UUID, ImportedTask]) -> Place:
    """Where a task goes, as on create: ``list_id`` omitted is its parent's list for a subtask, else the inbox."""
    parent_id = None if task.parent_id is UNSET else task.parent_id
    if task.list_id is not UNSET:
        return task.list_id, parent_id
    parent = parents.get(parent_id) if parent_id is not None else None
    return (None if parent is None or parent.list_id is UNSET else parent.list_id), parent_id


async def run(db: Executor, *, user_id: str, document: ImportDocument, quota: int, max_lists: int) -> Imported:
    """Write the document over the user's data; ``db`` is a transaction, rolled back on any error."""
    check_ids(document)
    revision: int = await db.fetchval(LOCK_COUNTER.sql, user_id)
    await db.execute(DEFER_PLACE_CHECKS.sql)
    had: int = await db.fetchval(TASK_COUNT.sql, user_id)
    task_ids = [task.id for task in document.tasks] + [task.id for task in document.trash]
    await db.execute(IMPORT_CLEAR.sql, user_id, task_ids, [item.id for item in document.lists])

    now = datetime.now(UTC)
    lists = []
    for item in document.lists:
        revision += 1
        created = item.created_at or now
        lists.append(
            {
                "id": item.id,
                "name": item.name,
                "revision": revision,
                "created_at": created,
                "updated_at": item.updated_at or created,
            }
        )
    try:
        made_lists: int = await db.fetchval(IMPORT_LISTS.sql, user_id, _json(lists))
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == NAME_INDEX:
            raise problem(
                409,
                "a list you have, not in the document, has the name of a list in it: "
                "rename one of them; nothing was written",
            ) from exc
        raise
    if await db.fetchval(LIST_COUNT.sql, user_id) > max_lists:
        raise problem(409, f"this import would give you more than {max_lists:,} lists; nothing was written")

    ends: dict[Place, str] = {
        (row["list_id"], row["parent_id"]): row["position"] for row in await db.fetch(PLACE_ENDS.sql, user_id)
    }
    parents = {task.id: task for task in document.tasks}
    rows = []
    for task in document.tasks:
        revision += 1
        rows.append(_row(task, revision, now, place_of(task, parents), ends))
    made: int = await db.fetchval(IMPORT_TASKS.sql, user_id, _json(rows))
    trashed = []
    for task in document.trash:
        revision += 1
        trashed.append(_row(task, revision, now, place_of(task, parents), ends))
    made += await db.fetchval(IMPORT_TRASH.sql, user_id, _json(trashed))

    count: int = await db.fetchval(TASK_COUNT.sql, user_id)
    if count > quota and count > had:
        raise problem(
            409,
            f"this import would give you {count:,} tasks, more than the {quota:,} one user may have; "
            "nothing was written",
        )
    await _check_places(db, user_id, document)
    return Imported(lists=made_lists, tasks=made)


def _row(task: ImportedTask, revision: int, now: datetime, place: Place, ends: dict[Place, str]) -> dict[str, Any]:
    position = ends[place] = positions.between(ends.get(place), None)
    created = task.created_at or now
    updated = task.updated_at or created
    row = {
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "priority": task.priority,
        "tags": task.tags,
        "due_at": task.due_at,
        "completed_at": (task.completed_at or updated) if task.completed else None,
        "created_at": created,
        "updated_at": updated,
        "revision": revision,
        "recurrence": task.recurrence,
        "time_zone": task.time_zone,
        "reminders": task.reminders,
        "series_id": task.series_id,
        "list_id": place[0],
        "parent_id": place[1],
        "position": position,
    }
    if isinstance(task, ImportedTrashedTask):
        row["deleted_at"] = task.deleted_at
    return row


async def _check_places(db: Executor, user_id: str, document: ImportDocument) -> None:
    """A FieldError naming the item that left a live task in no list of the user's, or under no fit parent."""
    bad = await db.fetch(MISPLACED_TASKS.sql, user_id)
    if not bad:
        return
    where = {task.id: f"tasks[{index}]" for index, task in enumerate(document.tasks)}
    where.update({task.id: f"trash[{index}]" for index, task in enumerate(document.trash)})
    for row in bad:
        if row["id"] in where:
            if row["no_list"]:
                raise FieldError(f"{where[row['id']]}.list_id", "Expected a list of the document, or one you have")
            raise FieldError(
                f"{where[row['id']]}.parent_id",
                "Expected a live task of the document, or one you have, in the same list, that is no subtask "
                "itself, given to a task that has no subtasks",
            )
    for row in bad:
        if row["parent_id"] in where:
            raise FieldError(
                where[row["parent_id"]],
                "a subtask you have, not in the document, would be left without a live top-level parent in its list",
            )
    raise FieldError(None, "the import would leave one of your tasks without its list or parent")


def _utc(value: object) -> object:
    """A moment in UTC: PostgreSQL reads an offset of at most 15:59 from text, Python takes up to 23:59."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


_encoder = msgspec.json.Encoder()


def _json(rows: list[dict[str, Any]]) -> str:
    """The rows as the JSON array the statements read with jsonb_to_recordset, every moment in UTC."""
    return _encoder.encode([{key: _utc(value) for key, value in row.items()} for row in rows]).decode()
