"""The package's dependency floors exclude releases with published security fixes after them.

A floor such as ``Django>=5.2`` lets a resolver (or a site pinning an old lock file) install a
release with known CVEs: the floors are the patch releases that were current when 1.0 was
prepared, and the environment the suite runs in satisfies them.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.paths import REPO_ROOT
from tools import floors

#: The lowest acceptable floor per security-relevant dependency.
SECURE_FLOORS = {
    "django": Version("5.2.19"),
    "requests": Version("2.34.2"),
    "pillow": Version("12.3.0"),
    "cryptography": Version("50.0.2"),
}


def declared() -> dict[str, Requirement]:
    # The block read as text: tomllib is not in Python 3.10, which the package supports.
    text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = text.split("\ndependencies = [\n", 1)[1].split("\n]", 1)[0]
    requirements = (Requirement(line) for line in re.findall(r'^\s*"([^"]+)",', block, re.M))
    return {req.name.lower(): req for req in requirements}


@pytest.mark.parametrize("name", sorted(SECURE_FLOORS))
def test_floor_is_a_patched_release_and_an_upper_bound_is_kept(name: str) -> None:
    requirement = declared()[name]
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert floors and min(floors) >= SECURE_FLOORS[name], str(requirement)
    assert any(s.operator == "<" for s in requirement.specifier), str(requirement)


@pytest.mark.parametrize("name", sorted(SECURE_FLOORS))
def test_the_test_environment_satisfies_the_floor(name: str) -> None:
    requirement = declared()[name]
    assert requirement.specifier.contains(version(name), prereleases=True), (
        f"{name} {version(name)} does not satisfy {requirement}"
    )


def test_the_floors_tool_pins_every_lower_bound_of_every_extra() -> None:
    """tools/floors.py (the constraints of .ci/run's oldest stack) reads pyproject.toml as text,
    for Python 3.10: it finds what tomllib finds."""
    tomllib = pytest.importorskip("tomllib")
    text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = tomllib.loads(text)["project"]
    strings = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        strings += extra
    expected: dict[str, str] = {}
    for string in strings:
        requirement = Requirement(string)
        name = canonicalize_name(requirement.name)
        for specifier in requirement.specifier:
            if specifier.operator == ">=" and name != "django-face-idcard":
                expected[name] = specifier.version
    assert {"django", "djangorestframework", "celery", "psycopg", "mysqlclient"} <= set(expected)
    assert floors.floors(text) == expected


def test_the_suites_clock_travel_leaves_the_monotonic_clock_alone() -> None:
    """The dev extra's time-machine floor (3.0): older releases move ``time.monotonic`` with a
    travel, for every thread (2.16 even leaves it on the wall clock afterwards). The session's
    live Celery worker runs beside the tests that travel, and kombu times its waits on that
    clock: on 2.14 (the old floor) its loop outlived the travel and the worker did not stop
    within its shutdown timeout, one run in two of the webhook and pipeline tests."""
    import datetime
    import time

    import time_machine

    before = time.monotonic()
    with time_machine.travel(datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)):
        during = time.monotonic()
    after = time.monotonic()
    assert before <= during <= after < before + 60
