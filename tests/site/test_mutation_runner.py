"""Smoke test of ``make mutation``'s runner (tools/mutation.py), so that it cannot rot."""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools import mutation

SNIPPET = '''
"""Docstring: left alone."""
from typing import TYPE_CHECKING

LIMIT = 3
ALLOWED = frozenset({"a", "b"})


def check(value: int, name: str) -> bool:
    if value <= LIMIT and name in ALLOWED:
        return True
    logger.info("refused")
    return not value
'''


def _run(tree: ast.Module, *args: object) -> object:
    namespace: dict[str, object] = {"logger": logging.getLogger("snippet")}
    exec(compile(tree, "<snippet>", "exec"), namespace)
    return namespace["check"](*args)  # type: ignore[operator]


def test_each_kind_of_change_is_made_and_named() -> None:
    mutants = mutation.enumerate_mutants("snippet.py", SNIPPET)
    ids = [m.id for m in mutants]
    assert "snippet.py::<module>::3 -> 4 #1" in ids
    assert "snippet.py::check::value <= LIMIT [op 0 flipped] #1" in ids
    assert "snippet.py::check::name in ALLOWED [op 0 flipped] #1" in ids
    assert "snippet.py::check::value <= LIMIT and name in ALLOWED [and/or swapped] #1" in ids
    assert "snippet.py::check::not value [not removed] #1" in ids
    assert "snippet.py::check::return True [deleted] #1" in ids
    assert "snippet.py::<module>::set member 'a' removed #1" in ids
    assert len(ids) == len(set(ids))
    # Docstrings, imports, module-level statements and logger calls are not deleted.
    assert not any("logger" in i or "Docstring" in i or "LIMIT = 3" in i for i in ids)


def test_each_change_changes_behaviour_and_only_that() -> None:
    source_tree = ast.parse(SNIPPET)
    assert _run(source_tree, 3, "a") is True
    by_id = {m.id: m for m in mutation.enumerate_mutants("snippet.py", SNIPPET)}

    def run(mutant_id: str, *args: object) -> object:
        return _run(mutation.mutated_tree(SNIPPET, by_id[mutant_id]), *args)

    assert run("snippet.py::check::value <= LIMIT [op 0 flipped] #1", 3, "a") is False
    assert run("snippet.py::<module>::3 -> 4 #1", 4, "a") is True
    assert run("snippet.py::<module>::set member 'a' removed #1", 3, "a") is False
    assert run("snippet.py::check::return True [deleted] #1", 3, "a") is False
    assert run("snippet.py::check::not value [not removed] #1", 9, "z") == 9
    # The original source is untouched by any of them.
    assert _run(ast.parse(SNIPPET), 3, "a") is True


def test_the_equivalent_mutants_are_current_and_explained() -> None:
    equivalents = mutation.load_equivalents()
    known = {m.id for path in mutation.MODULES for m in mutation.enumerate_mutants(path)}
    assert set(equivalents) <= known
    assert all(reason for reason in equivalents.values())


def test_every_target_exists_with_its_test_files() -> None:
    root = Path(mutation.__file__).resolve().parent.parent
    for path, selection in mutation.MODULES.items():
        assert (root / path).is_file(), path
        for item in selection:
            if item.startswith("tests/"):
                assert (root / item.split("::")[0]).is_file(), item  # a file or a node id


def test_a_short_run_kills_the_mutants_and_reports() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.mutation", "face_idcard/_masking.py", "--limit", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(mutation.__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert "killed 2/2" in lines[-2]
    assert lines[-1] == "RESULT mutation_score_min=100.0 modules=1"


def test_each_slot_has_its_own_test_database_made_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mutation, "_RUNNER", 4242)
    monkeypatch.delenv("FACE_IDCARD_SQLITE_TEST_NAME", raising=False)
    path = "face_idcard/_masking.py"
    baseline = mutation._selection(path, 0, baseline=True)
    assert baseline[-2:] == ["--reuse-db", "--create-db"]
    first = os.environ["FACE_IDCARD_SQLITE_TEST_NAME"]
    assert mutation._selection(path, 0, baseline=False)[-1] == "--reuse-db"
    assert os.environ["FACE_IDCARD_SQLITE_TEST_NAME"] == first
    mutation._selection(path, 1, baseline=False)
    second = os.environ["FACE_IDCARD_SQLITE_TEST_NAME"]
    assert first != second and "4242" in first and "4242" in second
