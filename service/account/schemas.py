"""The export document, and what an import takes and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from service.lists.schemas import Name, TaskList, trimmed_name
from service.tasks.schemas import Task, TaskCreate, check_due
from service.trash.schemas import TrashedTask

FORMAT = "task-api-export"
VERSION = 1


class Export(msgspec.Struct):
    """Every list, live task and trashed task of the user, as the API shows them.

    ``tasks`` come in the user's own order, place by place; ``trash`` the latest deleted first."""

    format: Literal["task-api-export"]
    version: Literal[1]
    exported_at: datetime
    lists: list[TaskList]
    tasks: list[Task]
    trash: list[TrashedTask]


Moment = Annotated[datetime, Meta(tz=True, description="RFC 3339 with an offset; kept as exported.")]


def _check_moments(item: msgspec.Struct, fields: tuple[str, ...]) -> None:
    for field in fields:
        moment = getattr(item, field)
        if moment is not None:
            check_due(moment, field)


class ImportedList(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A list of an export: its name validated as on create; id and timestamps kept; the rest ignored."""

    id: UUID
    name: Name
    created_at: Moment | None = None
    updated_at: Moment | None = None
    user_id: str | None = None  # read-only: the importing user owns it
    revision: int | None = None  # read-only: the import takes new ones

    def __post_init__(self) -> None:
        self.name = trimmed_name(self.name)
        _check_moments(self, ("created_at", "updated_at"))


class ImportedTask(TaskCreate, kw_only=True):
    """A task of an export: its writable fields validated as on create; id, created_at, updated_at
    and completed_at kept; series_id kept for a series; the other read-only fields ignored."""

    id: UUID
    completed: bool = False
    completed_at: Moment | None = None
    created_at: Moment | None = None
    updated_at: Moment | None = None
    series_id: UUID | None = None
    user_id: str | None = None
    revision: int | None = None
    position: str | None = None
    subtasks: int | None = None
    subtasks_open: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_moments(self, ("completed_at", "created_at", "updated_at"))


class ImportedTrashedTask(ImportedTask, kw_only=True):
    """A trashed task of an export: it comes back trashed, deleted when it says (never later than now)."""

    deleted_at: Moment | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_moments(self, ("deleted_at",))


class ImportDocument(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An export document (GET /api/{user_id}/export), of this service or another instance of it."""

    format: Literal["task-api-export"]
    version: Literal[1]
    exported_at: Moment | None = None
    lists: list[ImportedList] = msgspec.field(default_factory=list)
    tasks: list[ImportedTask] = msgspec.field(default_factory=list)
    trash: list[ImportedTrashedTask] = msgspec.field(default_factory=list)


class Imported(msgspec.Struct):
    """How many lists and tasks (live and trashed) the import wrote."""

    lists: int
    tasks: int
