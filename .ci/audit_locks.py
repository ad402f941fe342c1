"""Audit the pins in the lock files for known vulnerabilities; exit 1 on any finding or on any pin it could not audit.

    python .ci/audit_locks.py requirements.lock requirements-dev.lock

Why not pip-audit: it asks PyPI for each pinned version's JSON (/pypi/NAME/VERSION/json) or asks OSV. Where
neither answers, as on our machines, it skips every package and still reports success. A check that cannot
fail is no check.

What this script asks, for each pin:

1. The pinned version's JSON, as pip-audit does. When it answers, its advisories are those of our exact
   version, and a yanked version is a finding.
2. When that is 404, the project's JSON (/pypi/NAME/json), which does answer here. It lists the advisories
   that affect the latest release only. So the policy is: keep every pin at the latest release (make lock
   does). Then the latest release's advisories are exactly ours, and every one listed is a finding. A pin
   behind the latest release is a finding too, once that release is older than the grace period (14 days by
   default): an advisory fixed in the newer release would not be listed against ours. Within the grace
   period it is only a note, so a release published this morning does not break CI. A yanked pin and a pin
   the index does not have are findings.
3. A pin behind past the grace period that another locked package's own requirement holds back (the
   schemathesis we pin requires jsonschema-rs<0.61, say) is a note naming what holds it: make lock cannot
   move it, and the finding belongs on the holder, which is audited like every pin.

A pin that could not be looked up (timeout, DNS, an HTTP error other than that 404, a body that is not the
expected JSON) is never skipped: it fails the audit.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

DEFAULT_INDEX_URL = "https://pypi.org/pypi"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", re.MULTILINE)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

AT_LATEST = "at latest"
WITHIN_GRACE = "behind within grace"
PAST_GRACE = "behind past grace"
PER_VERSION = "per version"
NO_SUCH_VERSION = "no such version"
NOT_AUDITED = "not audited"


class AuditError(Exception):
    """The index could not tell us about a pin."""


class NotFound(Exception):
    """The index answered 404."""


@dataclass(frozen=True, order=True)
class Pin:
    name: str  # canonical (PEP 503)
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass
class Result:
    pin: Pin
    state: str = NOT_AUDITED
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)  # the pinned version's requirements, where known
    behind: tuple[str, str] | None = None  # (latest, why) of a pin behind past the grace period


@dataclass(frozen=True)
class Options:
    index_url: str
    grace: timedelta
    timeout: float
    retries: int
    now: datetime


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(paths: Iterable[Path]) -> list[Pin]:
    pins: set[Pin] = set()
    for path in paths:
        for name, version in PIN.findall(path.read_text()):
            pins.add(Pin(canonical(name), version))
    return sorted(pins)


def fetch(url: str, options: Options) -> object:
    """The JSON at ``url``; NotFound on 404; AuditError on anything else that is not a 200 with JSON."""
    for attempt in range(options.retries + 1):
        last = attempt == options.retries
        try:
            # The URL is built from --index-url, which parse_args() only accepts as http(s).
            with urllib.request.urlopen(url, timeout=options.timeout) as response:  # noqa: S310
                status: int = response.status
                body: bytes = response.read()
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == 404:
                raise NotFound(url) from None
            if last or error.code not in RETRY_STATUSES:
                raise AuditError(f"HTTP {error.code} from {url}") from None
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, resets, short reads
            if last:
                reason = error.reason if isinstance(error, urllib.error.URLError) else error
                raise AuditError(f"{str(reason) or type(error).__name__} from {url}") from None
        else:
            if status != 200:
                raise AuditError(f"HTTP {status} from {url}")
            try:
                document: object = json.loads(body)
            except ValueError:
                raise AuditError(f"{url} did not answer JSON") from None
            return document
        time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def mapping(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise AuditError(f"{what} is not an object")
    return {str(key): item for key, item in value.items()}


def sequence(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise AuditError(f"{what} is not a list")
    return value


def text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def advisories(document: dict[str, object], where: str) -> list[str]:
    """One line per advisory in ``vulnerabilities``, leaving out withdrawn ones and repeats under an alias."""
    lines = []
    seen: set[str] = set()
    for entry in sequence(document.get("vulnerabilities"), f"{where}: vulnerabilities"):
        advisory = mapping(entry, f"{where}: an advisory")
        identifier, aliases = text(advisory.get("id")), strings(advisory.get("aliases"))
        if advisory.get("withdrawn") or (identifier and identifier in seen):
            continue
        seen.update([identifier, *aliases])
        label = identifier or "an advisory without an id"
        if aliases:
            label += f" ({', '.join(aliases)})"
        about = text(advisory.get("summary")) or text(advisory.get("details"))
        about = about.splitlines()[0] if about else ""
        if len(about) > 160:
            about = about[:157] + "..."
        fixed = strings(advisory.get("fixed_in"))
        parts = [label, about, f"fixed in {', '.join(fixed)}" if fixed else "no fixed version listed"]
        parts.append(text(advisory.get("link")))
        lines.append("; ".join(part for part in parts if part))
    return lines


def yanked(files: list[object], where: str) -> str | None:
    """The yanked reason ("" when none was given) when every file of a release is yanked, else None."""
    entries = [mapping(entry, f"{where}: a file") for entry in files]
    if not entries or not all(entry.get("yanked") for entry in entries):
        return None
    return next((text(entry.get("yanked_reason")) for entry in entries if text(entry.get("yanked_reason"))), "")


def first_upload(files: list[object], where: str) -> datetime | None:
    times = []
    for entry in files:
        stamp = text(mapping(entry, f"{where}: a file").get("upload_time_iso_8601"))
        try:
            uploaded = datetime.fromisoformat(stamp)
        except ValueError:
            raise AuditError(f"{where}: upload time {stamp!r} is not ISO 8601") from None
        times.append(uploaded if uploaded.tzinfo else uploaded.replace(tzinfo=UTC))
    return min(times, default=None)


def audit_version(document: object, url: str, result: Result) -> None:
    """The pinned version's own JSON: its advisories and whether it is yanked."""
    top = mapping(document, url)
    info = mapping(top.get("info"), f"{url}: info")
    result.findings += [f"advisory {line}" for line in advisories(top, url)]
    result.requires = strings(info.get("requires_dist"))
    if info.get("yanked"):
        result.findings.append(f"yanked: {text(info.get('yanked_reason')) or 'no reason given'}")
    result.state = PER_VERSION


def audit_project(pin: Pin, document: object, url: str, options: Options, result: Result) -> None:
    """The project's JSON: the latest release's advisories, and where the pin stands against that release."""
    top = mapping(document, url)
    latest = text(mapping(top.get("info"), f"{url}: info").get("version"))
    if not latest:
        raise AuditError(f"{url}: info.version is missing")
    releases = mapping(top.get("releases"), f"{url}: releases")
    listed = advisories(top, url)  # validated before any early return
    where = "the latest release" if pin.version == latest else f"the latest release {latest} (we pin an older one)"
    result.findings += [f"advisory on {where}: {line}" for line in listed]

    if pin.version not in releases:
        result.state = NO_SUCH_VERSION
        result.findings.append(f"the index has no release {pin.version} of {pin.name} (latest: {latest})")
        return
    files = sequence(releases[pin.version], f"{url}: releases[{pin.version}]")
    reason = yanked(files, f"{url}: releases[{pin.version}]")
    if reason is not None:
        result.findings.append(f"yanked: {reason or 'no reason given'}")
    if pin.version == latest:
        result.state = AT_LATEST
        result.requires = strings(mapping(top.get("info"), f"{url}: info").get("requires_dist"))
        return

    latest_upload = first_upload(sequence(releases.get(latest, []), f"{url}: releases[{latest}]"), url)
    pinned_upload = first_upload(files, url)
    if latest_upload is None:
        result.state = PAST_GRACE
        result.findings.append(f"pinned {pin.version}, latest {latest} has no files to date it: run make lock")
        return
    if pinned_upload is not None and pinned_upload > latest_upload:
        result.state = PAST_GRACE
        result.findings.append(
            f"pinned {pin.version} is newer than the latest release {latest} (a pre-release?): "
            "the index lists advisories for the latest release only"
        )
        return
    age = options.now - latest_upload
    days = f"{age.days} day{'' if age.days == 1 else 's'} ago"
    if age > options.grace:
        result.state = PAST_GRACE
        result.behind = (latest, f"pinned {pin.version}, latest {latest} released {days}")
    else:
        result.state = WITHIN_GRACE
        result.notes.append(f"pinned {pin.version}, latest {latest} released {days} (within the grace period)")


def audit(pin: Pin, options: Options) -> Result:
    result = Result(pin)
    base = f"{options.index_url}/{urllib.parse.quote(pin.name)}"
    try:
        version_url = f"{base}/{urllib.parse.quote(pin.version, safe='')}/json"
        try:
            audit_version(fetch(version_url, options), version_url, result)
            return result
        except NotFound:
            pass
        project_url = f"{base}/json"
        try:
            document = fetch(project_url, options)
        except NotFound:
            raise AuditError(f"{pin.name} is not on the index (404 from {project_url})") from None
        audit_project(pin, document, project_url, options, result)
    except AuditError as error:
        result.state = NOT_AUDITED
        result.findings.append(f"could not audit {pin}: {error}")
    return result


def holders(pin: Pin, latest: str, results: Sequence[Result]) -> list[str]:
    """The locked packages whose own requirements exclude ``latest`` of ``pin``: what holds the pin back."""
    try:
        newest = Version(latest)
    except InvalidVersion:
        return []
    found = []
    for other in results:
        for line in other.requires:
            try:
                requirement = Requirement(line)
                applies = requirement.marker is None or requirement.marker.evaluate({"extra": ""})
            except (InvalidRequirement, ValueError):
                continue
            if applies and canonical(requirement.name) == pin.name and newest not in requirement.specifier:
                found.append(f"{other.pin} ({requirement})")
    return found


def judge_the_pins_behind(results: Sequence[Result]) -> None:
    """A pin behind past the grace period is a finding, unless another locked package holds it back."""
    for result in results:
        if result.behind is None:
            continue
        latest, why = result.behind
        held_by = holders(result.pin, latest, results)
        if held_by:
            result.notes.append(f"{why}; held back by {', '.join(held_by)}, which make lock cannot change")
        else:
            result.findings.append(f"{why}: run make lock")


def summary(results: Sequence[Result], files: int, grace_days: int) -> str:
    count = Counter(result.state for result in results)
    findings = sum(len(result.findings) for result in results)
    labels = {
        AT_LATEST: "at latest",
        WITHIN_GRACE: f"behind within the {grace_days}-day grace",
        PAST_GRACE: "behind past the grace",
        PER_VERSION: "audited by their own version's JSON",
        NO_SUCH_VERSION: "not on the index",
        NOT_AUDITED: "could not be audited",
    }
    states = ", ".join(f"{count[state]} {label}" for state, label in labels.items() if count[state])
    by_latest = len(results) - count[PER_VERSION] - count[NOT_AUDITED]
    sources = f"source: per-version JSON for {count[PER_VERSION]}, latest-release JSON for {by_latest}"
    pins = f"{len(results)} pin{'' if len(results) == 1 else 's'}"
    lock_files = f"{files} lock file{'' if files == 1 else 's'}"
    return f"audited {pins} from {lock_files}: {findings} finding{'' if findings == 1 else 's'} ({states}); {sources}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("locks", nargs="+", type=Path, help="lock files of name==version lines")
    parser.add_argument("--index-url", default=DEFAULT_INDEX_URL, help="PyPI JSON API base (default %(default)s)")
    parser.add_argument("--grace-days", type=int, default=14, help="days a new release may wait (default 14)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request (default 20)")
    parser.add_argument("--retries", type=int, default=2, help="retries on a transient failure (default 2)")
    parser.add_argument("--workers", type=int, default=8, help="requests at once (default 8)")
    args = parser.parse_args(argv)
    if urllib.parse.urlsplit(args.index_url).scheme not in ("http", "https"):
        parser.error("--index-url must be an http:// or https:// URL")
    if args.grace_days < 0 or args.retries < 0 or args.workers < 1 or args.timeout <= 0:
        parser.error("--grace-days and --retries must be >= 0, --workers >= 1, --timeout > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        pins = read_pins(args.locks)
    except OSError as error:
        print(f"audit_locks: cannot read a lock file: {error}", file=sys.stderr)
        return 1
    if not pins:
        print(f"audit_locks: no name==version pins in {', '.join(map(str, args.locks))}", file=sys.stderr)
        return 1
    options = Options(
        index_url=args.index_url.rstrip("/"),
        grace=timedelta(days=args.grace_days),
        timeout=args.timeout,
        retries=args.retries,
        now=datetime.now(UTC),
    )
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(lambda pin: audit(pin, options), pins))
    judge_the_pins_behind(results)
    for result in results:
        for line in result.findings:
            print(line if line.startswith("could not audit") else f"finding: {result.pin}: {line}")
        for line in result.notes:
            print(f"note: {result.pin}: {line}")
    print(summary(results, len(args.locks), args.grace_days))
    return 1 if any(result.findings for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
