"""Selfies are encrypted a chunk at a time: the Fernet token, without five copies of a photo
in the web worker's memory (bench/api.py measures the worker's RSS over a 6 MB upload)."""

from __future__ import annotations

import io
import os
import tracemalloc
from typing import Any

import pytest
from cryptography.fernet import Fernet

from face_idcard import crypto
from face_idcard.services import common

SIZES = [0, 1, 15, 16, 17, 47, 48 * 1024 - 1, 48 * 1024, 48 * 1024 + 1, 300_001]


@pytest.mark.parametrize("size", SIZES)
def test_the_streamed_token_is_fernets_own(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(size)
    iv = os.urandom(16)
    monkeypatch.setattr(crypto.os, "urandom", lambda n: iv)
    monkeypatch.setattr(crypto.time, "time", lambda: 1_780_000_000.5)
    out = io.BytesIO()
    crypto.write_encrypted(data, out)
    fernet = Fernet(base64_key())
    assert out.getvalue() == fernet._encrypt_from_parts(data, 1_780_000_000, iv)
    assert crypto.decrypt_bytes(out.getvalue()) == data


def base64_key() -> bytes:
    from django.conf import settings

    return str(settings.FACE_IDCARD["PII_ENCRYPTION_KEYS"][0]).encode()


def test_a_tampered_streamed_token_is_refused() -> None:
    out = io.BytesIO()
    crypto.write_encrypted(b"face" * 1000, out)
    token = bytearray(out.getvalue())
    token[40] = ord("A") if token[40] != ord("A") else ord("B")
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt_bytes(bytes(token))


@pytest.mark.django_db
def test_storing_a_6_mb_selfie_holds_no_copy_of_it(face_settings: Any) -> None:
    data = os.urandom(6_000_000)
    tracemalloc.start()
    try:
        name = common.save_selfie(data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(data) // 4  # Fernet.encrypt: about five times len(data)
    assert common.load_selfie(name) == data
    common.delete_selfie(name)


@pytest.mark.parametrize("size", SIZES)
def test_the_encrypted_stream_reads_as_the_token_and_again_after_seek_0(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(size)
    iv = os.urandom(16)
    monkeypatch.setattr(crypto.os, "urandom", lambda n: iv)
    monkeypatch.setattr(crypto.time, "time", lambda: 1_780_000_000.5)
    token = Fernet(base64_key())._encrypt_from_parts(data, 1_780_000_000, iv)
    stream = crypto.EncryptedStream(data)
    assert stream.size == len(token) == crypto.encrypted_length(size)
    first = stream.read(1000)
    assert stream.tell() == len(first)
    assert stream.seek(0) == 0  # a storage that rewinds gets the same bytes
    assert stream.read() == token
    assert stream.read(10) == b""
    with pytest.raises(io.UnsupportedOperation):
        stream.seek(1)


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
    name = common.save_selfie(data)
    assert common.load_selfie(name) == data
    common.delete_selfie(name)
