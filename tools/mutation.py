"""Mutation testing for the modules that decide money and privacy (``make mutation``).

Why our own runner: each module must run against ITS OWN fast test selection (mutmut 3 runs
the tests it maps to a mutant through a stats pass over the whole suite, and copies the tree
to ``mutants/``, which fights with our editable install and the Celery pipeline tests). This
runner is small enough to read in one sitting:

1. ``enumerate_mutants`` walks a module's AST and lists one mutant per change point:
   flipped comparisons (``<``/``<=``, ``==``/``!=``, ``in``/``not in``, ``is``/``is not``),
   integer and float constants +1, ``True``/``False`` swapped, ``and``/``or`` swapped, a
   ``not`` removed, a statement deleted (replaced by ``pass``), a member removed from a set or
   ``frozenset`` literal. Docstrings, annotations, imports, ``__all__``, ``TYPE_CHECKING``
   blocks and logger calls are left alone (they are not behaviour these modules decide).
2. The parent process imports the heavy third-party libraries once, then for each mutant
   forks a child that installs an import hook serving the mutated code object under the
   module's real name and path, and runs the module's selection in-process with
   ``pytest -x -q -p no:cacheprovider``. A child that fails or times out has KILLED the
   mutant; one that passes lets it SURVIVE. Nothing is written to the source tree.
3. Equivalent mutants (no test can tell them apart from the original) are listed in
   ``tools/mutation_equivalent.txt`` by id, each with a one-line reason; they are excluded
   from the score. A stale entry (an id that no longer exists) is an error.

A mutant id is ``path::qualname::change #n`` (no line numbers, so ids survive edits elsewhere
in the file). The last line printed is ``RESULT mutation_score_min=<percent> modules=<n>``.

Usage: ``python -m tools.mutation [path ...] [--limit N] [--jobs N] [--list] [--timeout S]``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import importlib.abc
import importlib.util
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = Path(__file__).with_name("mutation_equivalent.txt")
PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]

#: Each module and its own fast test selection (pytest arguments, run from the repository root).
MODULES: dict[str, list[str]] = {
    "face_idcard/states.py": [
        "tests/services/test_states.py",
        "tests/services/test_state_transitions.py",
    ],
    # -k also matches the module name: all of services/test_claim.py, the claim tests of services.
    "face_idcard/services/_claim.py": [
        "tests/services/test_claim.py",
        "tests/services/test_services.py",
        "-k",
        "claim",
    ],
    "face_idcard/providers/legacy/signing.py": [
        "tests/providers/test_legacy_signing.py",
        "tests/providers/test_legacy_signing_ranges.py",
    ],
    "face_idcard/simulator/tc3.py": [
        *("tests/simulator/test_tc3_header_form.py", "tests/simulator/test_tc3.py"),
    ],
    "face_idcard/providers/faceid/encryption.py": ["tests/providers/test_faceid_encryption.py"],
    # The direct tables first: -x stops a killed mutant before the database is set up.
    "face_idcard/_identity.py": [
        *("tests/input/test_identity.py", "tests/site/test_translations.py"),
        "tests/input/test_submit_input.py",
    ],
    "face_idcard/_consent.py": ["tests/input/test_consent.py", "tests/input/test_submit_input.py"],
    "face_idcard/_textfields.py": [
        "tests/input/test_textfields.py",
        "tests/input/test_submit_input.py",
    ],
    "face_idcard/_images.py": [
        *("tests/input/test_image_metadata.py", "tests/input/test_image_uploads.py"),
        *("tests/input/test_image_header_checks.py", "tests/input/test_image_conversion.py"),
        *(
            "tests/input/test_image_resizing.py",
            "tests/input/test_image_decoding.py",
            "tests/input/test_prepare_image.py",
        ),
        *("tests/input/test_crafted_images.py", "tests/input/test_submit_input.py"),
    ],
    "face_idcard/_imagescan.py": [
        *(
            "tests/input/test_imagescan.py",
            "tests/input/test_crafted_images.py",
            "tests/input/test_prepare_image.py",
        ),
    ],
    "face_idcard/_netpolicy.py": [
        *("tests/input/test_netpolicy.py", "tests/input/test_photo_urls.py"),
    ],
    "face_idcard/_masking.py": ["tests/privacy/test_masking.py"],
    "face_idcard/crypto.py": [
        *(
            "tests/privacy/test_crypto_keys.py",
            "tests/privacy/test_crypto.py",
            "tests/privacy/test_selfie_encryption.py",
        ),
        "tests/privacy/test_hash_keys.py",
        # A 6 MB upload through the storage, for the memory peak: 2 s, and the token equality
        # tests above pin every byte of the streamed token.
        "--deselect",
        "tests/privacy/test_selfie_encryption.py::test_storing_a_6_mb_selfie_holds_no_copy_of_it",
    ],
    "face_idcard/sensitive.py": [
        "tests/privacy/test_crash_reports.py",
        "tests/privacy/test_sensitive.py",
    ],
    # The Celery pipeline test is marked `pipeline` and left out: it needs a worker and the
    # quota of real seconds; the unit tests pin the limiter's arithmetic (the tables first:
    # simulated clock, no database).
    "face_idcard/_ratelimit.py": [
        *(
            "tests/services/test_ratelimit_slots.py",
            "tests/services/test_ratelimit.py",
            "-m",
            "not pipeline",
        ),
    ],
    # the pipeline's run on a simulated clock, against the simulator: no worker.
    "face_idcard/services/_slots.py": [
        "tests/services/test_slots.py",
        "tests/services/test_deferred_runs.py",
    ],
    "face_idcard/providers/legacy/backend.py": [
        *("tests/providers/test_legacy_backend.py", "tests/providers/test_backends.py"),
        *("tests/site/test_conf.py", "-m", "not pipeline"),
    ],
    "face_idcard/providers/legacy/codes.py": [
        "tests/providers/test_legacy_codes.py",
        "tests/providers/test_exceptions.py",
    ],
    "face_idcard/providers/faceid/backend.py": ["tests/providers/test_faceid_outcome.py"],
    "face_idcard/providers/faceid/codes.py": ["tests/providers/test_faceid_codes.py"],
    "face_idcard/outcome.py": [
        *("tests/providers/test_outcome.py", "tests/providers/test_legacy_codes.py"),
        "tests/providers/test_catalogue_files.py",
    ],
    "face_idcard/simulator/legacy_signature.py": ["tests/simulator/test_legacy_signature.py"],
}

#: Modules whose selection runs on PostgreSQL (none: every listed module's statements are
#: the ORM's, the same on SQLite). Each concurrent child slot gets its own test database, created by the baseline run and
#: reused (``--reuse-db``) by every mutant, so that a mutant costs no migrations.
ON_POSTGRES: set[str] = set()
PG_TEST_NAME = "test_face_idcard_mutation_{slot}"
#: The same on SQLite: one file per slot (in RAM where /dev/shm exists), named after the runner's
#: pid so that two runs on one machine do not share it; removed when the module is done.
#: Migrating a fresh test database costs 1.5-3 s, more than most selections' tests.
_SHM = Path("/dev/shm")  # noqa: S108 - RAM for a scratch database, named per run below
SQLITE_DIR = _SHM if _SHM.is_dir() else Path(tempfile.gettempdir())
SQLITE_TEST_NAME = "face_idcard_mutation_{runner}_{slot}.sqlite3"

#: Imported once in the parent so that each forked child starts in a fraction of a second.
#: Nothing of face_idcard: the module under test must be imported fresh, mutated, in the child.
PRELOAD = [
    "pytest",
    "pytest_django",
    "django",
    "django.db.models",
    "django.test",
    "rest_framework",
    "celery",
    "requests",
    "PIL.Image",
    "cryptography.hazmat.primitives.ciphers",
    "stdnum.cn.ric",
    "hypothesis",
    "time_machine",
]

_FLIPPED_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SKIPPED_FIELDS = {"annotation", "returns", "type_comment"}
_DELETABLE = (ast.Expr, ast.Raise, ast.If, ast.AugAssign, ast.Assert, ast.Assign, ast.Return)
_LOGGER_NAMES = {"logger", "log", "_log", "_logger", "LOGGER"}


@dataclass(frozen=True)
class Mutant:
    id: str
    line: int
    index: int  # position of the change point in the walk (see _walk)
    kind: str


@dataclass
class _Point:
    node: ast.AST
    parent_list: list[ast.AST] | None
    qualname: str
    in_function: bool


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_logger_call(stmt: ast.stmt) -> bool:
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    func = stmt.value.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in _LOGGER_NAMES
    )


def _is_left_alone(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
        return True
    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
    return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)


def _walk(node: ast.AST, qualname: str = "", in_function: bool = False) -> Iterator[_Point]:
    """Every node that may be mutated, in a fixed order, with the statement list it sits in."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        qualname = f"{qualname}.{node.name}" if qualname else node.name
        in_function = in_function or not isinstance(node, ast.ClassDef)
    for field, value in ast.iter_fields(node):
        if field in _SKIPPED_FIELDS:
            continue
        if isinstance(value, list):
            for child in value:
                if not isinstance(child, ast.AST):
                    continue
                if isinstance(child, ast.stmt) and (_is_docstring(child) or _is_left_alone(child)):
                    continue
                statements = value if isinstance(child, ast.stmt) else None
                yield _Point(child, statements, qualname, in_function)
                yield from _walk(child, qualname, in_function)
        elif isinstance(value, ast.AST):
            yield _Point(value, None, qualname, in_function)
            yield from _walk(value, qualname, in_function)


def _changes(point: _Point, parent_call: dict[int, ast.AST]) -> Iterator[tuple[str, str]]:
    """(kind, description) of each mutant at this point."""
    node = point.node
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _FLIPPED_COMPARE:
                yield f"cmp{i}", f"{ast.unparse(node)} [op {i} flipped]"
    elif isinstance(node, ast.BoolOp):
        yield "boolop", f"{ast.unparse(node)} [and/or swapped]"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not", f"{ast.unparse(node)} [not removed]"
    elif isinstance(node, ast.Constant) and not isinstance(node.value, str | bytes):
        if isinstance(node.value, bool):
            yield "const", f"{node.value!r} -> {not node.value!r}"
        elif isinstance(node.value, int | float):
            yield "const", f"{node.value!r} -> {node.value + 1!r}"
    # Only statements in functions: deleting a module-level name is a NameError on import,
    # killed by any test, which would inflate the score without pinning anything.
    deletable = point.parent_list is not None and point.in_function
    if deletable and isinstance(node, _DELETABLE) and not _is_logger_call(node):
        first = ast.unparse(node).splitlines()[0]
        yield "delete", f"{first} [deleted]"
    # Members of a set literal, or of the tuple or list literal given to frozenset()/set().
    members: list[ast.expr] = []
    if isinstance(node, ast.Set) or (
        isinstance(node, (ast.Tuple, ast.List)) and id(node) in parent_call
    ):
        members = node.elts
    if members:
        for i, member in enumerate(members):
            yield f"member{i}", f"set member {ast.unparse(member)} removed"


def _frozenset_literals(tree: ast.AST) -> dict[int, ast.AST]:
    """Tuples and lists passed straight to ``frozenset(...)``/``set(...)``: their items are members."""
    found: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("frozenset", "set")
            and len(node.args) == 1
            and isinstance(node.args[0], (ast.Tuple, ast.List))
        ):
            found[id(node.args[0])] = node
    return found


def enumerate_mutants(path: str, source: str | None = None) -> list[Mutant]:
    source = (ROOT / path).read_text() if source is None else source
    tree = ast.parse(source)
    holders = _frozenset_literals(tree)
    mutants: list[Mutant] = []
    seen: Counter[str] = Counter()
    for index, point in enumerate(_walk(tree)):
        for kind, description in _changes(point, holders):
            base = f"{path}::{point.qualname or '<module>'}::{description}"
            seen[base] += 1
            mutant_id = f"{base} #{seen[base]}"
            mutants.append(Mutant(mutant_id, getattr(point.node, "lineno", 0), index, kind))
    return mutants


def _empty_set_like(node: ast.AST) -> ast.expr:
    if isinstance(node, ast.Set):
        return ast.Call(func=ast.Name(id="set", ctx=ast.Load()), args=[], keywords=[])
    return ast.Tuple(elts=[], ctx=ast.Load())


def mutated_tree(source: str, mutant: Mutant) -> ast.Module:
    """The module's AST with exactly this one change applied."""
    tree = ast.parse(source)
    point = next(p for i, p in enumerate(_walk(tree)) if i == mutant.index)
    node = point.node
    kind = mutant.kind
    if kind.startswith("cmp"):
        assert isinstance(node, ast.Compare)
        i = int(kind[3:])
        node.ops[i] = _FLIPPED_COMPARE[type(node.ops[i])]()
    elif kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "not":
        assert isinstance(node, ast.UnaryOp)
        replacement = copy.copy(node.operand)
        _replace_expr(tree, node, replacement)
    elif kind == "const":
        assert isinstance(node, ast.Constant) and isinstance(node.value, int | float)
        node.value = (not node.value) if isinstance(node.value, bool) else node.value + 1
    elif kind == "delete":
        assert point.parent_list is not None
        position = next(i for i, s in enumerate(point.parent_list) if s is node)
        point.parent_list[position] = ast.copy_location(ast.Pass(), node)
    elif kind.startswith("member"):
        elts: list[ast.expr] = node.elts  # type: ignore[attr-defined]
        del elts[int(kind[6:])]
        if not elts and isinstance(node, ast.Set):
            _replace_expr(tree, node, _empty_set_like(node))
    else:  # pragma: no cover - enumerate_mutants only makes the kinds above
        raise ValueError(kind)
    return ast.fix_missing_locations(tree)


def _replace_expr(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, ast.copy_location(new, old))
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = ast.copy_location(new, old)
                        return


def load_equivalents() -> dict[str, str]:
    """``id  # reason`` per line; blank lines and lines starting with ``#`` are comments."""
    equivalents: dict[str, str] = {}
    for raw in EQUIVALENT_FILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        mutant_id, sep, reason = line.rpartition("  # ")
        if not sep or not reason.strip():
            raise SystemExit(f"{EQUIVALENT_FILE.name}: no one-line reason for: {line}")
        equivalents[mutant_id.strip()] = reason.strip()
    return equivalents


# --- Running -------------------------------------------------------------------------------


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``code`` as module ``name``, with ``__file__`` the real path (data files resolve)."""

    def __init__(self, name: str, path: Path, code: CodeType) -> None:
        self.name, self.path, self.code = name, path, code

    def find_spec(self, fullname: str, path: object = None, target: object = None):  # type: ignore[no-untyped-def]
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def create_module(self, spec: object) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self.code, module.__dict__)  # noqa: S102 - the point of the runner

    def get_code(self, fullname: str) -> CodeType:
        """For ``runpy`` (``python -m``), which runs a module's code without importing it."""
        return self.code


def _module_name(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _selection(path: str, slot: int, baseline: bool) -> list[str]:
    """The module's pytest arguments for child slot ``slot`` (sets its database environment):
    the baseline run creates the slot's test database, every mutant reuses it."""
    if path in ON_POSTGRES:
        os.environ["FACE_IDCARD_TEST_DB"] = "postgres"
        os.environ["FACE_IDCARD_PG_TEST_NAME"] = PG_TEST_NAME.format(slot=slot)
    else:
        os.environ["FACE_IDCARD_SQLITE_TEST_NAME"] = str(_sqlite_file(slot))
    # --create-db with --reuse-db: made afresh and kept (pytest-django drops it only without
    # --reuse-db, so --create-db alone would leave the first mutant to migrate again).
    return [*MODULES[path], "--reuse-db", *(["--create-db"] if baseline else [])]


def _sqlite_file(slot: int) -> Path:
    return SQLITE_DIR / SQLITE_TEST_NAME.format(
        runner=os.getpid() if _RUNNER is None else _RUNNER, slot=slot
    )


#: The runner's pid, set in main() before any child is forked (a child's own pid differs).
_RUNNER: int | None = None


def start_child(
    path: str, code: CodeType | None, slot: int, timeout: float, baseline: bool = False
) -> int:
    """Fork a child that runs the selection against ``code`` (None: the original); its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child
        status = 3
        try:
            signal.alarm(max(1, int(timeout)))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            if code is not None:
                sys.meta_path.insert(0, _MutantFinder(_module_name(path), ROOT / path, code))
            import pytest

            status = int(pytest.main([*PYTEST_ARGS, *_selection(path, slot, baseline)]))
        except BaseException:
            status = 3
        finally:
            os._exit(status)
    return pid


def outcome(wait_status: int) -> str:
    """'passed' (the mutant survived), 'failed' or 'timeout' (killed)."""
    if os.WIFSIGNALED(wait_status):
        return "timeout" if os.WTERMSIG(wait_status) == signal.SIGALRM else "failed"
    return "passed" if os.WEXITSTATUS(wait_status) == 0 else "failed"


def run_child(
    path: str, code: CodeType | None, slot: int, timeout: float, baseline: bool = False
) -> str:
    _, wait_status = os.waitpid(start_child(path, code, slot, timeout, baseline), 0)
    return outcome(wait_status)


@dataclass
class ModuleResult:
    path: str
    killed: int
    total: int
    excluded: int
    survivors: list[Mutant]
    seconds: float

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0


def run_module(
    path: str,
    equivalents: dict[str, str],
    limit: int | None = None,
    timeout: float | None = None,
    jobs: int = 1,
) -> ModuleResult:
    source = (ROOT / path).read_text()
    started = time.monotonic()
    for slot in range(jobs):
        baseline = run_child(path, None, slot, timeout=600, baseline=True)
        if baseline != "passed":
            raise SystemExit(f"{path}: its test selection does not pass unmutated ({baseline})")
    baseline_seconds = (time.monotonic() - started) / jobs
    per_mutant = timeout or max(10.0, 3 * baseline_seconds + 5)
    mutants = enumerate_mutants(path, source)
    kept = [m for m in mutants if m.id not in equivalents]
    if limit is not None:
        kept = kept[:limit]
    survivors: list[Mutant] = []
    running: dict[int, tuple[Mutant, int]] = {}
    free_slots = list(range(jobs))
    pending = list(reversed(kept))
    while pending or running:
        while pending and free_slots:
            mutant, slot = pending.pop(), free_slots.pop()
            code = compile(mutated_tree(source, mutant), str(ROOT / path), "exec")
            running[start_child(path, code, slot, per_mutant)] = (mutant, slot)
        pid, wait_status = os.waitpid(-1, 0)
        mutant, slot = running.pop(pid)
        free_slots.append(slot)
        if outcome(wait_status) == "passed":
            survivors.append(mutant)
            print(f"  SURVIVED line {mutant.line}: {mutant.id}", flush=True)
    survivors.sort(key=lambda m: m.line)
    for slot in range(jobs):
        with contextlib.suppress(FileNotFoundError):
            _sqlite_file(slot).unlink()
    return ModuleResult(
        path,
        killed=len(kept) - len(survivors),
        total=len(kept),
        excluded=len(mutants) - len(kept) if limit is None else 0,
        survivors=survivors,
        seconds=time.monotonic() - started,
    )


def _preload() -> None:
    from importlib.metadata import entry_points

    plugins = [ep.value.split(":")[0] for ep in entry_points(group="pytest11")]
    for name in [*PRELOAD, *plugins]:
        with contextlib.suppress(ImportError):  # an optional extra that is not installed
            importlib.import_module(name)
    leaked = sorted(m for m in sys.modules if m.startswith("face_idcard"))
    if leaked:  # a preloaded library imported our code: mutants of it would not be seen
        raise SystemExit(f"preloading imported {leaked}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="modules to mutate (default: all of MODULES)")
    parser.add_argument("--limit", type=int, help="only the first N mutants of each module")
    parser.add_argument(
        "--timeout", type=float, help="seconds per mutant (default: 3x baseline + 5)"
    )
    parser.add_argument("--jobs", "-j", type=int, default=1, help="mutants run at once")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = parser.parse_args(argv)
    global _RUNNER
    _RUNNER = os.getpid()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    paths = args.paths or list(MODULES)
    unknown = [p for p in paths if p not in MODULES]
    if unknown:
        parser.error(f"not a mutation target: {unknown} (see MODULES in tools/mutation.py)")
    equivalents = load_equivalents()
    all_ids = {m.id for p in MODULES for m in enumerate_mutants(p)}
    stale = sorted(set(equivalents) - all_ids)
    if stale:
        raise SystemExit("stale entries in mutation_equivalent.txt:\n  " + "\n  ".join(stale))
    if args.list:
        for path in paths:
            for m in enumerate_mutants(path):
                mark = "  (equivalent)" if m.id in equivalents else ""
                print(f"{m.line:5d} {m.id}{mark}")
        return 0
    _preload()
    results: list[ModuleResult] = []
    for path in paths:
        print(f"{path}: {' '.join(MODULES[path])}", flush=True)
        result = run_module(path, equivalents, args.limit, args.timeout, args.jobs)
        results.append(result)
        print(
            f"{path}: score {result.score:.1f}% killed {result.killed}/{result.total}"
            f" excluded {result.excluded} survived {len(result.survivors)}"
            f" in {result.seconds:.0f}s",
            flush=True,
        )
    worst = min(r.score for r in results)
    print(f"RESULT mutation_score_min={worst:.1f} modules={len(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
