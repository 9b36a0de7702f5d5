"""docs/databases.rst's table of what CI runs, and pyproject.toml's classifiers, say what .ci/run's
configurations do: each configuration is read from its command (interpreter, Django constraint
file, database, driver, broker, tests, floors), not from its title."""

from __future__ import annotations

import csv
import re
from typing import NamedTuple

import pytest

from tests.support.paths import REPO_ROOT

CI_SCRIPT = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
PAGE = (REPO_ROOT / "docs" / "databases.rst").read_text(encoding="utf-8")
PYPROJECT = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")


class Configuration(NamedTuple):
    number: str
    python: str
    django: str
    database: str
    driver: str
    broker: str
    tests: str
    dependencies: str


def version(digits: tuple[str, str]) -> str:
    return f"{digits[0]}.{digits[1]}"


def configurations_of_the_script(script: str) -> list[Configuration]:
    """Every numbered ``configuration "N ..." \\`` call and its continuation lines."""
    found = []
    for title, command in re.findall(
        r'^\s*configuration "(\d+[a-z]?) [^"]*" \\\n((?:.*\\\n)*.*)$', script, re.M
    ):
        python = re.search(r'PYTHON="\$py(3)(\d+)"', command)
        django = re.search(r"\.ci/django(\d)(\d)-constraints\.txt", command)
        assert python and django, f"configuration {title} names no interpreter or no Django"
        database = re.search(r"FACE_IDCARD_TEST_DB=(\w+)", command)
        vendor = database.group(1) if database else "sqlite"
        if vendor == "postgres":
            psycopg2 = "postgres2" in command and re.search(r'PIP_REMOVE="[^"]*psycopg\b', command)
            name, driver = "PostgreSQL", "psycopg2" if psycopg2 else "psycopg 3"
        elif vendor == "mysql":
            name, driver = "MariaDB", "mysqlclient"
            if 'FACE_IDCARD_MYSQL_ISOLATION="repeatable read"' in command:
                name += ", REPEATABLE READ"
        else:
            assert vendor == "sqlite", vendor
            name, driver = "SQLite", "sqlite3"
        scope = re.search(r'PYTEST_ARGS="\$(\w+)( \$FLOORS_SKIP)?"', command)
        assert scope, f"configuration {title} says no tests"
        tests = {
            "NO_BROWSER": "whole suite",
            "DATABASE_SUBSET": "database subset",
            "BROWSER_TESTS": "browser tests",
        }[scope.group(1)]
        if scope.group(2):
            tests += " but the API schema test"
        found.append(
            Configuration(
                number=title,
                python=version(python.groups()),
                django=version(django.groups()),
                database=name,
                driver=driver,
                broker="Redis" if 'FACE_IDCARD_TEST_BROKER="$REDIS"' in command else "in-memory",
                tests=tests,
                dependencies="floors" if "$FLOORS" in command else "newest",
            )
        )
    return found


def configurations_of_the_page(page: str) -> list[Configuration]:
    """The csv-table under "What CI runs"."""
    section = page.split("\nWhat CI runs\n", 1)[1]
    table = section.split(".. csv-table::", 1)[1]
    lines = []
    for line in table.splitlines()[1:]:
        if line.strip() and not line.startswith("   "):
            break
        if line.strip() and not line.strip().startswith(":"):
            lines.append(line.strip())
    return [Configuration(*row) for row in csv.reader(lines, skipinitialspace=True)]


def classifiers(prefix: str) -> set[str]:
    return set(re.findall(rf'"{re.escape(prefix)} :: (\d+\.\d+)"', PYPROJECT))


def numeric(v: str) -> tuple[int, ...]:
    return tuple(map(int, v.split(".")))


def test_the_script_is_read_whole() -> None:
    numbers = [c.number for c in configurations_of_the_script(CI_SCRIPT)]
    # Every numbered configuration call in the script, read or not.
    assert numbers == re.findall(r'^\s*configuration "(\d+[a-z]?) ', CI_SCRIPT, re.M)
    assert {"1", "2", "3", "4", "4b", "5", "6", "7"} <= set(numbers)


def commands_of_the_script(script: str) -> dict[str, str]:
    return dict(
        re.findall(r'^\s*configuration "(\d+[a-z]?) [^"]*" \\\n((?:.*\\\n)*.*)$', script, re.M)
    )


def test_every_configuration_runs_the_suite_the_demo_and_lint_in_its_environment() -> None:
    """The 1.0 core's "done when": the suite, make demo-check, lint and types pass in every CI
    configuration, each in that configuration's interpreter, Django and dependencies; the demo
    runs on the configuration's own database server."""
    every_check = (REPO_ROOT / ".ci" / "every-check").read_text(encoding="utf-8")
    for target in ("make test", "make demo-check", "make lint"):
        assert re.search(rf"^\s*(\S+=\S+ )?{target} \"\$@\"", every_check, re.M), target
    commands = commands_of_the_script(CI_SCRIPT)
    assert commands
    for number, command in commands.items():
        assert ".ci/every-check PYTHON=" in command, f"configuration {number}"
        assert "make test" not in command, f"configuration {number} runs the suite alone"
        database = re.search(r"FACE_IDCARD_TEST_DB=(\w+)", command)
        expected = {"postgres": "$PG_DEMO_URL", "mysql": "$MYSQL_DEMO_URL"}.get(
            database.group(1) if database else "sqlite"
        )
        if expected:
            assert f'DEMO_DATABASE_URL="{expected}"' in command, f"configuration {number}"
        else:
            assert "DEMO_DATABASE_URL" not in command, f"configuration {number}"


def test_the_support_page_lists_each_configuration_of_the_script() -> None:
    assert configurations_of_the_page(PAGE) == configurations_of_the_script(CI_SCRIPT)


def test_the_classifiers_and_ranges_name_what_the_script_runs() -> None:
    configurations = configurations_of_the_script(CI_SCRIPT)
    pythons = {c.python for c in configurations}
    djangos = {c.django for c in configurations}
    assert classifiers("Programming Language :: Python") == pythons
    assert classifiers("Framework :: Django") == djangos
    assert f'requires-python = ">={min(pythons, key=numeric)}"' in PYPROJECT
    lowest, highest = min(djangos, key=numeric), max(djangos, key=numeric)
    major, minor = numeric(highest)
    # The floor is a patch release of the lowest series (tests/site/test_dependency_floors.py).
    assert re.search(rf'"Django>={re.escape(lowest)}(\.\d+)?,<{major}\.{minor + 1}"', PYPROJECT)
    # The floors (tools/floors.py) are a configuration: the oldest stack's, on the whole suite,
    # so that each lower bound of pyproject.toml is one CI runs.
    floors = [c for c in configurations if c.dependencies == "floors"]
    assert floors, "no configuration installs the dependency floors"
    for configuration in floors:
        assert (configuration.python, configuration.django, configuration.tests) == (
            min(pythons, key=numeric),
            lowest,
            "whole suite",
        )


def test_the_page_says_which_django_runs_on_which_python() -> None:
    """The prose above the table names the same pairs as the classifiers."""
    prose = PAGE.split("\nPython and Django\n", 1)[1].split("\nWhat CI runs\n", 1)[0]
    assert "Django 5.2 LTS on Python 3.10 to 3.13" in prose
    assert "Django 6.0 and 6.1 on Python 3.12 and 3.13" in prose


def test_the_mariadb_minimum_is_the_changelog_s() -> None:
    (row,) = (line for line in PAGE.splitlines() if line.startswith("MariaDB "))
    assert re.split(r"\s{2,}", row)[1] == "10.11"
    assert "MariaDB 10.11 and newer" in (REPO_ROOT / "CHANGELOG.rst").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'configuration "9 x" \\\n    env FACE_IDCARD_TEST_DB=postgres FACE_IDCARD_TEST_BROKER="$REDIS" \\\n'
            '    make test PYTHON="$py311" VENV=v EXTRAS=dev,postgres2 PIP_REMOVE="psycopg psycopg-binary" \\\n'
            '    PIP_CONSTRAINT="$PWD/.ci/django52-constraints.txt" PYTEST_ARGS="$DATABASE_SUBSET"\n',
            Configuration(
                "9", "3.11", "5.2", "PostgreSQL", "psycopg2", "Redis", "database subset", "newest"
            ),
        ),
        (
            'configuration "9 x" \\\n    env PIP_CONSTRAINT="$PWD/.ci/django52-constraints.txt $FLOORS" \\\n'
            '    make test PYTHON="$py310" PYTEST_ARGS="$NO_BROWSER $FLOORS_SKIP"\n',
            Configuration(
                "9",
                "3.10",
                "5.2",
                "SQLite",
                "sqlite3",
                "in-memory",
                "whole suite but the API schema test",
                "floors",
            ),
        ),
    ],
)
def test_the_reader_of_the_script(line: str, expected: Configuration) -> None:
    assert configurations_of_the_script(line) == [expected]
