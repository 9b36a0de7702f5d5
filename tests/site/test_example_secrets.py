"""The example site fails closed: with DEBUG off it needs secrets of its own, and the demo
accounts (published passwords, a reviewer who may read personal information) are refused.

The settings are imported in a child process (they read the environment at import); the
command runs in this process against the test database.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import CommandError
from django.test import override_settings

from tests.support.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "example_project"
SECRETS = {
    "DJANGO_SECRET_KEY": "a-secret-key-of-this-test-only-0123456789abcdef",
    "FACE_IDCARD_PII_KEY": "3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE=",
    "FACE_IDCARD_PII_HASH_KEY": "a-hash-key-of-this-test-only-0123456789abcdef",
}


def import_settings(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    keep = ("FACE_IDCARD_", "DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(keep)} | {
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(REPO_ROOT)]),
        "EXAMPLE_VAR_DIR": str(tmp_path / "var"),
        **variables,
    }
    code = "import example_site.settings as s; print(s.SECRET_KEY == s.FACE_IDCARD['PII_HASH_KEYS'][0])"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_debug_off_with_a_secret_missing_refuses_to_start(tmp_path: Path, missing: str) -> None:
    given = {k: v for k, v in SECRETS.items() if k != missing}
    result = import_settings(tmp_path, DJANGO_DEBUG="0", **given)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and missing in last_line, result.stderr
    for name, value in given.items():
        assert name not in last_line and value not in result.stderr


def test_debug_off_with_every_secret_set_starts(tmp_path: Path) -> None:
    result = import_settings(tmp_path, DJANGO_DEBUG="0", **SECRETS)
    assert result.returncode == 0, result.stderr


def test_debug_on_keeps_the_development_values_for_the_demo(tmp_path: Path) -> None:
    assert import_settings(tmp_path).returncode == 0  # DJANGO_DEBUG defaults to on
    assert import_settings(tmp_path, DJANGO_DEBUG="1").returncode == 0


@pytest.fixture
def demo_accounts(monkeypatch: pytest.MonkeyPatch) -> type:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    module = importlib.import_module("demo.management.commands.face_idcard_demo_accounts")
    return module.Command  # type: ignore[no-any-return]


@pytest.mark.django_db
def test_the_demo_accounts_are_refused_without_debug(demo_accounts: type) -> None:
    from django.contrib.auth import get_user_model

    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        demo_accounts().handle()
    assert not get_user_model().objects.filter(username__in=["reviewer", "demo"]).exists()


@pytest.mark.django_db
def test_the_demo_accounts_are_created_in_debug(demo_accounts: type) -> None:
    from django.contrib.auth import get_user_model

    with override_settings(DEBUG=True):
        demo_accounts().handle()
    reviewer = get_user_model().objects.get(username="reviewer")
    assert reviewer.is_staff and reviewer.has_perm("face_idcard.view_pii")
