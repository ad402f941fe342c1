"""The TypeScript client (clients/typescript): generated from the current document, and working against the service.

Needs Node 20 and the client's packages (``make client`` or ``npm ci`` in clients/typescript): without
them the tests skip, except in CI (``CI`` set), where that is a failure, not a silent skip.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import SECRET, bearer
from tests.support.server import clean_env, served

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
GENERATED = ("openapi.json", "src/schema.ts")  # what make client writes, both committed


def node_packages() -> None:
    if shutil.which("npm") and (CLIENT / "node_modules" / ".package-lock.json").is_file():
        return
    reason = "the TypeScript client's packages are not installed: make client installs them (needs Node 20 and npm)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env or {**clean_env()}, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"
    return result.stdout


def test_the_committed_client_is_generated_from_the_current_document(tmp_path: Path) -> None:
    """make client again, into a scratch copy of the project: it must write what is committed."""
    node_packages()
    scratch = tmp_path / "typescript"
    (scratch / "src").mkdir(parents=True)
    shutil.copy(CLIENT / "package.json", scratch)
    (scratch / "node_modules").symlink_to(CLIENT / "node_modules")
    run([sys.executable, str(ROOT / "clients" / "openapi_document.py"), str(scratch / "openapi.json")], ROOT)
    run(["npm", "run", "--silent", "generate"], scratch)
    for name in GENERATED:
        committed, fresh = (CLIENT / name).read_text(), (scratch / name).read_text()
        diff = difflib.unified_diff(
            committed.splitlines(), fresh.splitlines(), f"committed {name}", "fresh", lineterm=""
        )
        assert committed == fresh, "the TypeScript client is stale: run make client\n" + "\n".join(list(diff)[:80])


def test_the_client_against_the_live_service(migrated: str, tmp_path: Path) -> None:
    """Compiles the client and its test with tsc, then runs it with Node's test runner."""
    node_packages()
    run_id = uuid.uuid4().hex[:8]
    user, other = f"ts-{run_id}-alice", f"ts-{run_id}-bob"
    env = {**clean_env(), "DATABASE_URL": migrated, "BETTER_AUTH_SECRET": SECRET, "WORKERS": "1"}
    with served(env, tmp_path) as (_process, base):
        output = run(
            ["npm", "test", "--silent"],
            CLIENT,
            {
                **clean_env(),
                "TASK_API_URL": base,
                "TASK_API_USER": user,
                "TASK_API_TOKEN": token(user),
                "TASK_API_OTHER_USER": other,
                "TASK_API_OTHER_TOKEN": token(other),
                "TASK_API_EXPIRED_TOKEN": token(user, ttl_seconds=-120),
                "TASK_API_EVENTS_TOKEN": token(f"{user}-events"),
            },
        )
    print(output)
    assert "# fail 0" in output


def token(user: str, ttl_seconds: int = 900) -> str:
    return bearer(user, ttl_seconds=ttl_seconds)["Authorization"].removeprefix("Bearer ")
