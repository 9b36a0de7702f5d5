"""crypto as tables: how keys may be configured (one key or a list, str or bytes, named hash
keys), what a key id looks like, the MultiFernet cache, and the development-key warnings of a
freshly started process. No database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import io
import runpy
import uuid
import warnings
from types import ModuleType

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from face_idcard import crypto

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
ATTEMPT = "6f1c1b9e-8f43-4a8e-9a57-0d7b1f2c3a4d"
NUMBER = "11010519491231002X"


def settings_with(**face: object) -> override_settings:
    return override_settings(FACE_IDCARD=face)


def _fingerprint(secret: bytes) -> str:
    """A key's id as documented: "k" and 48 bits (12 hex digits) of an HMAC of a fixed label.
    Stored beside every hash, so it must never change between versions."""
    return "k" + hmac.new(secret, b"face_idcard:hash-key-id", hashlib.sha256).hexdigest()[:12]


@pytest.mark.parametrize(
    "keys",
    [[KEY_A], (KEY_A,), [KEY_A.encode()], [KEY_A, KEY_B]],
    ids=["list", "tuple", "list-of-bytes", "two"],
)
def test_a_list_of_encryption_keys(keys: object) -> None:
    with settings_with(PII_ENCRYPTION_KEYS=keys):
        token = crypto.encrypt_text("张三", attempt_id=ATTEMPT, field=crypto.NAME)
    # The first key encrypts.
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_A]):
        assert crypto.decrypt_text(token, attempt_id=ATTEMPT, field=crypto.NAME) == "张三"
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_B]), pytest.raises(InvalidToken):
        crypto.decrypt_text(token, attempt_id=ATTEMPT, field=crypto.NAME)


def test_empty_text_stays_empty_both_ways() -> None:
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_A]):
        assert crypto.encrypt_text("", attempt_id=ATTEMPT, field=crypto.NAME) == ""
        assert crypto.decrypt_text("", attempt_id=ATTEMPT, field=crypto.NAME) == ""
        assert crypto.rotate_token("", attempt_id=ATTEMPT, field=crypto.NAME) == ""


def test_the_multifernet_is_built_once_per_configuration() -> None:
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_A]):
        first = crypto.get_fernet()
        assert crypto.get_fernet() is first
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_B]):
        other = crypto.get_fernet()
        assert other is not first
        assert crypto.get_fernet() is other
        with pytest.raises(InvalidToken):
            other.decrypt(first.encrypt(b"x"))


@pytest.mark.parametrize(
    ("face", "debug"),
    [({"PII_ENCRYPTION_KEYS": []}, False), ({}, False)],
)
def test_streaming_without_a_key_refuses_outside_debug(
    face: dict[str, object], debug: bool
) -> None:
    with settings_with(**face), override_settings(DEBUG=debug), pytest.raises(ImproperlyConfigured):
        crypto.write_encrypted(b"selfie", io.BytesIO(), attempt_id=ATTEMPT)


def test_streaming_in_debug_without_a_key_uses_the_development_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(crypto, "_warned_dev_key", False)
    with settings_with(PII_ENCRYPTION_KEYS=[]), override_settings(DEBUG=True, SECRET_KEY="s1"):
        out = io.BytesIO()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            crypto.write_encrypted(b"selfie", out, attempt_id=ATTEMPT)
        assert [w.category for w in caught] == [crypto.DevelopmentKeyWarning]
        assert crypto.decrypt_bytes(out.getvalue(), attempt_id=ATTEMPT) == b"selfie"


def test_the_development_key_warning_is_given_once_even_when_secret_key_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(crypto, "_warned_dev_key", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for secret_key in ("one", "two", "three"):
            with (
                settings_with(PII_ENCRYPTION_KEYS=[]),
                override_settings(DEBUG=True, SECRET_KEY=secret_key),
            ):
                crypto.encrypt_text("张三", attempt_id=ATTEMPT, field=crypto.NAME)
    assert [w.category for w in caught] == [crypto.DevelopmentKeyWarning]
    # It points at the face_idcard function that used the key, whoever called it.
    assert caught[0].filename == crypto.__file__


def _fresh_crypto() -> ModuleType:
    """A new copy of the module, as a newly started process has it (the imported one has
    had its warned-once flags set by earlier tests)."""
    spec = importlib.util.find_spec("face_idcard.crypto")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_new_process_warns_about_each_development_key_on_first_use() -> None:
    fresh = _fresh_crypto()
    with (
        settings_with(PII_ENCRYPTION_KEYS=[], PII_HASH_KEYS=[]),
        override_settings(DEBUG=True),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        fresh.encrypt_text("张三", attempt_id=ATTEMPT, field=fresh.NAME)
        fresh.id_number_hash(NUMBER)
    assert [w.category for w in caught] == [
        fresh.DevelopmentKeyWarning,
        fresh.DevelopmentHashKeyWarning,
    ]
    assert all(w.filename == crypto.__file__ for w in caught)


def test_importing_the_module_prints_nothing_and_running_it_prints_a_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fresh_crypto()
    assert capsys.readouterr().out == ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # already imported: fine here
        runpy.run_module("face_idcard.crypto", run_name="__main__")  # python -m
    printed = capsys.readouterr().out.strip()
    assert len(base64.urlsafe_b64decode(printed)) == 32
    Fernet(printed)  # a valid key


def test_generated_keys_are_valid_and_distinct() -> None:
    (one,) = crypto.generate_keys()
    Fernet(one)
    three = crypto.generate_keys(3)
    assert len(set(three)) == 3 and one not in three


@pytest.mark.parametrize(
    ("entry", "key_id", "secret"),
    [
        ("secret", _fingerprint(b"secret"), b"secret"),
        (b"secret", _fingerprint(b"secret"), b"secret"),
        ("密钥", _fingerprint("密钥".encode()), "密钥".encode()),
        ({"id": "2025a", "key": "named"}, "2025a", b"named"),
        ({"id": "2025a", "key": b"named"}, "2025a", b"named"),
        ({"id": "x" * 32, "key": "named"}, "x" * 32, b"named"),
        ({"id": "x", "key": "named"}, "x", b"named"),
    ],
)
def test_a_hash_key_entry(entry: object, key_id: str, secret: bytes) -> None:
    key = crypto.parse_hash_key(entry)
    assert (key.key_id, key.secret) == (key_id, secret)
    assert len(crypto.hash_key_id(secret)) == 13
    assert secret.decode() not in repr(key)


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ("", ValueError),
        (b"", ValueError),
        ({"id": "2025a", "key": ""}, ValueError),
        ({"id": "2025a"}, ValueError),
        ({"id": "", "key": "named"}, ValueError),
        ({"key": "named"}, ValueError),
        ({"id": "x" * 33, "key": "named"}, ValueError),
        (12345, TypeError),
        (None, TypeError),
        ({"id": "2025a", "key": 12345}, TypeError),
    ],
)
def test_a_bad_hash_key_entry_is_refused(entry: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        crypto.parse_hash_key(entry)


@pytest.mark.parametrize(
    ("face", "ids"),
    [
        ({"PII_HASH_KEYS": ["solo"]}, [_fingerprint(b"solo")]),
        ({"PII_HASH_KEYS": [b"solo"]}, [_fingerprint(b"solo")]),
        ({"PII_HASH_KEYS": [{"id": "named", "key": "solo"}]}, ["named"]),
        ({"PII_HASH_KEYS": ("new", "old")}, [_fingerprint(b"new"), _fingerprint(b"old")]),
        ({"PII_HASH_KEYS": ["new", "old"]}, [_fingerprint(b"new"), _fingerprint(b"old")]),
    ],
)
def test_how_hash_keys_may_be_configured(face: dict[str, object], ids: list[str]) -> None:
    with settings_with(**face):
        assert [key.key_id for key in crypto.hash_keys()] == ids
        assert (
            crypto.id_number_hash(NUMBER)
            == hmac.new(crypto.hash_keys()[0].secret, NUMBER.encode(), hashlib.sha256).hexdigest()
        )


@pytest.mark.parametrize("keys", ["solo", b"solo", {"id": "named", "key": "solo"}])
def test_hash_keys_must_be_a_list(keys: object) -> None:
    """One spelling: a single key written without its list is refused, by the hash and by
    the system check, never quietly taken."""
    from django.core.exceptions import ImproperlyConfigured

    from face_idcard.checks import check_hash_keys, check_settings

    with settings_with(PII_HASH_KEYS=keys):
        with pytest.raises(ImproperlyConfigured, match="must be a list"):
            crypto.id_number_hash(NUMBER)
        # Reported once, by the key's declaration or the hash keys' own check.
        messages = check_settings() + check_hash_keys()
        assert [m.id for m in messages if m.id == "face_idcard.E016"] == ["face_idcard.E016"]


@pytest.mark.parametrize("keys", [KEY_A, KEY_A.encode()])
def test_encryption_keys_must_be_a_list(keys: object) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from face_idcard.checks import check_settings

    with settings_with(PII_ENCRYPTION_KEYS=keys):
        with pytest.raises(ImproperlyConfigured, match="must be a list"):
            crypto.encrypt_text("x", attempt_id=uuid.uuid4(), field=crypto.NAME)
        errors = [m for m in check_settings() if m.id == "face_idcard.E006"]
        assert [m.msg for m in errors] == [
            "FACE_IDCARD['PII_ENCRYPTION_KEYS'] must be a list of Fernet keys, newest first."
        ]
    binding = {"attempt_id": uuid.uuid4(), "field": crypto.NAME}
    with settings_with(PII_ENCRYPTION_KEYS=(KEY_A,)):
        assert crypto.decrypt_text(crypto.encrypt_text("x", **binding), **binding) == "x"


def test_the_single_key_setting_is_gone() -> None:
    from face_idcard.conf import DEFAULTS, face_idcard_settings

    assert "PII_HASH_KEY" not in DEFAULTS
    with settings_with(PII_HASH_KEY="single", PII_HASH_KEYS=["listed"]):
        with pytest.raises(AttributeError):
            face_idcard_settings.__getattr__("PII_HASH_KEY")
        assert [key.key_id for key in crypto.hash_keys()] == [_fingerprint(b"listed")]


def test_a_hash_key_is_frozen() -> None:
    key = crypto.parse_hash_key("secret")
    with pytest.raises(AttributeError):
        key.secret = b"other"  # type: ignore[misc]
