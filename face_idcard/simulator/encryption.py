"""FaceID's ``Encryption`` of sensitive fields, decrypted the way Tencent documents it.

Source: Tencent's "敏感数据加密指引" (https://cloud.tencent.com/document/product/1007/47180)
and the official crypto tool it links to (github.com/TencentCloud/faceid-api-crypto-golang):
the client draws a random 32-byte AES-256 key, wraps it with the RSA public key from the
FaceID console using RSA PKCS#1 v1.5 (the tool splits longer input into blocks of the key
size less 11 bytes; a 32-byte key is always one block) and sends it Base64-encoded as
``CiphertextBlob``. Each field named in ``EncryptList`` (``IdCard``, ``Name``) is replaced by
Base64(AES-256-CBC(UTF-8 value)) with PKCS#7 padding, under one initialisation vector sent as
``Iv``. The crypto tool draws 16
random bytes and sends them Base64-encoded (24 characters); the SDK's model page describes
``Iv`` as "a 16-character string" taken as is. Both readings are accepted: a 16-character
``Iv`` is its own UTF-8 bytes, anything else must be Base64 of 16 bytes.

``SM4-GCM`` (keys wrapped with SM2) is not available: the simulator answers it as a
decryption failure. Nothing here ever puts a key, a ciphertext or a plaintext in an exception
text.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "AES_256_CBC",
    "ENCRYPTABLE_FIELDS",
    "DecryptionError",
    "EncryptionSpec",
    "InvalidEncryption",
    "UnsupportedEncryptField",
    "decrypt_fields",
    "load_private_key",
    "parse_spec",
]

AES_256_CBC = "AES-256-CBC"
SM4_GCM = "SM4-GCM"
#: The fields ImageRecognitionV2 lets a client encrypt.
ENCRYPTABLE_FIELDS = frozenset({"IdCard", "Name"})
_KEY_BYTES = 32
_IV_BYTES = 16
_BLOCK_BITS = 128


class InvalidEncryption(ValueError):
    """``Encryption`` is not shaped as documented (a parameter error, not a decryption one)."""


class UnsupportedEncryptField(InvalidEncryption):
    """``EncryptList`` names a field this API does not let a client encrypt."""


class DecryptionError(ValueError):
    """The fields cannot be decrypted (no key, wrong key, bad ciphertext)."""


@dataclass(frozen=True)
class EncryptionSpec:
    fields: tuple[str, ...]
    ciphertext_blob: str = field(repr=False)
    iv: str = field(repr=False)
    algorithm: str = AES_256_CBC


def parse_spec(value: Any) -> EncryptionSpec:
    """Check the shape of the ``Encryption`` object of a request."""
    if not isinstance(value, dict):
        raise InvalidEncryption("Encryption must be an object")
    known = {"EncryptList", "CiphertextBlob", "Iv", "Algorithm", "TagList"}
    if not set(value) <= known:
        raise InvalidEncryption("Encryption has unknown members")
    fields = value.get("EncryptList")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise InvalidEncryption("EncryptList must be a non-empty list of field names")
    if not set(fields) <= ENCRYPTABLE_FIELDS:
        raise UnsupportedEncryptField("EncryptList may name IdCard and Name only")
    blob, iv = value.get("CiphertextBlob"), value.get("Iv")
    if not isinstance(blob, str) or not blob or not isinstance(iv, str) or not iv:
        raise InvalidEncryption("CiphertextBlob and Iv must be non-empty strings")
    algorithm = value.get("Algorithm") or AES_256_CBC
    if algorithm not in (AES_256_CBC, SM4_GCM):
        raise InvalidEncryption("Algorithm must be AES-256-CBC or SM4-GCM")
    tags = value.get("TagList")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
    ):
        raise InvalidEncryption("TagList must be a list of strings")
    return EncryptionSpec(tuple(dict.fromkeys(fields)), blob, iv, algorithm)


@functools.lru_cache(maxsize=4)
def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#1 or PKCS#8, unencrypted); ValueError otherwise."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("the FaceID private key is not an unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the FaceID private key must be an RSA key")
    return key


def decrypt_fields(
    private_key: rsa.RSAPrivateKey | None, spec: EncryptionSpec, values: Mapping[str, Any]
) -> dict[str, str]:
    """The plaintexts of the fields ``spec`` names, read from ``values`` (the request)."""
    if private_key is None:
        raise DecryptionError("the simulator has no FaceID private key")
    if spec.algorithm != AES_256_CBC:
        raise DecryptionError("SM4-GCM is not available in the simulator")
    key = _unwrap_key(private_key, spec.ciphertext_blob)
    iv = _decode_iv(spec.iv)
    plaintexts: dict[str, str] = {}
    for name in spec.fields:
        ciphertext = values.get(name)
        if not isinstance(ciphertext, str):
            raise DecryptionError("an encrypted field is missing")
        plaintexts[name] = _decrypt_value(key, iv, ciphertext)
    return plaintexts


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("not Base64") from exc


def _unwrap_key(private_key: rsa.RSAPrivateKey, blob: str) -> bytes:
    wrapped = _b64decode(blob)
    # A 32-byte key fits one PKCS#1 v1.5 block of any usable RSA key; refusing more keeps a
    # hostile blob from costing one private-key operation per block.
    if len(wrapped) != private_key.key_size // 8:
        raise DecryptionError("CiphertextBlob is not one RSA block")
    try:
        key = private_key.decrypt(wrapped, asymmetric_padding.PKCS1v15())
    except ValueError as exc:
        raise DecryptionError("CiphertextBlob does not open with this key") from exc
    if len(key) != _KEY_BYTES:
        raise DecryptionError("the wrapped key is not 32 bytes")
    return key


def _decode_iv(iv: str) -> bytes:
    raw = iv.encode("utf-8")
    if len(iv) == _IV_BYTES and len(raw) == _IV_BYTES:
        return raw
    decoded = _b64decode(iv)
    if len(decoded) != _IV_BYTES:
        raise DecryptionError("Iv is neither 16 characters nor Base64 of 16 bytes")
    return decoded


def _decrypt_value(key: bytes, iv: bytes, text: str) -> str:
    ciphertext = _b64decode(text)
    if not ciphertext or len(ciphertext) % (_BLOCK_BITS // 8):
        raise DecryptionError("a ciphertext is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK_BITS).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return plain.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecryptionError("a ciphertext does not decrypt with this key") from exc
