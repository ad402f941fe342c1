"""Schemathesis hooks for tests/test_fuzz.py, loaded through SCHEMATHESIS_HOOKS.

A case is labelled negative when any of its parts is (see _label_by_its_parts). And a list
cursor is opaque: only one the service made is valid, and no JSON Schema can say which strings
those are. A case whose query is meant to be valid therefore gets a real cursor, one the
test read from a ``Link`` header for the case's sort; a case meant to break the cursor keeps its own.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from schemathesis import Case, GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import CoveragePhaseData
from schemathesis.hooks import HookContext

from service.tasks.listing import DEFAULT_SORT

LIST_PATH = "/api/{user_id}/tasks"
CURSORS: dict[str, str] = json.loads(os.environ.get("FUZZ_CURSORS", "{}"))  # sort -> a cursor for it


@schemathesis.hook
def map_case(context: HookContext, case: Case[Any]) -> Case[Any]:
    _label_by_its_parts(case)
    if case.method.upper() != "GET" or case.path != LIST_PATH or not case.query or "cursor" not in case.query:
        return case
    real = CURSORS.get(str(case.query.get("sort", DEFAULT_SORT)))  # none for a sort meant to be invalid
    if real is not None and _cursor_meant_valid(case):
        case.query["cursor"] = real
    return case


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


def _cursor_meant_valid(case: Case[Any]) -> bool:
    meta = case.meta
    if meta is None:
        return False
    query = meta.components.get(ParameterLocation.QUERY)
    if query is None or query.mode == GenerationMode.POSITIVE:
        return True
    phase = meta.phase.data
    # The coverage phase breaks one named parameter at a time: another one's cursor may be real.
    return isinstance(phase, CoveragePhaseData) and phase.parameter not in (None, "cursor")
