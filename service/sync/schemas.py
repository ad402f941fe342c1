"""The change feed's answer."""

from __future__ import annotations

from uuid import UUID

import msgspec

from service.lists.schemas import TaskList
from service.tasks.schemas import Task


class Changes(msgspec.Struct):
    """What changed after the client's revision; send ``revision`` as ``since`` next time."""

    revision: int
    has_more: bool
    tasks: list[Task]
    deleted_tasks: list[UUID]
    lists: list[TaskList]
    deleted_lists: list[UUID]
