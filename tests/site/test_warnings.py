"""The suite's warning filters (pyproject.toml): Django's deprecations, the next version's
(DeprecationWarning) and the one after (PendingDeprecationWarning), fail a test when the app's
own code causes them; other modules' are left to their owners."""

from __future__ import annotations

import warnings

import pytest
from django.utils import deprecation


def djangos_deprecations() -> list[type[Warning]]:
    found = {
        value
        for value in vars(deprecation).values()
        if isinstance(value, type)
        and issubclass(value, DeprecationWarning | PendingDeprecationWarning)
        and value.__name__.startswith("Removed")
    }
    # On every supported Django, one of each: the next version's and the one after.
    assert any(issubclass(w, PendingDeprecationWarning) for w in found), found
    assert any(not issubclass(w, PendingDeprecationWarning) for w in found), found
    return sorted(found, key=lambda w: w.__name__)


@pytest.mark.parametrize("category", djangos_deprecations(), ids=lambda w: w.__name__)
def test_a_django_deprecation_caused_by_the_app_fails(category: type[Warning]) -> None:
    with pytest.raises(category):
        # What Django's warnings look like when the app's own code calls a deprecated API: the
        # warning is attributed to the caller's module.
        warnings.warn_explicit(
            "deprecated", category, "face_idcard/x.py", 1, module="face_idcard.x"
        )


def test_another_module_s_pending_deprecation_is_not_an_error() -> None:
    with warnings.catch_warnings(record=True):
        warnings.warn_explicit(
            "deprecated", PendingDeprecationWarning, "elsewhere.py", 1, module="elsewhere"
        )
