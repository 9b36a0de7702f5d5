"""Selfies are sealed with AES-256-GCM a chunk at a time, under a key derived from the newest
``PII_ENCRYPTION_KEYS`` entry: raw bytes (no base64), never a second copy of the photo in the
web worker's memory (bench/api.py measures the worker's RSS over a 6 MB upload and its CPU
per request). Selfies stored as Fernet tokens before this format still read."""

from __future__ import annotations

import io
import os
import tracemalloc
import uuid
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.test import override_settings

from face_idcard import crypto
from face_idcard.services import _common as common

SIZES = [0, 1, 15, 16, 17, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 600_001]
MAGIC = b"\x00FIS3"
ATTEMPT = uuid.UUID("6f1c1b9e-8f43-4a8e-9a57-0d7b1f2c3a4d")
#: The associated data: the magic, then the attempt and the field the selfie is bound to.
ASSOCIATED = MAGIC + f"face_idcard:{ATTEMPT}:selfie".encode()


def base64_key(index: int = 0) -> bytes:
    from django.conf import settings

    return str(settings.FACE_IDCARD["PII_ENCRYPTION_KEYS"][index]).encode()


def reference_seal(data: bytes, nonce: bytes, fernet_key: bytes) -> bytes:
    """The format as documented, built with cryptography's one-shot AESGCM: magic, nonce,
    ciphertext and tag, under HKDF-SHA256 of the Fernet key's raw bytes."""
    import base64

    raw = base64.urlsafe_b64decode(fernet_key)
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"face_idcard:selfie:aes-256-gcm:v2"
    ).derive(raw)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, ASSOCIATED)


def fixed_nonce(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The nonce every selfie sealed from now on in the test draws (other random draws, a
    file name's uuid4 say, stay random)."""
    nonce, real = os.urandom(12), os.urandom
    monkeypatch.setattr(crypto.os, "urandom", lambda n: nonce if n == 12 else real(n))
    return nonce


def sealed(data: bytes) -> bytes:
    out = io.BytesIO()
    crypto.write_encrypted(data, out, attempt_id=ATTEMPT)
    return out.getvalue()


@pytest.mark.parametrize("size", SIZES)
def test_the_streamed_selfie_is_aes_gcm_under_the_derived_key(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(size)
    nonce = fixed_nonce(monkeypatch)
    token = sealed(data)
    assert token == reference_seal(data, nonce, base64_key())
    assert len(token) == crypto.encrypted_length(size) == size + 5 + 12 + 16
    assert crypto.decrypt_bytes(token, attempt_id=ATTEMPT) == data


def test_the_selfie_key_is_not_the_text_key() -> None:
    """One configured key, two ciphers: the selfie key is derived, never the Fernet key's
    own bytes (nor half of them)."""
    import base64

    raw = base64.urlsafe_b64decode(base64_key())
    (selfie_key,) = crypto.selfie_keys()[:1]
    assert len(selfie_key) == 32
    assert selfie_key != raw
    assert raw[:16] not in selfie_key and raw[16:] not in selfie_key


@pytest.mark.parametrize(
    "position",
    [0, 4, 5, 16, 17, 40, -16, -1],
    ids=["magic", "magic-version", "nonce", "nonce-end", "ciphertext", "middle", "tag", "tag-end"],
)
def test_a_changed_byte_anywhere_is_refused(position: int) -> None:
    token = bytearray(sealed(b"face" * 1000))
    token[position] ^= 0x01
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt_bytes(bytes(token), attempt_id=ATTEMPT)


@pytest.mark.parametrize("length", [0, 1, 5, 16, 17, 32])
def test_a_truncated_selfie_is_refused(length: int) -> None:
    token = sealed(b"face" * 10)
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt_bytes(token[:length], attempt_id=ATTEMPT)


def test_a_selfie_sealed_under_an_older_key_reads_after_a_new_key_is_put_first() -> None:
    old, new = base64_key(), Fernet.generate_key().decode()
    token = sealed(b"old selfie")
    from django.conf import settings

    face = settings.FACE_IDCARD
    with override_settings(FACE_IDCARD={**face, "PII_ENCRYPTION_KEYS": [new, old.decode()]}):
        assert crypto.decrypt_bytes(token, attempt_id=ATTEMPT) == b"old selfie"
        resealed = sealed(b"new selfie")
        assert crypto.decrypt_bytes(resealed, attempt_id=ATTEMPT) == b"new selfie"
    # The new key sealed it: under the old key alone it does not read.
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt_bytes(resealed, attempt_id=ATTEMPT)
    only_new = override_settings(FACE_IDCARD={**face, "PII_ENCRYPTION_KEYS": [new]})
    with only_new, pytest.raises(crypto.InvalidToken):
        crypto.decrypt_bytes(token, attempt_id=ATTEMPT)


@pytest.mark.django_db
def test_a_selfie_stored_as_a_fernet_token_still_loads(face_settings: Any) -> None:
    """Stored before the sealed format: a Fernet token under the configured key."""
    from django.core.files.base import ContentFile

    token = Fernet(base64_key()).encrypt(b"\xff\xd8 a photo of the 0.1 format")
    name = common.selfie_storage().save("selfies/old.bin", ContentFile(token))
    try:
        assert common.load_selfie(name, "", ATTEMPT) == b"\xff\xd8 a photo of the 0.1 format"
    finally:
        common.delete_selfie(name)


@pytest.mark.django_db
def test_storing_a_6_mb_selfie_holds_no_copy_of_it(face_settings: Any) -> None:
    data = os.urandom(6_000_000)
    tracemalloc.start()
    try:
        name = common.save_selfie(data, ATTEMPT)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(data) // 4  # a one-shot encryption holds a whole second copy
    assert common.load_selfie(name, "", ATTEMPT) == data
    with common.selfie_storage().open(name, "rb") as handle:
        assert handle.read(len(MAGIC)) == MAGIC  # sealed, not a Fernet token
    common.delete_selfie(name)


@pytest.mark.parametrize("size", SIZES)
def test_the_encrypted_stream_reads_as_the_token_and_again_after_seek_0(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(size)
    nonce = fixed_nonce(monkeypatch)
    token = reference_seal(data, nonce, base64_key())
    stream = crypto.EncryptedStream(data, attempt_id=ATTEMPT)
    assert stream.readable() is True
    assert stream.seekable() is True
    assert stream.size == len(token) == crypto.encrypted_length(size)
    first = stream.read(1000)
    assert stream.tell() == len(first)
    assert stream.seek(0, io.SEEK_CUR) == len(first)
    assert stream.seek(len(first)) == len(first)
    assert stream.seek(0) == 0  # a storage that rewinds gets the same bytes
    assert stream.read() == token
    assert stream.read(10) == b""
    for offset, whence in ((1, io.SEEK_SET), (1, io.SEEK_CUR), (0, io.SEEK_END)):
        with pytest.raises(io.UnsupportedOperation):
            stream.seek(offset, whence)


@pytest.mark.django_db
def test_a_selfie_is_stored_without_a_temporary_file(
    face_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Encrypted straight into the storage: writing the token to a temporary file first and
    copying it cost more than the encryption (bench/api.py)."""
    import tempfile

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a temporary file")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refused)
    data = os.urandom(300_001)
    name = common.save_selfie(data, ATTEMPT)
    assert common.load_selfie(name, "", ATTEMPT) == data
    common.delete_selfie(name)


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["chunks", "read"])
def test_a_storage_gets_the_sealed_selfie_whether_it_takes_chunks_or_reads(
    face_settings: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """FileSystemStorage writes ``content.chunks()`` (the stream's own pieces); other
    storages read the file: the same bytes either way, and again after a rewind."""
    from django.core.files.base import File
    from django.core.files.storage import FileSystemStorage

    written: list[bytes] = []

    class Reading(FileSystemStorage):
        def _save(self, name: str, content: File) -> str:  # type: ignore[type-arg]
            content.read(7)
            content.seek(0)
            written.append(content.read())
            return name

    data = os.urandom(600_001)
    nonce = fixed_nonce(monkeypatch)
    expected = reference_seal(data, nonce, base64_key())
    if how == "read":
        monkeypatch.setattr(common, "selfie_storage", lambda alias="": Reading())
        common.save_selfie(data, ATTEMPT)
        assert written == [expected]
    else:
        name = common.save_selfie(data, ATTEMPT)
        with common.selfie_storage().open(name, "rb") as handle:
            assert handle.read() == expected
        common.delete_selfie(name)
