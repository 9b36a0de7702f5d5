"""Edges of the FaceID field encryption (issue 17): which keys, and what a repr may show."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from face_idcard.providers.faceid import encryption

SECRET_NUMBER, SECRET_NAME = "110105194912310029", "张三"


def _pem(private_key: object) -> bytes:
    return private_key.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "not an RSA public key"),
        (lambda: _pem(ed25519.Ed25519PrivateKey.generate()), "not an RSA public key"),
        (lambda: b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", "not a PEM"),
        (lambda: "é not ascii", "not a PEM"),
    ],
    ids=["ec", "ed25519", "garbage", "text"],
)
def test_only_rsa_public_keys_are_accepted(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encryption.load_public_key(make())  # type: ignore[operator]


def test_an_rsa_key_is_loaded_from_text_or_bytes(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = _pem(rsa_key)
    assert encryption.load_public_key(pem).key_size == 2048
    assert encryption.load_public_key(pem.decode()).key_size == 2048


def test_no_repr_shows_a_value_or_a_key(rsa_key: rsa.RSAPrivateKey) -> None:
    encryptor = encryption.FieldEncryptor(rsa_key.public_key())
    assert repr(encryptor) == "<FieldEncryptor RSA-2048>"
    sealed = encryptor.encrypt({"IdCard": SECRET_NUMBER, "Name": SECRET_NAME})
    text = repr(sealed)
    assert SECRET_NUMBER not in text and SECRET_NAME not in text
    for value in (*sealed.values.values(), sealed.encryption["CiphertextBlob"]):
        assert value not in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        sealed.values = {}  # type: ignore[misc]
