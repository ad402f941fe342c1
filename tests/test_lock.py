"""The lock files pin every dependency pyproject.toml names, and make installed exactly those versions."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    return {canonical(name): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.MULTILINE)}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def names(requirements: list[str]) -> set[str]:
    return {canonical(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]) for requirement in requirements}


@pytest.mark.parametrize(
    ("lock", "groups"),
    [("requirements.lock", ("redis",)), ("requirements-dev.lock", ("redis", "dev"))],
)
def test_every_dependency_is_pinned(lock: str, groups: tuple[str, ...]) -> None:
    wanted = names(PYPROJECT["dependencies"])
    for group in groups:
        wanted |= names(PYPROJECT["optional-dependencies"][group])
    missing = wanted - set(pins(lock))
    assert not missing, f"{lock} lacks {sorted(missing)}: run make lock"


def test_the_image_lock_agrees_with_the_dev_lock() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_the_environment_has_the_locked_versions() -> None:
    installed = {canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    wrong = {name: (version, installed.get(name)) for name, version in pins("requirements-dev.lock").items()}
    assert {name: pair for name, pair in wrong.items() if pair[0] != pair[1]} == {}
