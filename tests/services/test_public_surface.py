"""The services package's public surface: its verbs and nothing else. The modules behind them
are private by name; ``dispatch`` is the one public submodule (the plug point for a queue other
than Celery)."""

from __future__ import annotations

import pkgutil

import face_idcard.services
from face_idcard import services

VERBS = {
    "submit",
    "review",
    "cancel",
    "rerun",
    "redact",
    "set_legal_hold",
    "reveal_pii",
    "reveal_selfie",
    "purge",
    "sweep",
    "rotate_keys",
    "withdraw",
    # The non-face alternative (a document review by staff).
    "submit_documents",
    "decide_documents",
    "reveal_documents",
    "redact_documents",
    "set_documents_legal_hold",
}


def test_all_names_the_verbs_and_nothing_else() -> None:
    assert sorted(services.__all__) == sorted(VERBS)
    assert all(callable(getattr(services, name)) for name in services.__all__)


def test_the_namespace_holds_no_other_public_name() -> None:
    public = {name for name in vars(services) if not name.startswith("_")}
    # ``dispatch`` is the public submodule (bound once imported), not an export.
    assert public - {"dispatch"} == VERBS


def test_no_public_submodule_but_dispatch() -> None:
    modules = {info.name for info in pkgutil.iter_modules(face_idcard.services.__path__)}
    assert {name for name in modules if not name.startswith("_")} == {"dispatch"}
    assert "_pipeline" in modules  # the listing sees the private modules too


def test_the_changelog_names_every_verb() -> None:
    """The release notes list the exports as they are (they once listed eleven of them)."""
    import re

    from tests.support.paths import REPO_ROOT

    text = (REPO_ROOT / "CHANGELOG.rst").read_text(encoding="utf-8")
    start = text.index("``face_idcard.services`` exports the verbs only")
    entry = text[start : text.index("\n- ", start)]
    assert set(re.findall(r"``(\w+)``", entry)) == VERBS
