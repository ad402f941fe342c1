""".ci/audit_locks.py as CI runs it, against a PyPI JSON API on 127.0.0.1: clean pins pass, any finding fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "audit_locks.py"
Document = dict[str, object]


class Index:
    """What the fake index answers: ``pages`` by path, 404 for anything else; ``failures`` 500s first."""

    def __init__(self) -> None:
        self.url = ""
        self.pages: dict[str, tuple[int, bytes]] = {}
        self.failures: dict[str, int] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def page(self, path: str, document: Document, status: int = 200) -> None:
        self.pages[path] = (status, json.dumps(document).encode())

    def project(self, name: str, document: Document) -> None:
        self.page(f"/{name}/json", document)

    def answer(self, path: str) -> tuple[int, bytes]:
        with self.lock:
            self.requests.append(path)
            if self.failures.get(path, 0) > 0:
                self.failures[path] -= 1
                return 500, b"Internal Server Error"
            return self.pages.get(path, (404, b'{"message": "Not Found"}'))


@pytest.fixture
def index() -> Iterator[Index]:
    state = Index()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = state.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def release(days_ago: float, yanked: str | None = None) -> list[Document]:
    """A release's files as PyPI lists them: an sdist, and a wheel uploaded a minute later."""
    uploaded = datetime.now(UTC) - timedelta(days=days_ago)
    return [
        {
            "filename": filename,
            "upload_time_iso_8601": (uploaded + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
            "yanked": yanked is not None,
            "yanked_reason": yanked,
        }
        for minute, filename in enumerate(["pkg.tar.gz", "pkg-py3-none-any.whl"])
    ]


def project(latest: str, releases: dict[str, list[Document]], *vulnerabilities: Document) -> Document:
    return {"info": {"version": latest}, "releases": releases, "vulnerabilities": list(vulnerabilities)}


def advisory(identifier: str, *aliases: str, fixed_in: tuple[str, ...] = (), withdrawn: str | None = None) -> Document:
    return {
        "id": identifier,
        "aliases": list(aliases),
        "summary": None,
        "details": f"{identifier} lets a crafted request read other users' data.\nMore detail.",
        "fixed_in": list(fixed_in),
        "link": f"https://osv.dev/vulnerability/{identifier}",
        "source": "osv",
        "withdrawn": withdrawn,
    }


def audit(index: Index, tmp_path: Path, *locks: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    paths = []
    for number, text in enumerate(locks):
        paths.append(tmp_path / f"requirements-{number}.lock")
        paths[-1].write_text(text)
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, paths), "--index-url", index.url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def summary(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.splitlines()[-1]


def test_pins_at_the_latest_release_pass_and_names_are_canonicalised(index: Index, tmp_path: Path) -> None:
    index.project("jinja2", project("3.1.6", {"3.1.5": release(400), "3.1.6": release(200)}))
    index.project("typing-extensions", project("4.15.0", {"4.15.0": release(60)}))
    index.project("uvloop", project("0.23.0", {"0.23.0": release(1)}))
    index.project("pytest", project("9.0.0", {"9.0.0": release(30)}))
    runtime = 'Jinja2==3.1.6\n    # via litestar\ntyping_extensions==4.15.0\nuvloop==0.23.0 ; sys_platform != "win32"\n'
    dev = "#\n# pip-compile output\n#\njinja2==3.1.6\nTyping.Extensions==4.15.0\npytest==9.0.0\n    # via x\n"

    result = audit(index, tmp_path, runtime, dev)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "audited 4 pins from 2 lock files: 0 findings (4 at latest); "
        "source: per-version JSON for 0, latest-release JSON for 4"
    ]
    # Each pin once, its own version's JSON first, under its canonical name.
    assert sorted(index.requests) == sorted(
        [
            "/jinja2/3.1.6/json",
            "/jinja2/json",
            "/typing-extensions/4.15.0/json",
            "/typing-extensions/json",
            "/uvloop/0.23.0/json",
            "/uvloop/json",
            "/pytest/9.0.0/json",
            "/pytest/json",
        ]
    )


def test_an_advisory_on_the_latest_release_fails(index: Index, tmp_path: Path) -> None:
    index.project(
        "jinja2",
        project(
            "3.1.6",
            {"3.1.6": release(200)},
            advisory("PYSEC-2099-1", "CVE-2099-1234", "GHSA-aaaa-bbbb-cccc", fixed_in=("3.1.7",)),
            advisory("GHSA-aaaa-bbbb-cccc", "CVE-2099-1234", "PYSEC-2099-1", fixed_in=("3.1.7",)),  # the same one
            advisory("PYSEC-2099-2", withdrawn="2099-01-02T00:00:00Z"),
        ),
    )
    index.project("idna", project("3.20", {"3.20": release(60)}))

    result = audit(index, tmp_path, "Jinja2==3.1.6\nidna==3.20\n")

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "finding: jinja2==3.1.6: advisory on the latest release: PYSEC-2099-1 (CVE-2099-1234, GHSA-aaaa-bbbb-cccc); "
        "PYSEC-2099-1 lets a crafted request read other users' data.; fixed in 3.1.7; "
        "https://osv.dev/vulnerability/PYSEC-2099-1",
        "audited 2 pins from 1 lock file: 1 finding (2 at latest); source: per-version JSON for 0, "
        "latest-release JSON for 2",
    ]


def test_an_advisory_on_a_newer_release_counts_as_ours(index: Index, tmp_path: Path) -> None:
    index.project("pkg", project("1.1", {"1.0": release(90), "1.1": release(2)}, advisory("PYSEC-2099-3")))

    result = audit(index, tmp_path, "pkg==1.0\n")

    assert result.returncode == 1
    assert "finding: pkg==1.0: advisory on the latest release 1.1 (we pin an older one): PYSEC-2099-3" in result.stdout
    assert "note: pkg==1.0: pinned 1.0, latest 1.1 released 2 days ago (within the grace period)" in result.stdout


def test_a_yanked_pin_fails(index: Index, tmp_path: Path) -> None:
    index.project("pkg", project("1.1", {"1.0": release(9, yanked="broken wheel metadata"), "1.1": release(3)}))

    result = audit(index, tmp_path, "pkg==1.0\n")

    assert result.returncode == 1
    assert "finding: pkg==1.0: yanked: broken wheel metadata" in result.stdout.splitlines()


@pytest.mark.parametrize(("args", "returncode"), [((), 1), (("--grace-days", "40"), 0)])
def test_a_pin_behind_past_the_grace_period_fails(
    index: Index, tmp_path: Path, args: tuple[str, ...], returncode: int
) -> None:
    index.project("pkg", project("1.1", {"1.0": release(90), "1.1": release(30)}))

    result = audit(index, tmp_path, "pkg==1.0\n", args=args)

    assert result.returncode == returncode
    if returncode:
        assert "finding: pkg==1.0: pinned 1.0, latest 1.1 released 30 days ago: run make lock" in result.stdout
        assert "1 finding (1 behind past the grace)" in summary(result)
    else:
        assert "note: pkg==1.0: pinned 1.0, latest 1.1 released 30 days ago (within the grace period)" in result.stdout


def test_a_pin_another_locked_package_holds_back_is_a_note(index: Index, tmp_path: Path) -> None:
    index.project("pkg", project("1.1", {"1.0": release(90), "1.1": release(30)}))
    holder = project("2.0", {"2.0": release(60)})
    holder["info"] = {"version": "2.0", "requires_dist": ["pkg<1.1,>=1.0", "other; extra == 'docs'"]}
    index.project("holder", holder)

    result = audit(index, tmp_path, "pkg==1.0\nholder==2.0\n")

    assert result.returncode == 0, result.stdout
    assert (
        "note: pkg==1.0: pinned 1.0, latest 1.1 released 30 days ago; held back by holder==2.0 (pkg<1.1,>=1.0), "
        "which make lock cannot change" in result.stdout.splitlines()
    )
    # A requirement that admits the latest release holds nothing back: the pin is a finding again.
    holder["info"] = {"version": "2.0", "requires_dist": ["pkg>=1.0"]}
    index.project("holder", holder)
    assert audit(index, tmp_path, "pkg==1.0\nholder==2.0\n").returncode == 1


def test_a_pin_behind_within_the_grace_period_is_a_note(index: Index, tmp_path: Path) -> None:
    index.project("pkg", project("1.1", {"1.0": release(90), "1.1": release(3)}))
    index.project("idna", project("3.20", {"3.20": release(60)}))

    result = audit(index, tmp_path, "pkg==1.0\nidna==3.20\n")

    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        "note: pkg==1.0: pinned 1.0, latest 1.1 released 3 days ago (within the grace period)",
        "audited 2 pins from 1 lock file: 0 findings (1 at latest, 1 behind within the 14-day grace); "
        "source: per-version JSON for 0, latest-release JSON for 2",
    ]
    assert audit(index, tmp_path, "pkg==1.0\n", args=("--grace-days", "2")).returncode == 1


def test_a_pin_the_index_does_not_have_fails(index: Index, tmp_path: Path) -> None:
    index.project("pkg", project("1.1", {"1.0": release(90), "1.1": release(3)}))

    result = audit(index, tmp_path, "pkg==1.0.1\n")

    assert result.returncode == 1
    assert "finding: pkg==1.0.1: the index has no release 1.0.1 of pkg (latest: 1.1)" in result.stdout


def test_the_pinned_versions_own_json_is_authoritative(index: Index, tmp_path: Path) -> None:
    # Behind a latest release with an advisory, long past the grace: from the project JSON this would fail.
    index.project("pkg", project("2.0", {"1.0": release(900), "2.0": release(100)}, advisory("PYSEC-2099-9")))
    index.page("/pkg/1.0/json", {"info": {"version": "1.0", "yanked": False}, "vulnerabilities": []})

    clean = audit(index, tmp_path, "pkg==1.0\n")

    assert clean.returncode == 0, clean.stdout
    assert clean.stdout.splitlines() == [
        "audited 1 pin from 1 lock file: 0 findings (1 audited by their own version's JSON); "
        "source: per-version JSON for 1, latest-release JSON for 0"
    ]
    assert index.requests == ["/pkg/1.0/json"]

    index.page(
        "/pkg/1.0/json",
        {"info": {"version": "1.0", "yanked": True, "yanked_reason": "bad"}, "vulnerabilities": [advisory("X-1")]},
    )
    found = audit(index, tmp_path, "pkg==1.0\n")

    assert found.returncode == 1
    assert found.stdout.splitlines()[:2] == [
        "finding: pkg==1.0: advisory X-1; X-1 lets a crafted request read other users' data.; "
        "no fixed version listed; https://osv.dev/vulnerability/X-1",
        "finding: pkg==1.0: yanked: bad",
    ]


# A mirror that does not relay PyPI's advisories must not pass for one that found none.
NO_ADVISORIES_FIELD = json.dumps({"info": {"version": "1.0"}, "releases": {"1.0": []}}).encode()


@pytest.mark.parametrize(
    ("pages", "reason"),
    [
        pytest.param({"/pkg/json": (500, b"oops")}, "HTTP 500 from http://", id="project-json-500"),
        pytest.param({}, "pkg is not on the index (404 from http://", id="unknown-package"),
        pytest.param({"/pkg/1.0/json": (503, b"down")}, "HTTP 503 from http://", id="per-version-503"),
        pytest.param({"/pkg/1.0/json": (403, b"no")}, "HTTP 403 from http://", id="per-version-403"),
        pytest.param({"/pkg/json": (200, b"<html>")}, "/pkg/json did not answer JSON", id="not-json"),
        pytest.param({"/pkg/json": (200, b'{"info": {"version": "1.0"}}')}, "releases is not an object", id="shape"),
        pytest.param({"/pkg/json": (200, NO_ADVISORIES_FIELD)}, "vulnerabilities is not a list", id="no-advisories"),
    ],
)
def test_a_pin_that_cannot_be_looked_up_fails(
    index: Index, tmp_path: Path, pages: dict[str, tuple[int, bytes]], reason: str
) -> None:
    index.project("pkg", project("1.0", {"1.0": release(1)}))
    index.pages.update(pages)
    if not pages:
        index.pages.clear()

    result = audit(index, tmp_path, "pkg==1.0\n", args=("--retries", "0"))

    assert result.returncode == 1
    assert result.stdout.startswith("could not audit pkg==1.0: "), result.stdout
    assert reason in result.stdout.splitlines()[0]
    assert "1 could not be audited" in summary(result)


def test_a_transient_error_is_retried_and_a_lasting_one_fails(index: Index, tmp_path: Path) -> None:
    index.project("pkg", project("1.0", {"1.0": release(1)}))
    index.failures["/pkg/json"] = 2

    assert audit(index, tmp_path, "pkg==1.0\n").returncode == 0
    assert index.requests == ["/pkg/1.0/json", "/pkg/json", "/pkg/json", "/pkg/json"]

    index.requests.clear()
    index.failures["/pkg/json"] = 3
    result = audit(index, tmp_path, "pkg==1.0\n")

    assert result.returncode == 1
    assert "could not audit pkg==1.0: HTTP 500 from" in result.stdout
    assert index.requests == ["/pkg/1.0/json", "/pkg/json", "/pkg/json", "/pkg/json"]


def test_an_unreachable_index_fails(index: Index, tmp_path: Path) -> None:
    index.url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    result = audit(index, tmp_path, "pkg==1.0\nother==2.0\n", args=("--retries", "0"))

    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.stdout.splitlines()[:2]] == [
        "could not audit other==2.0",
        "could not audit pkg==1.0",
    ]
    assert "2 findings (2 could not be audited)" in summary(result)


def test_lock_files_without_pins_fail(index: Index, tmp_path: Path) -> None:
    result = audit(index, tmp_path, "# nothing pinned\n")

    assert result.returncode == 1
    assert "no name==version pins" in result.stderr
    assert index.requests == []
