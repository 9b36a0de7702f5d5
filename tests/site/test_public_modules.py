"""The package's public surface by module: the top-level modules a site or a backend author
names are public, every other one is private by name (a leading underscore).

A new top-level module is private unless it is added to :data:`PUBLIC` here, to the release
notes' list and, where a site is meant to import it, to the reference."""

from __future__ import annotations

import pkgutil
import re

import face_idcard
from tests.support.paths import REPO_ROOT

#: The public top-level modules and packages of ``face_idcard``.
PUBLIC = frozenset(
    {
        "admin",
        "api",
        "apps",
        "backends",
        "checks",
        "conf",
        # The keys and their rotation (docs/reference/crypto.rst), and the key generator,
        # ``python -m face_idcard.crypto``, that the README and the settings name.
        "crypto",
        "exceptions",
        "insight",
        # Sites name its filters in their LOGGING.
        "logfilters",
        "management",
        "migrations",
        "models",
        "onboarding",
        # What counts as an outage (docs/reference/exceptions.rst).
        "outages",
        "outcome",
        "permissions",
        "providers",
        # The ``Sensitive`` values a backend receives.
        "sensitive",
        "services",
        "settings_spec",
        "signals",
        "simulator",
        "states",
        "tasks",
        "webhooks",
    }
)


def _top_level() -> set[str]:
    return {info.name for info in pkgutil.iter_modules(face_idcard.__path__)}


def test_every_public_top_level_module_is_on_the_list() -> None:
    modules = _top_level()
    public = {name for name in modules if not name.startswith("_")}
    assert public == PUBLIC, (
        "a new top-level module is public by name: make it private (a leading underscore) "
        "or add it to PUBLIC, the release notes and the reference"
    )
    assert "_audit" in modules  # the listing sees the private modules too


def test_the_changelog_lists_the_public_modules() -> None:
    text = (REPO_ROOT / "CHANGELOG.rst").read_text(encoding="utf-8")
    start = text.index("The app's internal modules are private by name")
    entry = text[start : text.index("\n- ", start)]
    public_part = re.split(r"public\s+ones:", entry)[1]
    named = set(re.findall(r"``(\w+)``", public_part))
    assert named == PUBLIC


def test_the_reference_documents_public_modules_only() -> None:
    """An ``automodule`` of the reference names a public module, never a private one."""
    targets = []
    for page in sorted((REPO_ROOT / "docs").rglob("*.rst")):
        targets += re.findall(r"^\.\. automodule:: (\S+)$", page.read_text(), flags=re.M)
    assert targets
    private = [target for target in targets if any(p.startswith("_") for p in target.split("."))]
    assert private == []
    assert {target.split(".")[1] for target in targets} <= PUBLIC
