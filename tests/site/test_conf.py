"""The lazy settings object and the system checks."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from face_idcard.conf import DEFAULTS, face_idcard_settings
from tests.support.checks import BASE, LEGACY, check_ids


def default_alias(**entry: object) -> dict[str, object]:
    """``BACKENDS`` with the default alias's entry changed by ``entry``."""
    return {"BACKENDS": {"default": {**LEGACY, **entry}}}


def test_defaults_and_override() -> None:
    assert face_idcard_settings.REVIEW_BAND == DEFAULTS["REVIEW_BAND"]
    with override_settings(FACE_IDCARD={"REVIEW_BAND": 2.5}):
        assert face_idcard_settings.REVIEW_BAND == 2.5
    assert face_idcard_settings.REVIEW_BAND == DEFAULTS["REVIEW_BAND"]


def test_unknown_attribute_raises() -> None:
    with pytest.raises(AttributeError):
        face_idcard_settings.NOT_A_SETTING  # noqa: B018


@pytest.mark.parametrize(
    "key", ["BACKEND", "APPID", "SECRET_ID", "SECRET_KEY", "BUCKET", "ENDPOINT", "SIMULATOR_URL"]
)
def test_no_flat_provider_keys_and_no_environment_fallback(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """Provider options live in their alias only: neither a top-level key nor an environment
    variable configures a backend behind the site's back."""
    monkeypatch.setenv(f"FACE_IDCARD_{key}", "from-env")
    with override_settings(FACE_IDCARD={}), pytest.raises(AttributeError):
        face_idcard_settings.__getattr__(key)
    assert "face_idcard.E019" in check_ids(**{key: "x"})


def test_the_default_alias_is_default_and_backends_start_empty() -> None:
    assert (DEFAULTS["DEFAULT_BACKEND"], DEFAULTS["BACKENDS"]) == ("default", {})
    assert "face_idcard.E001" in check_ids(BACKENDS={})


def test_valid_configuration_has_no_messages() -> None:
    assert check_ids() == set()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (default_alias(BACKEND="nope"), "face_idcard.E001"),
        (default_alias(SECRET_KEY=""), "face_idcard.E002"),
        (default_alias(SIGNATURE_LIFETIME_SECONDS=0), "face_idcard.E017"),
        (default_alias(SIGNATURE_LIFETIME_SECONDS=91 * 24 * 3600), "face_idcard.E017"),
        (default_alias(HTTP_POOL_MAX_CONNECTIONS=0), "face_idcard.E010"),
        (default_alias(SIMULATOR_URL="http://x"), "face_idcard.E018"),
        ({"THRESHOLD": 101}, "face_idcard.E003"),
        ({"THRESHOLD": -1}, "face_idcard.E003"),
        ({"THRESHOLD": "75"}, "face_idcard.E003"),
        ({"REVIEW_BAND": -1}, "face_idcard.E004"),
        ({"PII_ENCRYPTION_KEYS": []}, "face_idcard.E005"),
        ({"PII_ENCRYPTION_KEYS": ["short"]}, "face_idcard.E006"),
        ({"READ_TIMEOUT_SECONDS": 0}, "face_idcard.E007"),
        ({"ADMIN_SELFIE_LINK_SECONDS": 0}, "face_idcard.E007"),
        ({"ADMIN_SELFIE_LINK_SECONDS": "120"}, "face_idcard.E007"),
        ({"OUTAGE_RETRY_BACKOFF_BASE_SECONDS": -1}, "face_idcard.E007"),
        ({"OUTAGE_RETRY_BACKOFF_MAX_SECONDS": None}, "face_idcard.E007"),
        ({"PII_RETENTION_DAYS": -3}, "face_idcard.E008"),
        ({"SELFIE_RETENTION_DAYS": 400}, "face_idcard.W002"),
        ({"THRESHLOD": 80}, "face_idcard.E019"),
        (default_alias(BACKEND="no.such.Backend"), "face_idcard.E001"),
        ({"LOST_CALL_POLICY": "retry"}, "face_idcard.E009"),
        ({"RETRY_MAX_COUNT": -1}, "face_idcard.E010"),
        ({"HTTP_POOL_MAX_CONNECTIONS": 0}, "face_idcard.E010"),
        ({"CLAIM_LEASE_SECONDS": 10}, "face_idcard.E011"),
        ({"RATE_LIMIT_PER_SECOND": 0}, "face_idcard.E012"),
        ({"RATE_LIMIT_PER_SECOND": 20, "RATE_LIMIT_CACHE": "nope"}, "face_idcard.E013"),
        ({"SELFIE_STORAGE": "nope"}, "face_idcard.E014"),
        ({"SELFIE_STORAGE": "default"}, "face_idcard.W004"),
        ({"RATE_LIMIT_PER_SECOND": 20, "RATE_LIMIT_CACHE": "local"}, "face_idcard.W005"),
        ({"RATE_LIMIT_MARGIN_SECONDS": -0.5}, "face_idcard.E012"),
    ],
)
def test_checks(overrides: dict[str, object], expected: str) -> None:
    assert expected in check_ids(**overrides)


def test_missing_key_allowed_in_debug() -> None:
    with override_settings(DEBUG=True):
        assert "face_idcard.E005" not in check_ids(PII_ENCRYPTION_KEYS=[])


def test_simulator_in_production_is_an_error() -> None:
    simulator = {"BACKENDS": {"default": {"BACKEND": "simulator"}}}
    with override_settings(FACE_IDCARD=BASE | simulator, SILENCED_SYSTEM_CHECKS=[]):
        ids = {m.id for m in run_checks(tags=["face_idcard"])}
    assert "face_idcard.E030" in ids
    assert "face_idcard.E002" not in ids


def test_a_value_read_during_a_reload_is_not_cached() -> None:
    """A reader that took the old settings must not leave them cached after a reload.

    The reader thread is paused right after reading FACE_IDCARD; meanwhile the settings change
    and the object is reloaded; then the reader finishes. Its stale value must not stick.
    """
    import threading

    from face_idcard.conf import DEFAULTS, FaceIdcardSettings

    class PausedReader(FaceIdcardSettings):
        def __init__(self) -> None:
            super().__init__(DEFAULTS)
            self.has_read = threading.Event()
            self.may_finish = threading.Event()

        @property
        def user_settings(self) -> dict[str, object]:
            value = FaceIdcardSettings.user_settings.fget(self)  # type: ignore[attr-defined]
            if threading.current_thread() is not threading.main_thread():
                self.has_read.set()
                self.may_finish.wait(5)
            return value  # type: ignore[no-any-return]

    fresh = PausedReader()
    seen: list[object] = []
    with override_settings(FACE_IDCARD={"REVIEW_BAND": 1.0}):
        reader = threading.Thread(target=lambda: seen.append(fresh.REVIEW_BAND))
        reader.start()
        assert fresh.has_read.wait(5)
    fresh.reload()  # the override has ended: FACE_IDCARD changed while the reader was paused
    fresh.may_finish.set()
    reader.join(5)
    assert seen == [1.0]  # the reader itself saw the settings of its time
    assert fresh.REVIEW_BAND == DEFAULTS["REVIEW_BAND"]  # but did not cache them


# --- secret_from_env: the docs' settings snippets read their secrets with it -----------------


def test_secret_from_env_returns_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    from face_idcard.conf import secret_from_env

    monkeypatch.setenv("FACE_IDCARD_TEST_SECRET", "  s3cr3t-value\n")
    assert secret_from_env("FACE_IDCARD_TEST_SECRET") == "s3cr3t-value"


@pytest.mark.parametrize("value", [None, "", "   \n"])
def test_secret_from_env_missing_says_which_and_how(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    from face_idcard.conf import KEYGEN_COMMAND, MissingSecret, secret_from_env

    if value is None:
        monkeypatch.delenv("FACE_IDCARD_TEST_SECRET", raising=False)
    else:
        monkeypatch.setenv("FACE_IDCARD_TEST_SECRET", value)
    with pytest.raises(MissingSecret) as caught:
        secret_from_env("FACE_IDCARD_TEST_SECRET")
    message = str(caught.value)
    assert "FACE_IDCARD_TEST_SECRET" in message
    assert KEYGEN_COMMAND in message


def test_secret_from_env_never_shows_another_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message names the variable only: no value from the environment leaks into it."""
    from face_idcard.conf import MissingSecret, secret_from_env

    monkeypatch.setenv("FACE_IDCARD_PII_KEY", "a-real-key-that-must-not-leak")
    monkeypatch.delenv("FACE_IDCARD_HASH_KEY", raising=False)
    with pytest.raises(MissingSecret) as caught:
        secret_from_env("FACE_IDCARD_HASH_KEY")
    assert "a-real-key-that-must-not-leak" not in str(caught.value)
