"""Encryption at rest (AES-GCM bound to the attempt and field; Fernet tokens of before still
read) and the keyed hash of ID numbers."""

from __future__ import annotations

import warnings

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from face_idcard import crypto

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
ATTEMPT = "6f1c1b9e-8f43-4a8e-9a57-0d7b1f2c3a4d"
OTHER = "0b7e4d8a-2c1f-4e5b-8a9d-3f6c2e1b0a97"


def settings_with(**face: object) -> override_settings:
    return override_settings(FACE_IDCARD=face)


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_A]):
        token = crypto.encrypt_text("11010519491231002X", attempt_id=ATTEMPT, field=crypto.NUMBER)
        assert "11010519491231002X" not in token
        assert token.isascii() and crypto.is_bound(token)
        assert (
            crypto.decrypt_text(token, attempt_id=ATTEMPT, field=crypto.NUMBER)
            == "11010519491231002X"
        )
        # A Fernet selfie of before the sealed format still reads.
        blob = crypto.encrypt_bytes(b"\xff\xd8selfie-bytes")
        assert b"selfie-bytes" not in blob
        assert crypto.decrypt_bytes(blob, attempt_id=ATTEMPT) == b"\xff\xd8selfie-bytes"
        assert crypto.encrypt_text("", attempt_id=ATTEMPT, field=crypto.NUMBER) == ""


def test_old_key_still_decrypts_and_rotation_moves_to_newest() -> None:
    bound = {"attempt_id": ATTEMPT, "field": crypto.NAME}
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_A]):
        token = crypto.encrypt_text("张三", **bound)
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        assert crypto.decrypt_text(token, **bound) == "张三"
        rotated = crypto.rotate_token(token, **bound)
    with settings_with(PII_ENCRYPTION_KEYS=[KEY_B]):
        assert crypto.decrypt_text(rotated, **bound) == "张三"
        with pytest.raises(InvalidToken):
            crypto.decrypt_text(token, **bound)


def test_no_key_with_debug_off_refuses() -> None:
    with (
        settings_with(PII_ENCRYPTION_KEYS=[]),
        override_settings(DEBUG=False),
        pytest.raises(ImproperlyConfigured),
    ):
        crypto.encrypt_text("张三", attempt_id=ATTEMPT, field=crypto.NAME)


def test_no_key_with_debug_on_uses_a_derived_key_and_warns_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(crypto, "_warned_dev_key", False)
    with settings_with(PII_ENCRYPTION_KEYS=[]), override_settings(DEBUG=True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            token = crypto.encrypt_text("张三", attempt_id=ATTEMPT, field=crypto.NAME)
            crypto.encrypt_text("李四", attempt_id=ATTEMPT, field=crypto.NAME)
        assert [w.category for w in caught] == [crypto.DevelopmentKeyWarning]
        assert crypto.decrypt_text(token, attempt_id=ATTEMPT, field=crypto.NAME) == "张三"
    with (
        override_settings(DEBUG=True, SECRET_KEY="another"),
        settings_with(PII_ENCRYPTION_KEYS=[]),
        pytest.raises(InvalidToken),
    ):
        crypto.decrypt_text(token, attempt_id=ATTEMPT, field=crypto.NAME)


def test_keyed_hash_depends_on_the_key() -> None:
    import hashlib
    import hmac

    with settings_with(PII_HASH_KEYS=["k1"]):
        first = crypto.id_number_hash("11010519491231002X")
        assert first == hmac.new(b"k1", b"11010519491231002X", hashlib.sha256).hexdigest()
        assert first != hashlib.sha256(b"11010519491231002X").hexdigest()
    with settings_with(PII_HASH_KEYS=["k2"]):
        assert crypto.id_number_hash("11010519491231002X") != first


NUMBER = "11010519491231002X"


def test_a_single_hash_key_is_a_one_element_list_with_a_stable_id() -> None:
    with settings_with(PII_HASH_KEYS=["single-secret"]):
        (key,) = crypto.hash_keys()
        assert key.secret == b"single-secret"
        assert key.key_id == crypto.hash_key_id(b"single-secret")
        assert "single-secret" not in repr(key)
        assert crypto.id_number_hash_with_key(NUMBER) == (key.key_id, crypto.id_number_hash(NUMBER))


def test_the_first_hash_key_hashes_every_key_matches_and_ids_do_not_shift() -> None:
    with settings_with(PII_HASH_KEYS=["old-secret"]):
        old_id, old_hash = crypto.id_number_hash_with_key(NUMBER)
    with settings_with(PII_HASH_KEYS=["new-secret", "old-secret"]):
        new_id, new_hash = crypto.id_number_hash_with_key(NUMBER)
        assert new_hash != old_hash and new_id != old_id
        assert crypto.id_number_hashes(NUMBER) == [new_hash, old_hash]
        # The old key kept its id although it moved from position 0 to 1.
        assert [key.key_id for key in crypto.hash_keys()] == [new_id, old_id]
    with settings_with(PII_HASH_KEYS=[{"id": "2025a", "key": "named"}]):
        assert crypto.id_number_hash_with_key(NUMBER)[0] == "2025a"


def test_the_hash_never_depends_on_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rotating SECRET_KEY used to reset every per-ID limit (the hash key was derived)."""
    monkeypatch.setattr(crypto, "_warned_dev_hash_key", True)
    for face in ({"PII_HASH_KEYS": ["k1"]}, {"PII_HASH_KEYS": []}):
        hashes = set()
        for secret_key in ("one", "two"):
            with override_settings(SECRET_KEY=secret_key, DEBUG=True), settings_with(**face):
                hashes.add(crypto.id_number_hash(NUMBER))
        assert len(hashes) == 1


def test_no_hash_key_refuses_outside_debug_and_warns_in_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with (
        settings_with(PII_HASH_KEYS=[]),
        override_settings(DEBUG=False),
        pytest.raises(ImproperlyConfigured),
    ):
        crypto.id_number_hash(NUMBER)
    monkeypatch.setattr(crypto, "_warned_dev_hash_key", False)
    with settings_with(PII_HASH_KEYS=[]), override_settings(DEBUG=True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            crypto.id_number_hash(NUMBER)
            crypto.id_number_hash(NUMBER)
        assert [w.category for w in caught] == [crypto.DevelopmentHashKeyWarning]


def test_hash_key_system_checks() -> None:
    from face_idcard.checks import check_hash_keys

    def ids(debug: bool, **face: object) -> list[str]:
        with override_settings(DEBUG=debug, SECRET_KEY="the-django-secret"), settings_with(**face):
            return [message.id or "" for message in check_hash_keys()]

    assert ids(False, PII_HASH_KEYS=[]) == ["face_idcard.E015"]
    assert ids(True, PII_HASH_KEYS=[]) == ["face_idcard.W007"]
    assert ids(False, PII_HASH_KEYS=["a", "b"]) == []
    assert ids(False, PII_HASH_KEYS=["the-django-secret"]) == ["face_idcard.E016"]
    assert ids(False, PII_HASH_KEYS=["a", "a"]) == ["face_idcard.E016"]
    assert ids(False, PII_HASH_KEYS=["", {"id": "", "key": "x"}, 5]) == ["face_idcard.E016"] * 3
