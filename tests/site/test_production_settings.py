"""The production how-to's settings pass Django's ``check --deploy`` and the app's.

The how-to's blocks (docs/howto/production.rst: ``production-backend`` and ``production``, read
from the page by tests/support/snippets.py) are executed after the tutorial's ``settings``
block, over what ``startproject`` gives a site, and the result is checked: no security warning
of Django's, none of the app's, a cache every process shares and the API docs page for staff
only. tests/site/test_install.py runs the same blocks in a fresh site with ``manage.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from face_idcard.conf import secret_from_env
from tests.support.snippets import snippet

FERNET = "3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE="
SECRETS = {
    "DJANGO_SECRET_KEY": "x" * 10 + "a-long-random-secret-key-0123456789-ABCDEFGHIJ",
    "FACE_IDCARD_PII_KEY": FERNET,
    "FACE_IDCARD_HASH_KEY": "Jq4v1u8Zb2yHk0cX7mTnR3sWfLp9dEaG-production",
    "TENCENTCLOUD_SECRET_ID": "AKIDproductiontest0123456789",
    "TENCENTCLOUD_SECRET_KEY": "production-test-secret-key",
}


def production_block() -> str:
    return snippet("production")


def production_settings(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The settings a site has after the tutorial and the how-to, as Django would read them."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    # What startproject's settings.py defines before the tutorial's block is appended.
    namespace: dict[str, Any] = {
        "BASE_DIR": Path("/srv/mysite"),
        "INSTALLED_APPS": ["django.contrib.admin", "django.contrib.auth"],
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db"}},
    }
    for name in ("settings", "production-backend", "production"):
        exec(snippet(name), namespace)
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
    # The provider's account is read the same way: a missing one names its variable.
    monkeypatch.delenv("TENCENTCLOUD_SECRET_KEY")
    with pytest.raises(Exception, match="TENCENTCLOUD_SECRET_KEY"):
        exec(snippet("production-backend"), {"FACE_IDCARD": {}, "secret_from_env": secret_from_env})


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
    django = {key: values.pop(key) for key in ("INSTALLED_APPS", "DATABASES", "BASE_DIR")}
    assert "face_idcard" in django["INSTALLED_APPS"]
    # The how-to keeps the tutorial's keys and private storage and replaces the simulator.
    assert values["FACE_IDCARD"]["BACKENDS"]["default"]["BACKEND"] == "faceid"
    assert values["FACE_IDCARD"]["SELFIE_STORAGE"] == "face_idcard"
    assert values["FACE_IDCARD"]["PII_HASH_KEYS"] == [SECRETS["FACE_IDCARD_HASH_KEY"]]
    with override_settings(MIDDLEWARE=middleware, **values):
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
