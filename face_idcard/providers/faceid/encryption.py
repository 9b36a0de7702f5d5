"""FaceID's optional ``Encryption`` of ``Name`` and ``IdCard``, as Tencent documents it.

Source: Tencent's "敏感数据加密指引" (https://cloud.tencent.com/document/product/1007/47180)
and the official crypto tool it links (github.com/TencentCloud/faceid-api-crypto-golang): a
random 32-byte AES-256 key per request, wrapped with the RSA public key from the FaceID
console under RSA PKCS#1 v1.5 and sent Base64-encoded as ``CiphertextBlob``; each encrypted
field replaced by Base64(AES-256-CBC(UTF-8 value, PKCS#7 padding)) under one random 16-byte
initialisation vector, sent Base64-encoded as ``Iv`` (as the tool does).

``SM4-GCM`` needs SM2 key wrapping, which ``cryptography`` does not provide: not supported.
Nothing here puts a key, a plaintext or a ciphertext in an exception text or a repr.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["ALGORITHM", "ENCRYPTED_FIELDS", "EncryptedFields", "FieldEncryptor", "load_public_key"]

ALGORITHM = "AES-256-CBC"
#: The fields ImageRecognitionV2 lets a client encrypt, in the order they are listed.
ENCRYPTED_FIELDS = ("IdCard", "Name")
#: Smallest RSA key accepted: anything shorter is not what the console hands out.
MIN_RSA_BITS = 2048
_KEY_BYTES = 32
_IV_BYTES = 16


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """The RSA public key from a PEM text; ``ValueError`` with a plain reason otherwise."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data.strip())
    except (ValueError, TypeError, UnicodeError) as exc:
        raise ValueError("not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key (SM2 is not supported)")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"an RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} expected")
    return key


@dataclass(frozen=True)
class EncryptedFields:
    """The replaced field values and the ``Encryption`` object to send beside them."""

    values: dict[str, str] = field(repr=False)
    encryption: dict[str, Any] = field(repr=False)


class FieldEncryptor:
    """Encrypts the sensitive fields of one request at a time with a fresh key and IV."""

    def __init__(self, public_key: rsa.RSAPublicKey) -> None:
        self._public_key = public_key

    def __repr__(self) -> str:
        return f"<FieldEncryptor RSA-{self._public_key.key_size}>"

    def encrypt(self, values: dict[str, str]) -> EncryptedFields:
        key = secrets.token_bytes(_KEY_BYTES)
        iv = secrets.token_bytes(_IV_BYTES)
        wrapped = self._public_key.encrypt(key, asymmetric_padding.PKCS1v15())
        replaced = {name: _aes_cbc(key, iv, values[name]) for name in ENCRYPTED_FIELDS}
        return EncryptedFields(
            values=replaced,
            encryption={
                "EncryptList": list(ENCRYPTED_FIELDS),
                "CiphertextBlob": _b64(wrapped),
                "Iv": _b64(iv),
                "Algorithm": ALGORITHM,
            },
        )


def _aes_cbc(key: bytes, iv: bytes, text: str) -> str:
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(text.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return _b64(encryptor.update(padded) + encryptor.finalize())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
