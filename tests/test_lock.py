"""The lock files (requirements/app.txt, requirements/test.txt, made by scripts/lock) pin
every distribution the project needs, at versions pyproject.toml allows, the same in
both files, with nothing from the machine that made them; and the environment the
tests run in is the locked one. A stale lock (a dependency added or a pin raised in
pyproject.toml without running scripts/lock) fails here."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {"app": ROOT / "requirements" / "app.txt", "test": ROOT / "requirements" / "test.txt"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def pins(path: Path) -> dict[str, str]:
    """Name -> version of every ``name==version`` line; any other line is a comment."""
    found = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.match(line.strip())
        assert match, f"{path.name}: not a plain pin: {line!r}"
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def project_requirements(extras: set[str]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    return [Requirement(text) for text in wanted]


def applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras or {""})


def needed(extras: set[str]) -> dict[str, list[Requirement]]:
    """Every distribution the project needs here (with ``extras``), found by following
    the installed distributions' own requirements, with what asked for it."""
    asked: dict[str, list[Requirement]] = {}
    todo = [(requirement, {""}) for requirement in project_requirements(extras)]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement, parent_extras = todo.pop()
        if not applies(requirement, parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        asked.setdefault(name, []).append(requirement)
        own_extras = frozenset(requirement.extras)
        if (name, own_extras) in seen:
            continue
        seen.add((name, own_extras))
        for text in metadata.requires(name) or []:
            todo.append((Requirement(text), set(own_extras)))
    return asked


@pytest.mark.parametrize("lock, extras", [("app", set()), ("test", {"test"})])
def test_the_lock_pins_everything_the_project_needs(lock, extras):
    locked = pins(LOCKS[lock])
    for name, requirements in needed(extras).items():
        assert name in locked, f"{name} is needed but not in {lock}.txt: run scripts/lock"
        for requirement in requirements:
            assert requirement.specifier.contains(locked[name], prereleases=True), (
                f"{lock}.txt pins {name}=={locked[name]}, but {requirement} is asked for: "
                "run scripts/lock"
            )
        installed = metadata.version(name)
        assert installed == locked[name], (
            f"{name} {installed} is installed, {lock}.txt pins {locked[name]}: "
            "re-install from the lock (scripts/test does) or run scripts/lock"
        )
    assert "tally" not in locked  # installed on its own, editable, with --no-deps


def test_the_app_lock_and_the_test_lock_agree():
    app, test = pins(LOCKS["app"]), pins(LOCKS["test"])
    assert {name: test.get(name) for name in app} == app


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_names_no_index_or_host(lock):
    text = LOCKS[lock].read_text()
    assert "://" not in text
    assert not re.search(r"^\s*-", text, re.MULTILINE)  # no --index-url, --find-links …
    assert not re.search(r"(^|\s)/(opt|etc|tmp|root|home|work)/", text)
