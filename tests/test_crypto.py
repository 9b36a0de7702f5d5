"""Fernet/MultiFernet encryption at rest and the keyed hash of ID numbers."""

from __future__ import annotations

import warnings

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from face_idcard import crypto

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


def settings_with(**face: object) -> override_settings:
    return override_settings(FACE_IDCARD={"BACKEND": "simulator", **face})


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_A]):
        token = crypto.encrypt_text("11010519491231002X")
        assert "11010519491231002X" not in token
        assert crypto.decrypt_text(token) == "11010519491231002X"
        blob = crypto.encrypt_bytes(b"\xff\xd8selfie-bytes")
        assert b"selfie-bytes" not in blob
        assert crypto.decrypt_bytes(blob) == b"\xff\xd8selfie-bytes"
        assert crypto.encrypt_text("") == ""


def test_old_key_still_decrypts_and_rotation_moves_to_newest() -> None:
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_A]):
        token = crypto.encrypt_text("张三")
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        assert crypto.decrypt_text(token) == "张三"
        rotated = crypto.rotate_token(token)
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_B]):
        assert crypto.decrypt_text(rotated) == "张三"
        with pytest.raises(InvalidToken):
            crypto.decrypt_text(token)


def test_no_key_with_debug_off_refuses() -> None:
    with (
        settings_with(PII_ENCRYPTION_KEYS=[]),
        override_settings(DEBUG=False),
        pytest.raises(ImproperlyConfigured),
    ):
        crypto.encrypt_text("张三")


def test_no_key_with_debug_on_uses_a_derived_key_and_warns_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(crypto, "_warned_dev_key", False)
    with settings_with(PII_ENCRYPTION_KEYS=[]), override_settings(DEBUG=True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            token = crypto.encrypt_text("张三")
            crypto.encrypt_text("李四")
        assert [w.category for w in caught] == [crypto.DevelopmentKeyWarning]
        assert crypto.decrypt_text(token) == "张三"
    with (
        override_settings(DEBUG=True, SECRET_KEY="another"),
        settings_with(PII_ENCRYPTION_KEYS=[]),
        pytest.raises(InvalidToken),
    ):
        crypto.decrypt_text(token)


def test_keyed_hash_depends_on_the_key() -> None:
    import hashlib
    import hmac

    with settings_with(PII_HASH_KEY="k1"):
        first = crypto.id_number_hash("11010519491231002X")
        assert first == hmac.new(b"k1", b"11010519491231002X", hashlib.sha256).hexdigest()
        assert first != hashlib.sha256(b"11010519491231002X").hexdigest()
    with settings_with(PII_HASH_KEY="k2"):
        assert crypto.id_number_hash("11010519491231002X") != first
    with settings_with(PII_HASH_KEY=""):
        derived = crypto.id_number_hash("11010519491231002X")
        assert derived not in (first, hashlib.sha256(b"11010519491231002X").hexdigest())
