"""Print a pip constraints file that pins every dependency of pyproject.toml at its floor.

Each requirement of ``[project] dependencies`` and of every extra with a ``>=`` bound becomes
``name==floor``: an environment built with it (``PIP_CONSTRAINT=...``, as .ci/run's oldest
stack does) installs the oldest releases the package claims to work with, where a plain
install would resolve to the newest and leave the floors untested. The package's own extras
(``django-face-idcard[...]``) are skipped, and extras are dropped from the names (pip refuses
constraints with extras).

    python tools/floors.py > floors.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
SELF = "django-face-idcard"
# A PEP 508 requirement string as pyproject.toml writes them: name, optional [extras], specifiers.
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")


def requirement_strings(text: str) -> list[str]:
    """The quoted requirements of [project] dependencies and [project.optional-dependencies].

    Read as text rather than with tomllib, which Python 3.10 (the oldest supported) lacks.
    """
    strings: list[str] = []
    dependencies = re.search(r"^dependencies = \[(.*?)^\]", text, re.M | re.S)
    if dependencies:
        strings += re.findall(r'"([^"]+)"', dependencies.group(1))
    extras = re.search(r"^\[project\.optional-dependencies\]\n(.*?)(?=^\[)", text, re.M | re.S)
    if extras:
        for block in re.findall(r"^[A-Za-z0-9_-]+ = \[(.*?)\]\s*$", extras.group(1), re.M | re.S):
            strings += re.findall(r'"([^"]+)"', block)
    return strings


def floors(text: str) -> dict[str, str]:
    """Normalised name -> floor version, for every requirement with a ``>=`` bound."""
    found: dict[str, str] = {}
    for string in requirement_strings(text):
        match = REQUIREMENT.match(string)
        if match is None:
            continue
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        if name == SELF:
            continue
        for specifier in match.group(2).split(","):
            specifier = specifier.strip()
            if specifier.startswith(">="):
                floor = specifier[2:].strip()
                if name in found and found[name] != floor:
                    raise SystemExit(f"{name}: two floors, {found[name]} and {floor}")
                found[name] = floor
    return found


def main() -> None:
    pinned = floors(PYPROJECT.read_text(encoding="utf-8"))
    sys.stdout.write("".join(f"{name}=={floor}\n" for name, floor in sorted(pinned.items())))


if __name__ == "__main__":
    main()
