"""Edges of the FaceID field encryption (issue 17): which keys, and what a repr may show."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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


@pytest.mark.parametrize(
    ("bits", "accepted"), [(1024, False), (2047, False), (2048, True), (3072, True)]
)
def test_rsa_keys_of_at_least_2048_bits(bits: int, accepted: bool) -> None:
    pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=bits))
    if accepted:
        assert encryption.load_public_key(pem).key_size == bits
    else:
        with pytest.raises(ValueError, match=f"an RSA key of {bits} bits; at least 2048 expected"):
            encryption.load_public_key(pem)


def test_a_pem_with_blank_lines_around_it_loads(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = _pem(rsa_key).decode()
    assert encryption.load_public_key(f"\n  {pem}\n\n").key_size == 2048


def _open(
    key: rsa.RSAPrivateKey, sealed: encryption.EncryptedFields
) -> tuple[bytes, dict[str, str]]:
    """What Tencent does: unwrap the AES key (RSA PKCS#1 v1.5), open each listed field."""
    wrapped = base64.b64decode(sealed.encryption["CiphertextBlob"], validate=True)
    aes_key = key.decrypt(wrapped, asymmetric_padding.PKCS1v15())
    iv = base64.b64decode(sealed.encryption["Iv"], validate=True)
    assert len(iv) == 16
    opened = {}
    for name in sealed.encryption["EncryptList"]:
        decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(base64.b64decode(sealed.values[name])) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        opened[name] = (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    return aes_key, opened


@pytest.mark.parametrize("name", [SECRET_NAME, "阿依古丽·买买提", "张" * 30, "王"])
def test_tencent_can_open_what_is_sent(rsa_key: rsa.RSAPrivateKey, name: str) -> None:
    sealed = encryption.FieldEncryptor(rsa_key.public_key()).encrypt(
        {"IdCard": SECRET_NUMBER, "Name": name, "ImageBase64": "left alone"}
    )
    aes_key, opened = _open(rsa_key, sealed)
    assert len(aes_key) == 32  # AES-256
    assert opened == {"IdCard": SECRET_NUMBER, "Name": name}
    assert set(sealed.values) == {"IdCard", "Name"}  # only the fields the API lets us encrypt
    assert sealed.encryption["EncryptList"] == ["IdCard", "Name"]
    assert sealed.encryption["Algorithm"] == "AES-256-CBC"


def test_a_fresh_key_and_iv_for_every_request(rsa_key: rsa.RSAPrivateKey) -> None:
    encryptor = encryption.FieldEncryptor(rsa_key.public_key())
    values = {"IdCard": SECRET_NUMBER, "Name": SECRET_NAME}
    one, two = encryptor.encrypt(values), encryptor.encrypt(values)
    assert _open(rsa_key, one)[0] != _open(rsa_key, two)[0]
    assert one.encryption["Iv"] != two.encryption["Iv"]
    assert one.values["IdCard"] != two.values["IdCard"]
