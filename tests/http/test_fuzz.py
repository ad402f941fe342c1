"""Schemathesis against the real server, from the service's own OpenAPI document (``make fuzz``).

Every operation, with inputs the document says are valid and inputs it says are not, in every
phase: the document's examples, coverage of each parameter's edges, random fuzzing, and stateful
sequences (create a task, then read, change and delete what was created). Every check runs: no
5xx, responses, status codes, headers and content types as documented, invalid input refused,
valid input accepted, requests without the token refused, and nothing found after its deletion.

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


def real_cursors(base: str, headers: dict[str, str]) -> dict[str, str]:
    """A cursor per sort, from a first page's ``Link`` header, as a client would get one."""
    with httpx.Client(base_url=base, headers=headers) as http:
        for title in ("first", "second"):
            assert http.post("/api/alice/tasks", json={"title": title}).status_code == 201
        cursors = {}
        for sort in get_args(Sort):
            link = http.get("/api/alice/tasks", params={"sort": sort, "limit": 1}).headers["Link"]
            cursors[sort] = parse_qs(urlsplit(link.partition(">")[0].lstrip("<")).query)["cursor"][0]
        return cursors


def test_schemathesis_finds_nothing(migrated: str, tmp_path: Path) -> None:
    env = {**clean_env(), "DATABASE_URL": migrated, "BETTER_AUTH_SECRET": SECRET, "WORKERS": "1"}
    with served({**env, "RATE_LIMIT_PER_MINUTE": "0", "ACCESS_LOG": "false"}, tmp_path) as (_process, base):
        headers = bearer("alice", ttl_seconds=FUZZ_SECONDS + 3600)
        fuzzer = {
            **clean_env(),
            "FUZZ_TOKEN": headers["Authorization"].removeprefix("Bearer "),
            "FUZZ_CURSORS": json.dumps(real_cursors(base, headers)),
            "SCHEMATHESIS_HOOKS": "tests.support.fuzz_hooks",
            "PYTHONPATH": str(ROOT),
        }
        started = time.monotonic()
        result = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(ROOT / "tests/schemathesis.toml")),
                *("run", f"{base}/docs/openapi.json", "--checks", "all", "--max-time", str(FUZZ_SECONDS)),
                *("--report", "junit", "--report-dir", str(tmp_path / "report")),
            ],
            env=fuzzer,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=FUZZ_SECONDS + 600,
            check=False,
        )
    print(f"schemathesis ran {time.monotonic() - started:.0f} s:\n{result.stdout[-3000:]}")
    assert result.returncode == 0, f"{result.stdout[-30000:]}\n{result.stderr[-5000:]}"
