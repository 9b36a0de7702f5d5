"""The README's production settings block passes Django's ``check --deploy`` and the app's.

The block (``.. install-snippet: production``) is executed and its settings laid over a
site with Django's default middleware and a complete face_idcard configuration, then those
settings are checked: no security warning of Django's, none of the app's, a cache every process
shares and the API docs page for staff only.
"""

from __future__ import annotations

import os
import re
import textwrap
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from face_idcard.conf import secret_from_env
from tests.support.paths import REPO_ROOT

README = (REPO_ROOT / "README.rst").read_text(encoding="utf-8")
FERNET = "3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE="


def production_block() -> str:
    """The code block after ``.. install-snippet: production``, dedented."""
    lines = README.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == ".. install-snippet: production"]
    assert len(starts) == 1, "README.rst must mark one production block"
    index = starts[0] + 1
    while not lines[index].strip():
        index += 1
    assert lines[index].strip().startswith(".. code-block:: python")
    block = []
    for line in lines[index + 1 :]:
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def production_settings(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv(
        "DJANGO_SECRET_KEY", "x" * 10 + "a-long-random-secret-key-0123456789-ABCDEFGHIJ"
    )
    namespace: dict[str, Any] = {"os": os, "secret_from_env": secret_from_env}
    exec(production_block(), namespace)
    return {key: value for key, value in namespace.items() if re.fullmatch(r"[A-Z_]+", key)}


def test_the_block_turns_debug_off_and_reads_the_secret_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = production_settings(monkeypatch)
    assert values["DEBUG"] is False
    assert values["SECRET_KEY"] == os.environ["DJANGO_SECRET_KEY"]
    monkeypatch.delenv("DJANGO_SECRET_KEY")
    with pytest.raises(Exception, match="DJANGO_SECRET_KEY"):
        exec(production_block(), {"os": os, "secret_from_env": secret_from_env})


def test_the_block_passes_djangos_deploy_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    values = production_settings(monkeypatch)
    middleware = [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ]
    site = {
        "MIDDLEWARE": middleware,
        "FACE_IDCARD": {
            "BACKENDS": {
                "default": {"BACKEND": "legacy", "APPID": "1", "SECRET_ID": "i", "SECRET_KEY": "k"}
            },
            "PII_ENCRYPTION_KEYS": [FERNET],
            "PII_HASH_KEYS": ["Jq4v1u8Zb2yHk0cX7mTnR3sWfLp9dEaG-production"],
            "SELFIE_STORAGE": "face_idcard",
        },
    }
    with override_settings(**(site | values)):
        messages = run_checks(include_deployment_checks=True, tags=["security", "face_idcard"])
    assert [m.id for m in messages] == []


def test_the_block_shares_one_cache_and_keeps_the_api_docs_for_staff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = production_settings(monkeypatch)
    backend = values["CACHES"]["default"]["BACKEND"]
    assert "locmem" not in backend and "dummy" not in backend and "filebased" not in backend
    permissions = values["SPECTACULAR_SETTINGS"]["SERVE_PERMISSIONS"]
    assert permissions == ["rest_framework.permissions.IsAdminUser"]
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
