"""Schemathesis against the real server, from the service's own OpenAPI document (``make fuzz``).

Every operation, with inputs the document says are valid and inputs it says are not, in every
phase: the document's examples, coverage of each parameter's edges, random fuzzing, and stateful
sequences (create a task, then read, change and delete what was created). Every check runs: no
5xx, responses, status codes, headers and content types as documented, invalid input refused,
valid input accepted, requests without the token refused; all but "nothing found after its
deletion", since a deleted task goes to the trash, from where it can be restored.

The server runs with the default rate limit, which counts per user. The session's requests are
spread over USERS (tests/support/fuzz_hooks.py), so that each one's share stays under it. A 429
that still comes (a burst of cases about one task, all its owner's) is checked as any answer
is, status, headers and body as documented; then schemathesis waits for its ``Retry-After``
and sends the case again (``rate-limit = "auto"``). Each wait costs the session a second or
more, so the test fails when 429s could have taken a third of it: too few users.

Not part of ``make test``: CI runs it for FUZZ_SECONDS (120 by default) after the suite; a
longer hunt is ``make fuzz FUZZ_SECONDS=1800``. A failure prints schemathesis's report, with a
curl command and ``st replay`` for each finding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import get_args
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from service.tasks.listing import Sort
from tests.conftest import SECRET, bearer
from tests.support.server import clean_env, served

pytestmark = pytest.mark.fuzz

ROOT = Path(__file__).resolve().parents[2]
FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "120"))
# About 40 requests a second here: 16 users get 2 to 3 each, a quarter of the default 10.
USERS = [f"fuzz-{n:02d}" for n in range(16)]


def real_cursors(base: str, headers: dict[str, str]) -> dict[str, str]:
    """A cursor per sort, and one for the trash, from a first page's ``Link`` header, as a client gets one."""
    with httpx.Client(base_url=base, headers=headers) as http:
        for title in ("first", "second", "trashed", "trashed too"):
            assert http.post("/api/alice/tasks", json={"title": title}).status_code == 201
        for task in http.get("/api/alice/tasks", params={"q": "trashed"}).json():
            assert http.delete(f"/api/alice/tasks/{task['id']}").status_code == 204
        pages = {sort: ("/api/alice/tasks", {"sort": sort}) for sort in get_args(Sort)}
        pages["trash"] = ("/api/alice/trash", {})
        cursors = {}
        for made_for, (path, params) in pages.items():
            link = http.get(path, params={**params, "limit": 1}).headers["Link"]
            cursors[made_for] = parse_qs(urlsplit(link.partition(">")[0].lstrip("<")).query)["cursor"][0]
        return cursors


def answers(base: str) -> dict[str, int]:
    """How many requests the server answered with each status, from its own metrics."""
    counts: dict[str, int] = {}
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith("task_api_requests_total{"):
            status = line.partition('status_code="')[2].partition('"')[0]
            counts[status] = counts.get(status, 0) + int(float(line.rpartition(" ")[2]))
    return counts


def test_schemathesis_finds_nothing(migrated: str, tmp_path: Path) -> None:
    env = {**clean_env(), "DATABASE_URL": migrated, "BETTER_AUTH_SECRET": SECRET, "WORKERS": "1"}
    with served({**env, "ACCESS_LOG": "false"}, tmp_path) as (_process, base):
        tokens = {
            user: bearer(user, ttl_seconds=FUZZ_SECONDS + 3600)["Authorization"].removeprefix("Bearer ")
            for user in ["alice", *USERS]
        }
        fuzzer = {
            **clean_env(),
            "FUZZ_TOKENS": json.dumps(tokens),
            "FUZZ_CURSORS": json.dumps(real_cursors(base, {"Authorization": f"Bearer {tokens['alice']}"})),
            "SCHEMATHESIS_HOOKS": "tests.support.fuzz_hooks",
            "PYTHONPATH": str(ROOT),
        }
        started = time.monotonic()
        result = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(ROOT / "tests/schemathesis.toml")),
                *("run", f"{base}/docs/openapi.json", "--checks", "all", "--max-time", str(FUZZ_SECONDS)),
                # "A deleted resource stays gone" does not hold here: DELETE moves a task to the trash,
                # and POST .../trash/{id}/restore brings it back, by design (tests/trash/ checks both).
                *("--exclude-checks", "use_after_free"),
                # An event stream is held open until the client goes: every valid request would
                # wait out the request timeout. tests/events/ checks the route, its refusals included.
                *("--exclude-path", "/api/{user_id}/events"),
                *("--report", "junit", "--report-dir", str(tmp_path / "report")),
            ],
            env=fuzzer,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=FUZZ_SECONDS + 600,
            check=False,
        )
        answered = answers(base)
    print(f"schemathesis ran {time.monotonic() - started:.0f} s:\n{result.stdout[-3000:]}")
    print(f"the server's answers by status: {dict(sorted(answered.items()))}")
    assert result.returncode == 0, f"{result.stdout[-30000:]}\n{result.stderr[-5000:]}"
    assert answered.get("429", 0) <= FUZZ_SECONDS / 3, "the session waited out too many 429s: spread it wider"
