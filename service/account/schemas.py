"""The export document, and what an import takes and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from service.lists.schemas import TaskList
from service.tasks.schemas import Task
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
