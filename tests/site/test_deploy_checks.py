"""``check`` and ``check --deploy`` refuse what fails open in production (issue #28).

A development-only backend outside DEBUG (E030), secrets the repository publishes (E031), a
backend endpoint on loopback (E032) or over plain http to a remote host (E033), a short or
patterned hash key (E034), a hash key that is also an encryption key (E035). Each is an Error
with DEBUG off and silent in DEBUG.
"""

from __future__ import annotations

import re

import pytest
from django.test import override_settings

from face_idcard.checks import PUBLISHED_SECRET_DIGESTS, _digest
from tests.support.checks import check_ids
from tests.support.paths import REPO_ROOT

FACEID = {"BACKEND": "faceid", "SECRET_ID": "AKIDexample", "SECRET_KEY": "example-secret"}
LEGACY = {"BACKEND": "legacy", "APPID": "1", "SECRET_ID": "id", "SECRET_KEY": "key"}
FERNET = "3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE="
EXAMPLE_SETTINGS = REPO_ROOT / "example_project" / "example_site" / "settings.py"


def deploy_ids(debug: bool = False, **overrides: object) -> set[str]:
    with override_settings(DEBUG=debug):
        return check_ids(**overrides)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({**FACEID, "ENDPOINT": "127.0.0.1:8701"}, "face_idcard.E032"),
        ({**FACEID, "ENDPOINT": "http://localhost:8701"}, "face_idcard.E032"),
        ({**LEGACY, "ENDPOINT": "https://[::1]:8701"}, "face_idcard.E032"),
        ({**LEGACY, "ENDPOINT": "http://127.0.0.1:8701"}, "face_idcard.E032"),
        ({**LEGACY, "ENDPOINT": "http://recognition.image.myqcloud.com"}, "face_idcard.E033"),
        ({**FACEID, "ENDPOINT": "http://faceid.tencentcloudapi.com"}, "face_idcard.E033"),
    ],
)
def test_a_loopback_or_plain_http_endpoint_is_an_error(
    entry: dict[str, str], expected: str
) -> None:
    ids = deploy_ids(BACKENDS={"default": entry})
    assert expected in ids
    assert not deploy_ids(debug=True, BACKENDS={"default": entry}) & {expected}


@pytest.mark.parametrize(
    "entry",
    [
        FACEID,  # the default endpoint: a bare host, https
        {**FACEID, "ENDPOINT": "faceid.ap-shanghai.tencentcloudapi.com"},
        LEGACY,
        {**LEGACY, "ENDPOINT": "https://recognition.image.myqcloud.com"},
    ],
)
def test_the_providers_https_endpoints_pass(entry: dict[str, str]) -> None:
    assert not deploy_ids(BACKENDS={"default": entry}) & {
        "face_idcard.E032",
        "face_idcard.E033",
    }


def test_a_private_deployment_may_allow_a_loopback_endpoint_explicitly() -> None:
    entry = {**LEGACY, "ENDPOINT": "http://127.0.0.1:9000"}
    ids = deploy_ids(BACKENDS={"default": entry}, ALLOW_LOOPBACK_ENDPOINTS=True)
    assert not ids & {"face_idcard.E032", "face_idcard.E033"}


@pytest.mark.parametrize(
    "key",
    ["x", "face-idcard-short-hash-key", "a" * 64, "ab" * 32, {"id": "2025a", "key": "x" * 40}],
)
def test_a_short_or_patterned_hash_key_is_an_error(key: object) -> None:
    assert "face_idcard.E034" in deploy_ids(PII_HASH_KEYS=[key])
    assert "face_idcard.E034" not in deploy_ids(debug=True, PII_HASH_KEYS=[key])


def test_a_random_hash_key_passes() -> None:
    ids = deploy_ids(PII_HASH_KEYS=["Jq4v1u8Zb2yHk0cX7mTnR3sWfLp9dEaG"])
    assert not ids & {"face_idcard.E034", "face_idcard.E035"}


def test_a_hash_key_that_is_an_encryption_key_is_an_error() -> None:
    ids = deploy_ids(PII_ENCRYPTION_KEYS=[FERNET], PII_HASH_KEYS=[{"id": "a", "key": FERNET}])
    assert "face_idcard.E035" in ids


def published_defaults() -> dict[str, str]:
    """The example site's development defaults, read from its settings file."""
    text = EXAMPLE_SETTINGS.read_text(encoding="utf-8")
    found = {}
    for variable in ("DJANGO_SECRET_KEY", "FACE_IDCARD_PII_KEY", "FACE_IDCARD_PII_HASH_KEY"):
        match = re.search(rf'"{variable}",\s*"([^"]+)"', text)
        assert match, f"the example settings no longer default {variable}: update this test"
        found[variable] = match.group(1)
    return found


def test_the_published_digests_are_the_example_sites_defaults() -> None:
    assert {_digest(value) for value in published_defaults().values()} == PUBLISHED_SECRET_DIGESTS


def test_the_example_sites_published_secrets_are_refused_without_debug() -> None:
    defaults = published_defaults()
    with override_settings(SECRET_KEY=defaults["DJANGO_SECRET_KEY"]):
        assert "face_idcard.E031" in deploy_ids()
        assert "face_idcard.E031" not in deploy_ids(debug=True)
    assert "face_idcard.E031" in deploy_ids(PII_ENCRYPTION_KEYS=[defaults["FACE_IDCARD_PII_KEY"]])
    assert "face_idcard.E031" in deploy_ids(PII_HASH_KEYS=[defaults["FACE_IDCARD_PII_HASH_KEY"]])
    assert "face_idcard.E031" not in deploy_ids()
