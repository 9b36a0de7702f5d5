"""The simulator is independent of the app code it checks (issue #25, item 5).

Walks the import statements of every module under ``face_idcard/simulator`` with ``ast`` (so
imports under ``TYPE_CHECKING`` and inside functions count too) and resolves relative ones.
None may reach the provider clients, their signatures, codes or backends, nor the app's
neutral outcome: the simulator signs, verifies and classifies with its own code, so a test of
the app against it is a conformance check rather than the code agreeing with itself. The only
app modules it may use are generic helpers listed in ``ALLOWED``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

PACKAGE_ROOT = REPO_ROOT / "face_idcard"
SIMULATOR = PACKAGE_ROOT / "simulator"

#: App modules the simulator must never import (nor anything under them).
FORBIDDEN = (
    "face_idcard.providers",
    "face_idcard.backends",
    "face_idcard.signing",
    "face_idcard.errors",
    "face_idcard.client",
    "face_idcard.outcome",
    "face_idcard.exceptions",
)
#: App modules outside the simulator that it may use: masking for its logs, the address
#: policy for url downloads.
ALLOWED = {"face_idcard._masking", "face_idcard._netpolicy"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module the source of ``module`` imports, relative imports resolved (``from . import
    x`` gives the package and ``package.x``, since ``x`` may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def _imports_of(path: Path) -> set[str]:
    return imported_modules(
        path.read_text(encoding="utf-8"), _module_name(path), is_package=path.name == "__init__.py"
    )


MODULES = sorted(SIMULATOR.rglob("*.py"))


def _is_under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_walk_sees_the_simulator_and_resolves_relative_imports() -> None:
    names = {_module_name(path) for path in MODULES}
    assert {"face_idcard.simulator.protocols.legacy", "face_idcard.simulator.tc3"} <= names
    legacy = _imports_of(SIMULATOR / "protocols" / "legacy.py")
    assert "face_idcard.simulator.legacy_signature" in legacy
    assert "face_idcard.simulator.core" in legacy


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("from ...providers.legacy import codes as errors", "face_idcard.providers.legacy"),
        ("from ... import signing", "face_idcard.signing"),
        ("import face_idcard.client", "face_idcard.client"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ...outcome import Reason",
            "face_idcard.outcome",
        ),
        ("def f():\n    from ...errors import lookup", "face_idcard.errors"),
    ],
)
def test_the_walk_would_catch_a_forbidden_import(source: str, caught: str) -> None:
    found = imported_modules(source, "face_idcard.simulator.protocols.legacy")
    assert caught in found
    assert any(_is_under(module, prefix) for module in found for prefix in FORBIDDEN)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: _module_name(path))
def test_no_simulator_module_imports_the_code_it_checks(path: Path) -> None:
    app = {
        module
        for module in _imports_of(path)
        if _is_under(module, "face_idcard") and not _is_under(module, "face_idcard.simulator")
    }
    forbidden = sorted(m for m in app if any(_is_under(m, prefix) for prefix in FORBIDDEN))
    assert forbidden == []
    # ``from .. import netpolicy`` names the package too: the package itself is no import of
    # app code (and ``from .._masking import f`` names ``_masking.f``).
    others = {m for m in app - {"face_idcard"} if not any(_is_under(m, a) for a in ALLOWED)}
    assert others == set()
