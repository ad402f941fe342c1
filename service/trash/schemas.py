"""The trash's shapes: a trashed task, and the place a page of the trash ends."""

from __future__ import annotations

from datetime import datetime

from service.tasks.schemas import Task


class TrashedTask(Task):
    """A task in the trash, as it was when deleted; built positionally like Task."""

    deleted_at: datetime
