"""Schemathesis hooks for tests/test_fuzz.py, loaded through SCHEMATHESIS_HOOKS.

A case is labelled negative when any of its parts is (see _label_by_its_parts). And a list
cursor is opaque: only one the service made is valid, and no JSON Schema can say which strings
those are. A case whose query is meant to be valid therefore gets a real cursor, one the
test read from a ``Link`` header for the case's sort (or the trash's); a case meant to break the
cursor keeps its own. So do a body's ``list_id``, ``parent_id`` and ``after`` and a list filter's
``list_id`` and ``parent_id``: a valid one names none. Likewise a change feed's ``since`` is valid
only up to the user's latest revision, which no schema can state: a valid case's ``since`` is cut
to the highest revision the user has been seen to reach, and one meant to be invalid keeps its own.

An export document is valid only as a whole (distinct ids and names, places the user will have):
a valid one is fitted together before it is sent. An erase that went through makes every revision
the user's devices hold older than the change feed's horizon: a valid ``since`` is 0 for them.

The service runs with its default rate limit, which is per user. Every case is generated for
alice (tests/schemathesis.toml) with her token; just before it is sent, it goes to one of the
FUZZ_TOKENS users instead, in turn, so that the session's rate, spread over them, stays under
each one's limit. A case about a task goes to the task's owner, as a client's would: a task
read, changed or deleted after its creation is found. A case whose token or path is not alice's
(one testing a missing or broken token, or another user's path) is sent as generated.

A well-formed Idempotency-Key is made unique to its case. Schemathesis sends the few keys it
generates again and again, and a key sent before with the same method, path and body gets that
earlier answer replayed, as documented, whatever else the case varies (an If-Match it broke, say):
the checks would take that answer for this case's. Replays have tests of their own
(tests/idempotency/); here each case is answered on its own. A malformed key is sent as generated.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import schemathesis
from schemathesis import Case, GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.generation.meta import CoveragePhaseData
from schemathesis.hooks import HookContext

from service.idempotency.keys import HEADER, KEY_MAX, KEY_PATTERN
from service.tasks.listing import DEFAULT_SORT

LIST_PATH = "/api/{user_id}/tasks"
TRASH_PATH = "/api/{user_id}/trash"
CHANGES_PATH = "/api/{user_id}/changes"
ERASE_PATH = "/api/{user_id}"
IMPORT_PATH = "/api/{user_id}/import"
REMINDERS_PATH = "/api/{user_id}/reminders"
CURSORS: dict[str, str] = json.loads(os.environ.get("FUZZ_CURSORS", "{}"))  # sort (or "trash") -> a cursor for it
GENERATED_FOR = "alice"
TOKENS: dict[str, str] = json.loads(os.environ.get("FUZZ_TOKENS", "{}"))  # user -> a token for them
USERS = [user for user in TOKENS if user != GENERATED_FOR] or [GENERATED_FOR]
OWNERS: dict[str, str] = {}  # task id -> its user, from every task the service answered with
REVISIONS: dict[str, int] = {}  # user -> the highest revision the service answered with
ERASED: set[str] = set()  # users whose data a case erased (DELETE /api/{user_id})
_turns = itertools.count()
_keys = itertools.count()


@schemathesis.auth(refresh_interval=None, retry_on=[])
class Alice:
    """Alice's token on every case that is meant to have one; ``spread_over_users`` then picks the user."""

    def get(self, case: Case[Any], context: Any) -> str:
        return TOKENS[GENERATED_FOR]

    def set(self, case: Case[Any], data: str, context: Any) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    spread_over_users(case)
    unique_idempotency_key(case)
    # Here, not in map_case, which the document's example (whose items share one id) does not pass.
    if case.path == IMPORT_PATH and isinstance(case.body, dict) and (case.meta is None or _meant_valid_body(case)):
        _a_document_that_fits_together(case.body)
    if case.method.upper() == "GET" and case.path == REMINDERS_PATH and _meant_valid(case, "to"):
        _a_window_of_at_most_31_days(case.query or {})
    for name in PLACE_FILTERS:  # an example (no generation data) is meant valid too
        if isinstance((case.query or {}).get(name), str) and (case.meta is None or _meant_valid(case, name)):
            case.query[name] = "null"
    if case.method.upper() == "DELETE" and case.path == ERASE_PATH and _meant_valid(case, "confirm"):
        case.query = {**(case.query or {}), "confirm": case.path_parameters["user_id"]}
    if case.method.upper() == "GET" and case.path == CHANGES_PATH and _meant_valid(case, "since"):
        since = str((case.query or {}).get("since", ""))
        if since.isdigit():  # as generated, an int or its digits
            user = str(case.path_parameters["user_id"])
            case.query["since"] = 0 if user in ERASED else min(int(since), REVISIONS.get(user, 0))


@schemathesis.hook
def after_call(context: HookContext, case: Case[Any], response: Response) -> None:
    if 200 <= response.status_code < 300:
        _remember_owners(response)
    if response.status_code == 204 and case.method.upper() == "DELETE" and case.path == ERASE_PATH:
        # Erased: every revision below the erase's is older than the horizon (410), and which one that
        # is the 204 does not say: a valid since for this user is 0 from now on.
        ERASED.add(str(case.path_parameters["user_id"]))


def spread_over_users(case: Case[Any]) -> None:
    """Alice's case, sent as its task's owner, or else as the next user in turn."""
    path = case.path_parameters or {}
    if path.get("user_id") != GENERATED_FOR or case.headers.get("Authorization") != f"Bearer {TOKENS[GENERATED_FOR]}":
        return
    user = OWNERS.get(str(path.get("task_id"))) or USERS[next(_turns) % len(USERS)]
    path["user_id"] = user
    case.headers["Authorization"] = f"Bearer {TOKENS[user]}"


def unique_idempotency_key(case: Case[Any]) -> None:
    """A well-formed key, made unique to the case and still well-formed (its tail is a counter)."""
    key = case.headers.get(HEADER) if case.headers else None
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key):
        tag = f"{next(_keys):x}"
        case.headers[HEADER] = key[: KEY_MAX - len(tag)] + tag


def _remember_owners(response: Response) -> None:
    try:
        body = response.json()
    except ValueError:
        return
    for task in body if isinstance(body, list) else [body]:
        if isinstance(task, dict) and isinstance(task.get("id"), str) and isinstance(task.get("user_id"), str):
            OWNERS[task["id"]] = task["user_id"]
            if isinstance(task.get("revision"), int):
                REVISIONS[task["user_id"]] = max(REVISIONS.get(task["user_id"], 0), task["revision"])


@schemathesis.hook
def map_case(context: HookContext, case: Case[Any]) -> Case[Any]:
    _label_by_its_parts(case)
    if (
        isinstance(case.body, dict)
        and case.method.upper() in {"POST", "PUT", "PATCH"}
        and case.path != IMPORT_PATH  # before_call fits an import's document together
        and _meant_valid_body(case)
    ):
        _a_series_that_occurs(case.body, partial=case.method.upper() == "PATCH")
        _places_that_exist(case.body)
    if case.method.upper() != "GET" or case.path not in (LIST_PATH, TRASH_PATH) or "cursor" not in (case.query or {}):
        return case
    made_for = str(case.query.get("sort", DEFAULT_SORT)) if case.path == LIST_PATH else "trash"
    real = CURSORS.get(made_for)  # none for a sort meant to be invalid
    if real is not None and _meant_valid(case, "cursor"):
        case.query["cursor"] = real
    return case


# A list, parent or task to go after is valid only if the user has it, which no schema can state: a
# valid body names none (the inbox, the top level, first), and a valid filter the inbox or the top.
PLACES = ("list_id", "parent_id", "after")
PLACE_FILTERS = ("list_id", "parent_id")


def _places_that_exist(body: dict[str, Any]) -> None:
    for name in PLACES:
        if isinstance(body.get(name), str):
            body[name] = None


# A rule is valid only if it occurs from its due_at (with COUNT, every time before the last due
# date, 9999-12-30), and a rule or reminders need a due_at, the stored one for a PATCH: rules no
# schema can state. A valid body keeps its shape, with a rule that occurs and the due_at they need.
RULES = ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3", "FREQ=YEARLY;INTERVAL=2"]
DUE = "2026-12-01T09:00:00Z"
LAST_START = "9998"  # due_at compared as text: a year before the last due date leaves every rule room


def _a_series_that_occurs(body: dict[str, Any], *, partial: bool) -> None:
    if isinstance(body.get("recurrence"), str):
        body["recurrence"] = RULES[len(body["recurrence"]) % len(RULES)]
    needs_due = body.get("recurrence") is not None or bool(body.get("reminders"))
    if needs_due and body.get("due_at") is None:
        body["due_at"] = DUE
    if body.get("recurrence") is not None and str(body.get("due_at", DUE)) > LAST_START:
        body["due_at"] = DUE
    if partial and "due_at" in body and body["due_at"] is None:
        body.update(recurrence=None, reminders=[])  # what the task may have needs a due_at


def _a_document_that_fits_together(document: dict[str, Any]) -> None:
    """An export document is valid only as a whole, which no schema can state: its ids distinct, its
    lists' names too, each task's list and parent one the user will have, each series occurring. A
    valid document keeps its shape, with distinct ids and names, every task in the inbox at the top
    level, and rules that occur."""
    for index, item in enumerate(document.get("lists") or []):
        if isinstance(item, dict):
            item["id"] = str(uuid.uuid4())
            if isinstance(item.get("name"), str):
                item["name"] = f"{item['name'].strip()[:90]} {index}"
    for key in ("tasks", "trash"):
        for item in document.get(key) or []:
            if isinstance(item, dict):
                item["id"] = str(uuid.uuid4())
                _places_that_exist(item)
                _a_series_that_occurs(item, partial=False)


def _a_window_of_at_most_31_days(query: dict[str, Any]) -> None:
    """A window is at most 31 days wide, which no schema can state: a valid one is cut to a day."""
    try:
        start, end = (datetime.fromisoformat(str(query[name])) for name in ("from", "to"))
    except (KeyError, ValueError):
        return
    if end - start > timedelta(days=31):
        query["to"] = (start + timedelta(days=1)).isoformat()


def _meant_valid_body(case: Case[Any]) -> bool:
    meta = case.meta
    if meta is None:
        return False
    body = meta.components.get(ParameterLocation.BODY)
    return body is None or body.mode == GenerationMode.POSITIVE


def _label_by_its_parts(case: Case[Any]) -> None:
    """A case with an invalid part is a negative case.

    Schemathesis 4.32's coverage phase labels some cases positive whose headers it generated as
    invalid (``If-Match: 0``, with the header component marked negative), then reports the 400
    they get as valid input refused. Relabelled, they are checked as what they are: invalid input
    that must be refused.
    """
    meta = case.meta
    if meta is not None and any(part.mode == GenerationMode.NEGATIVE for part in meta.components.values()):
        meta.generation.mode = GenerationMode.NEGATIVE


def _meant_valid(case: Case[Any], parameter: str) -> bool:
    """Whether the case means ``parameter`` of its query to be valid."""
    meta = case.meta
    if meta is None:
        return False
    query = meta.components.get(ParameterLocation.QUERY)
    if query is None or query.mode == GenerationMode.POSITIVE:
        return True
    phase = meta.phase.data
    # The coverage phase breaks one named parameter at a time: another one's cursor may be real.
    return isinstance(phase, CoveragePhaseData) and phase.parameter not in (None, parameter)
