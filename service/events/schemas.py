"""The events' shapes: what a stream sends, and what a fired reminder's notification carries."""

from __future__ import annotations

import msgspec

from service.reminders.schemas import Reminder


class Revision(msgspec.Struct, frozen=True):
    """The data of ``ready`` and ``changed``: the user's revision, to catch up from with /changes."""

    revision: int


class Fired(msgspec.Struct, frozen=True):
    """A fired reminder's notification: whose, and the reminder as GET /reminders lists it."""

    user_id: str
    reminder: Reminder


class FiredRaw(msgspec.Struct, frozen=True):
    """A fired reminder's notification as a listener reads it: the reminder stays encoded, to be sent as it is."""

    user_id: str
    reminder: msgspec.Raw
