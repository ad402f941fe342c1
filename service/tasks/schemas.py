"""Request and response shapes. Validation lives here, in the types."""

from __future__ import annotations

from datetime import date, datetime
from importlib import resources
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from service.http.field_errors import FieldError, Source
from service.tasks import recurrence

TITLE_MAX = 200
DESCRIPTION_MAX = 1000
TAGS_MAX = 10
TAG_MAX = 32

# The IANA zone names, from the tzdata package rather than the machine: the same list everywhere,
# and the one PostgreSQL knows (its pg_timezone_names, checked in the tests).
TIME_ZONES = frozenset(resources.files("tzdata").joinpath("zones").read_text().split())

# PostgreSQL text cannot hold NUL; refuse it here rather than as a database error.
_NO_NUL = r"^[^\x00]*$"

# The contract counts a title's or a tag's length after trimming, so ``_trimmed`` and
# ``normalise_tag`` check it; the OpenAPI document states it as a pattern (service.tasks.openapi).
Title = Annotated[
    str,
    Meta(
        pattern=_NO_NUL,
        description="1 to 200 characters after surrounding white space is trimmed.",
        examples=["Buy milk"],
    ),
]
Description = Annotated[
    str,
    Meta(
        max_length=DESCRIPTION_MAX,
        pattern=_NO_NUL,
        description="Up to 1000 characters.",
        examples=["Two litres, semi-skimmed"],
    ),
]


Priority = Literal["low", "medium", "high"]  # sorts in this order

Tag = Annotated[
    str,
    Meta(
        pattern=_NO_NUL,
        description=f"1 to {TAG_MAX} characters after trimming; stored lower-case.",
        examples=["home"],
    ),
]
Tags = Annotated[
    list[Tag],
    Meta(
        max_length=TAGS_MAX,
        description=f"Up to {TAGS_MAX} labels; trimmed, lower-cased and de-duplicated (first one kept).",
        examples=[["home", "errands"]],
    ),
]
# RFC 3339 with an offset: a due time without one would mean a different instant to each reader.
# Its date must also leave a day to Python's first and last (0001-01-01, 9999-12-31): asyncpg
# stores those instants as -infinity and infinity, and an offset could carry one past them.
DUE_DATES = (date(1, 1, 2), date(9999, 12, 30))
DUE_RANGE = f"Expected a date from {DUE_DATES[0]} to {DUE_DATES[1]}"
DUE_DATE_PATTERN = "^(?!0001-01-01|9999-12-31)"  # the same rule, for the OpenAPI document
DueAt = Annotated[
    datetime,
    Meta(tz=True, description="RFC 3339 with an offset, e.g. 2026-11-30T17:00:00Z.", examples=["2026-11-30T17:00:00Z"]),
]


RuleValue = Annotated[
    str,
    Meta(
        max_length=200,
        description="An RFC 5545 RRULE value: FREQ (DAILY, WEEKLY, MONTHLY or YEARLY), and optionally INTERVAL, "
        "BYDAY, BYMONTHDAY, BYMONTH, and COUNT or UNTIL. Needs `due_at`, the first occurrence. A leading `RRULE:` "
        "is accepted and dropped.",
        examples=["FREQ=WEEKLY;BYDAY=MO,WE"],
    ),
]
TimeZone = Annotated[
    str,
    Meta(
        max_length=64,
        description="The IANA zone whose wall clock the rule follows, so a 09:00 task stays at 09:00 across "
        "daylight saving.",
        examples=["Europe/Paris"],
    ),
]
REMINDERS_MAX = 5
REMINDER_MINUTES_MAX = 40320  # four weeks
# A whole number of minutes; JSON Schema's integer includes 30.0, so a whole float is one too.
Reminders = Annotated[
    list[Annotated[int, Meta(ge=0, le=REMINDER_MINUTES_MAX)] | Annotated[float, Meta(ge=0, le=REMINDER_MINUTES_MAX)]],
    Meta(
        max_length=REMINDERS_MAX,
        description=f"Up to {REMINDERS_MAX} distinct whole minutes before `due_at` (0 to {REMINDER_MINUTES_MAX}) "
        "at which to remind; needs `due_at`.",
        examples=[[0, 30]],
    ),
]


UNKNOWN_TIME_ZONE = "unknown time zone; use an IANA name such as Europe/Paris"


def check_time_zone(zone: str, field: str = "time_zone", source: Source = "body") -> str:
    if zone not in TIME_ZONES:
        raise FieldError(field, UNKNOWN_TIME_ZONE, source)
    return zone


def check_reminders(given: list[int | float]) -> list[int | float]:
    """The reminders as whole minutes (ints), each once; a FieldError naming the first that is not."""
    reminders: list[int | float] = []
    for index, minutes in enumerate(given):
        if isinstance(minutes, float) and not minutes.is_integer():
            raise FieldError(f"reminders[{index}]", "Expected whole minutes")
        reminders.append(int(minutes))
    if len(set(reminders)) != len(reminders):
        raise FieldError("reminders", "Expected distinct minutes, each at most once")
    return reminders


def storable(moment: datetime) -> bool:
    """Whether PostgreSQL, through asyncpg, keeps this moment as it is (see DUE_DATES)."""
    return DUE_DATES[0] <= moment.date() <= DUE_DATES[1]


def check_due(moment: datetime, field: str = "due_at", source: Source = "body") -> datetime:
    if not storable(moment):
        raise FieldError(field, DUE_RANGE, source)
    return moment


def normalise_tag(tag: str, field: str = "tags", source: Source = "body") -> str:
    """A tag as stored: trimmed and lower-case, 1 to TAG_MAX characters."""
    normal = tag.strip().lower()
    if "\x00" in normal:  # a query's tag; a body's has been refused by its pattern already
        raise FieldError(field, "Expected each tag without NUL characters", source)
    if not 1 <= len(normal) <= TAG_MAX:
        message = f"Expected each tag to be 1 to {TAG_MAX} characters after trimming, got {len(normal)}"
        raise FieldError(field, message, source)
    return normal


def normalise_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(normalise_tag(tag) for tag in tags))


def _trimmed(title: str) -> str:
    stripped = title.strip()
    if not 1 <= len(stripped) <= TITLE_MAX:
        limits = f"Expected `str` of 1 to {TITLE_MAX} characters after trimming surrounding white space"
        raise FieldError("title", f"{limits}, got {len(stripped)}")
    return stripped


class _Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: unknown fields are an error, not silently dropped.

    A check in ``__post_init__`` raises a FieldError naming its field: msgspec hands it on
    with where this Struct sits in the body (service.http.field_errors).
    """


ListId = Annotated[
    UUID,
    Meta(description="A list of the user (`/api/{user_id}/lists`); null: the inbox, which is no list."),
]
ParentId = Annotated[
    UUID,
    Meta(
        description="The task this one is a subtask of: a task of the user in the same list that is no subtask "
        "itself (one level, as in Google Tasks); null: none."
    ),
]


class TaskCreate(_Input):
    """A new task; it goes last in its place (its list, under its parent).

    ``list_id`` omitted: the parent's list for a subtask, else the inbox."""

    title: Title
    description: Description | None = None
    priority: Priority = "medium"
    tags: Tags = msgspec.field(default_factory=list)
    due_at: DueAt | None = None
    recurrence: RuleValue | None = None
    time_zone: TimeZone = "UTC"
    reminders: Reminders = msgspec.field(default_factory=list)
    list_id: ListId | UnsetType | None = UNSET
    parent_id: ParentId | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        self.title = _trimmed(self.title)
        self.tags = normalise_tags(self.tags)
        if self.due_at is not None:
            check_due(self.due_at)
        check_time_zone(self.time_zone)
        self.reminders = check_reminders(self.reminders)
        if self.reminders and self.due_at is None:
            raise FieldError("reminders", "needs a due_at: reminders count minutes before it")
        if self.recurrence is not None:
            self.recurrence = recurrence.parse_rule(self.recurrence)
            if self.due_at is None:
                raise FieldError("recurrence", "needs a due_at: the series' first occurrence")
            recurrence.check_occurs(self.recurrence, self.due_at, self.time_zone)


class TaskReplace(TaskCreate):
    """The whole writable content: an omitted field gets its default, except completed, list_id and
    parent_id, which stay as they are (a task given another list or parent goes last there)."""

    completed: bool | None = None


class TaskUpdate(_Input):
    """Any non-empty subset of the writable fields; null clears description and due_at."""

    title: Title | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    completed: bool | UnsetType = UNSET
    priority: Priority | UnsetType = UNSET
    tags: Tags | UnsetType = UNSET
    due_at: DueAt | UnsetType | None = UNSET
    recurrence: RuleValue | UnsetType | None = UNSET
    time_zone: TimeZone | UnsetType = UNSET
    reminders: Reminders | UnsetType = UNSET
    list_id: ListId | UnsetType | None = UNSET
    parent_id: ParentId | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        if all(getattr(self, field) is UNSET for field in self.__struct_fields__):
            raise FieldError(None, f"give at least one of {', '.join(self.__struct_fields__)}")
        if self.title is not UNSET:
            self.title = _trimmed(self.title)
        if self.tags is not UNSET:
            self.tags = normalise_tags(self.tags)
        if isinstance(self.due_at, datetime):
            check_due(self.due_at)
        if isinstance(self.time_zone, str):
            check_time_zone(self.time_zone)
        if isinstance(self.reminders, list):
            self.reminders = check_reminders(self.reminders)
        if isinstance(self.recurrence, str):
            self.recurrence = recurrence.parse_rule(self.recurrence)

    @property
    def touches_series(self) -> bool:
        """Whether the change could make the task's rule never occur: its rule, due_at or zone."""
        return any(getattr(self, field) is not UNSET for field in ("recurrence", "due_at", "time_zone"))


class CompletedUpdate(_Input):
    completed: bool


class TaskMove(_Input):
    """Where a task goes: right after ``after`` (null: first), in ``list_id`` under ``parent_id``."""

    after: Annotated[
        UUID | None,
        Meta(description="The task to go right after, in the place the task goes to; null: first there."),
    ]
    list_id: ListId | UnsetType | None = UNSET
    parent_id: ParentId | UnsetType | None = UNSET


class Task(msgspec.Struct):
    """A task as stored; built positionally from rows whose columns follow this field order."""

    id: UUID
    user_id: str
    title: str
    description: str | None
    completed: bool
    priority: Priority
    tags: list[str]
    due_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    revision: int  # the user's revision at the task's latest change (GET /api/{user_id}/changes)
    recurrence: str | None
    time_zone: str
    reminders: list[int]
    series_id: UUID | None  # shared by every occurrence of a series
    list_id: UUID | None  # null: the inbox
    parent_id: UUID | None  # the task this one is a subtask of
    position: str  # the user's own order within the list and parent (service.tasks.positions)
    subtasks: int  # how many live subtasks it has
    subtasks_open: int  # and how many of those are open


class TaskStats(msgspec.Struct):
    """Counts over all of the user's tasks; overdue and due_today count open tasks only."""

    total: int
    completed: int
    open: int
    overdue: int
    due_today: int
    by_priority: dict[Priority, int]
    by_tag: dict[str, int]


class Deleted(msgspec.Struct):
    deleted: int
