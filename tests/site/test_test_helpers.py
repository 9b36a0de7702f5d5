"""The tests submit attempts through one factory, ``tests.support.factories.submit_attempt``
(issue 25): a helper elsewhere that wraps ``face_idcard.services.submit`` with its own name,
photo and consent is a copy that drifts from the factory and from the others.

A helper is any function that is not a test (a ``def`` whose name does not start with
``test_``: a fixture, a module's ``stored()`` or ``_history()``), or module-level code such
as a ``functools.partial``. A test may call the real verb in its own body, and so may a
function nested in a test: that is the test's subject, not a copy. Code in strings (the
scripts the subprocess tests run, where ``tests.support`` is not importable) is not read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT, TESTS_DIR

SUPPORT = TESTS_DIR / "support"

#: The modules that define or re-export ``submit``.
MODULES = frozenset({"face_idcard.services", "face_idcard.services._submission"})

#: Files whose subject is submit itself, where a helper may call the verb directly (the
#: factory's defaults would hide what the test is about): path from the repository root ->
#: why. Each entry must name a file that exists.
ALLOWED = {
    "tests/input/test_submit_input.py": (
        "submit's own input checks: a helper that builds one bad argument list must be free"
        " to leave out what the factory would fill in"
    ),
}


def _bindings(tree: ast.AST) -> tuple[set[str], set[str]]:
    """The names the module binds to a module of :data:`MODULES` (dotted, as written at a
    use) and to ``submit`` itself."""
    modules: set[str] = set(MODULES)
    functions: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    modules.add(alias.asname)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    modules.add(alias.asname or alias.name)
                elif node.module in MODULES and alias.name == "submit":
                    functions.add(alias.asname or alias.name)
    return modules, functions


def _findings(source: str, where: str) -> list[str]:
    """``where:line: helper`` for each use of ``submit`` outside a test's own body."""
    tree = ast.parse(source)
    modules, functions = _bindings(tree)
    found: list[str] = []

    def visit(node: ast.AST, outermost: str | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and outermost is None:
            outermost = node.name
        uses = (
            isinstance(node, ast.Attribute)
            and node.attr == "submit"
            and ast.unparse(node.value) in modules
        ) or (isinstance(node, ast.Name) and node.id in functions)
        if uses and not (outermost or "").startswith("test_"):
            found.append(f"{where}:{getattr(node, 'lineno', 0)}: {outermost or '<module>'}")
        for child in ast.iter_child_nodes(node):
            visit(child, outermost)

    visit(tree, None)
    return found


def _test_modules() -> list[Path]:
    return sorted(path for path in TESTS_DIR.rglob("*.py") if SUPPORT not in path.parents)


def test_no_helper_outside_the_support_package_calls_submit() -> None:
    found = [
        finding
        for path in _test_modules()
        if (where := path.relative_to(REPO_ROOT).as_posix()) not in ALLOWED
        for finding in _findings(path.read_text(encoding="utf-8"), where)
    ]
    assert found == [], "use tests.support.factories.submit_attempt (a keyword if need be)"


def test_the_allowed_files_exist() -> None:
    assert [name for name in sorted(ALLOWED) if not (REPO_ROOT / name).is_file()] == []


IMPORT = "from face_idcard import services\n"


@pytest.mark.parametrize(
    "source",
    [
        IMPORT + "def stored():\n    return services.submit(idcard_number='1')",
        IMPORT + "@pytest.fixture\ndef queued():\n    yield services.submit()",
        IMPORT + "async def stored():\n    return services.submit()",
        IMPORT + "submit = functools.partial(services.submit, enqueue=False)",
        IMPORT + "def helper():\n    def inner():\n        services.submit()\n    inner()",
        "from face_idcard import services as s\ndef stored():\n    s.submit()",
        "import face_idcard.services\ndef stored():\n    face_idcard.services.submit()",
        "import face_idcard.services as fs\ndef stored():\n    fs.submit()",
        "from face_idcard.services import submit\ndef stored():\n    submit()",
        "from face_idcard.services import submit as real\ndef stored():\n    real()",
        "from face_idcard.services import _submission as sub\ndef stored():\n    sub.submit()",
        "from face_idcard.services._submission import submit\ndef stored():\n    submit()",
    ],
)
def test_the_scan_finds_a_helper_that_calls_submit(source: str) -> None:
    assert _findings(source, "example.py")


@pytest.mark.parametrize(
    "source",
    [
        IMPORT + "def test_submit():\n    services.submit(idcard_number='1')",
        IMPORT + "def test_submit():\n    def inner():\n        services.submit()\n    inner()",
        IMPORT + "def stored():\n    return submit_attempt(enqueue=False)",
        IMPORT + "def stored():\n    return services.submit_documents()",
        IMPORT + "def stored():\n    return services.rerun(attempt)",
        IMPORT + "SCRIPT = 'services.submit(idcard_number=magic.MATCH)'",
        "from tests.support.faceid import submit\ndef stored():\n    submit()",
        "def stored(form):\n    form.submit()",
    ],
)
def test_the_scan_allows_tests_and_the_factory(source: str) -> None:
    assert _findings(source, "example.py") == []
