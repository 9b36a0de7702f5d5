"""Ciphertexts bound to their attempt and field (AES-GCM associated data): a database writer
who swaps them gets a clear error naming no value, not another person's identity. Texts and
selfies stored before the binding still read, and rotate_keys rewrites them bound."""

from __future__ import annotations

import base64
import io
import os
import uuid
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from face_idcard import crypto, services
from face_idcard.models import VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.services._common import load_selfie, selfie_storage
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.factories import submit_attempt
from tests.support.users import user_with

IMAGE = imagefactory.jpeg(320, 240)
FIRST, SECOND = uuid.uuid4(), uuid.uuid4()


def no_pii_in(error: BaseException, *values: str) -> None:
    text = str(error)
    for value in values:
        assert value not in text


def test_a_text_opens_only_as_its_own_attempt_and_field() -> None:
    token = crypto.encrypt_text(magic.MATCH, attempt_id=FIRST, field=crypto.NUMBER)
    # The same attempt, spelled as the database or a url spells it.
    for spelling in (FIRST, str(FIRST), FIRST.hex):
        assert crypto.decrypt_text(token, attempt_id=spelling, field=crypto.NUMBER) == magic.MATCH
    for attempt_id, field in ((SECOND, crypto.NUMBER), (FIRST, crypto.NAME), (FIRST, crypto.URL)):
        with pytest.raises(crypto.CiphertextMismatch) as caught:
            crypto.decrypt_text(token, attempt_id=attempt_id, field=field)
        assert str(attempt_id) in str(caught.value) and field in str(caught.value)
        no_pii_in(caught.value, magic.MATCH)
    # Still an InvalidToken for code that caught that before.
    assert issubclass(crypto.CiphertextMismatch, crypto.InvalidToken)


def test_a_changed_or_truncated_text_is_a_mismatch_too() -> None:
    token = crypto.encrypt_text("张三", attempt_id=FIRST, field=crypto.NAME)
    prefix = crypto.BOUND_TEXT_PREFIX
    raw = bytearray(base64.urlsafe_b64decode(token[len(prefix) :]))
    raw[-1] ^= 0x01  # a byte of the tag
    changed = prefix + base64.urlsafe_b64encode(bytes(raw)).decode()
    for broken in (changed, token[:12], crypto.BOUND_TEXT_PREFIX + "!!", crypto.BOUND_TEXT_PREFIX):
        with pytest.raises(crypto.CiphertextMismatch):
            crypto.decrypt_text(broken, attempt_id=FIRST, field=crypto.NAME)


def test_an_unknown_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown encrypted field"):
        crypto.encrypt_text("x", attempt_id=FIRST, field="idcard")


def test_a_selfie_opens_only_as_its_own_attempts() -> None:
    out = io.BytesIO()
    crypto.write_encrypted(b"\xff\xd8 face", out, attempt_id=FIRST)
    token = out.getvalue()
    assert crypto.is_bound(token)
    assert crypto.decrypt_bytes(token, attempt_id=str(FIRST)) == b"\xff\xd8 face"
    with pytest.raises(crypto.CiphertextMismatch, match=f"selfie of attempt {SECOND}"):
        crypto.decrypt_bytes(token, attempt_id=SECOND)


def test_texts_and_selfies_of_before_the_binding_still_read() -> None:
    legacy_text = crypto.get_fernet().encrypt("张三".encode()).decode()
    assert not crypto.is_bound(legacy_text)
    assert crypto.decrypt_text(legacy_text, attempt_id=FIRST, field=crypto.NAME) == "张三"
    legacy_selfie = unbound_sealed(b"\xff\xd8 old face")
    assert not crypto.is_bound(legacy_selfie)
    assert crypto.decrypt_bytes(legacy_selfie, attempt_id=FIRST) == b"\xff\xd8 old face"


def unbound_sealed(data: bytes) -> bytes:
    """A selfie as sealed before the binding: magic FIS2, the magic alone authenticated."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    magic_v2 = crypto.UNBOUND_SEALED_MAGIC
    return magic_v2 + nonce + AESGCM(crypto.selfie_keys()[0]).encrypt(nonce, data, magic_v2)


# --- Through the services and the database --------------------------------------------------


def submitted(number: str, name: str) -> VerificationAttempt:
    return submit_attempt(number, idcard_name=name, enqueue=False)


def viewer() -> Any:
    return user_with("binding-auditor", "view_pii")


@pytest.mark.django_db
def test_swapping_two_attempts_ciphertexts_is_refused_on_reading(face_settings: Any) -> None:
    first = submitted(magic.MATCH, "赵六")
    second = submitted(magic.NO_MATCH, "孙七")
    rows = VerificationAttempt.objects
    rows.filter(pk=first.pk).update(
        idcard_number_encrypted=second.idcard_number_encrypted,
        idcard_name_encrypted=second.idcard_name_encrypted,
    )
    first.refresh_from_db()
    with pytest.raises(crypto.CiphertextMismatch) as caught:
        services.reveal_pii(first, viewer=viewer())
    no_pii_in(caught.value, magic.MATCH, magic.NO_MATCH, "赵六", "孙七")
    # The selfie file name of the other attempt: its selfie does not open as this one's.
    rows.filter(pk=second.pk).update(selfie_name=first.selfie_name)
    second.refresh_from_db()
    with pytest.raises(crypto.CiphertextMismatch):
        services.reveal_selfie(second, viewer=viewer())


@pytest.mark.django_db
def test_swapping_the_number_and_name_of_one_attempt_is_refused(face_settings: Any) -> None:
    attempt = submitted(magic.MATCH, "赵六")
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        idcard_number_encrypted=attempt.idcard_name_encrypted,
        idcard_name_encrypted=attempt.idcard_number_encrypted,
    )
    attempt.refresh_from_db()
    with pytest.raises(crypto.CiphertextMismatch) as caught:
        services.reveal_pii(attempt, viewer=viewer())
    no_pii_in(caught.value, magic.MATCH, "赵六")
    assert "idcard_number" in str(caught.value)


@pytest.mark.django_db
def test_rotate_keys_rewrites_unbound_ciphertexts_bound(face_settings: Any) -> None:
    attempt = submitted(magic.MATCH, "赵六")
    fernet = crypto.get_fernet()
    legacy_name = f"selfies/legacy-{uuid.uuid4().hex}.bin"
    stored = selfie_storage().save(legacy_name, ContentFile(unbound_sealed(IMAGE)))
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        idcard_number_encrypted=fernet.encrypt(magic.MATCH.encode()).decode(),
        idcard_name_encrypted=fernet.encrypt("赵六".encode()).decode(),
        selfie_name=stored,
    )
    attempt.refresh_from_db()
    assert services.reveal_pii(attempt, viewer=viewer()) == (magic.MATCH, "赵六")

    call_command("face_idcard_rotate_keys", stdout=io.StringIO())

    attempt.refresh_from_db()
    assert crypto.is_bound(attempt.idcard_number_encrypted)
    assert crypto.is_bound(attempt.idcard_name_encrypted)
    with selfie_storage().open(attempt.selfie_name, "rb") as handle:
        assert crypto.is_bound(handle.read())
    assert services.reveal_pii(attempt, viewer=viewer()) == (magic.MATCH, "赵六")
    assert load_selfie(attempt.selfie_name, attempt.selfie_storage, attempt.pk) == IMAGE
    assert not selfie_storage().exists(stored)


@pytest.mark.django_db
def test_a_rerun_copies_the_inputs_bound_to_the_new_attempt(face_settings: Any) -> None:
    attempt = submitted(magic.REVIEW, "赵六")
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    new = services.rerun(attempt, enqueue=False)
    assert new.pk != attempt.pk
    assert services.reveal_pii(new, viewer=viewer()) == (magic.REVIEW, "赵六")
    assert load_selfie(new.selfie_name, new.selfie_storage, new.pk) == IMAGE
    with pytest.raises(crypto.CiphertextMismatch):
        crypto.decrypt_text(new.idcard_name_encrypted, attempt_id=attempt.pk, field=crypto.NAME)
