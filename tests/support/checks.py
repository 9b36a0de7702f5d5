"""The ids of the system checks a configuration raises.

First written in tests/site/test_conf.py; kept here so that no test module imports
from another."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings

LEGACY = {"BACKEND": "legacy", "APPID": "1", "SECRET_ID": "id", "SECRET_KEY": "key"}


BASE = {
    "BACKENDS": {"default": LEGACY},
    "PII_ENCRYPTION_KEYS": ["3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE="],
    # Long and varied enough for check --deploy (face_idcard.E034).
    "PII_HASH_KEYS": ["a-hash-key-of-its-own-kept-apart-from-SECRET_KEY"],
    "SELFIE_STORAGE": "face_idcard",
}


LOCAL_CACHE = {"local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def check_ids(*, databases: list[str] | None = None, **overrides: object) -> set[str]:
    """The ids the app's checks raise, ``check --deploy``'s included (and the database
    checks, reading ``databases``, when given)."""
    caches = {**settings.CACHES, **LOCAL_CACHE}
    with override_settings(FACE_IDCARD=BASE | overrides, CACHES=caches):
        return {
            m.id
            for m in run_checks(
                tags=["face_idcard"], include_deployment_checks=True, databases=databases
            )
            if m.id and m.id.startswith("face_idcard")
        }
