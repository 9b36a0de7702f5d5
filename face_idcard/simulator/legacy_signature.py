"""The legacy API's multi-use signature (PROTOCOLS.md §2.3), server side, written from the spec.

The simulator's own reading, independent of the app's client: it checks what the app's client
signs, so it must not share that code. The ``Authorization`` header is standard Base64 of the
raw 20-byte HMAC-SHA1 digest followed by the plaintext ``a=…&b=…&k=…&e=…&t=…&r=…&f=…``
(keyed with the SecretKey). The fields may come in any order (the official SDKs differ), so
the HMAC is checked over the exact plaintext bytes received, in constant time.
:func:`authorization` is the client side, for tests that sign by hand.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field

__all__ = [
    "DIGEST_SIZE",
    "MalformedSignature",
    "ParsedSignature",
    "authorization",
    "parse",
    "verify",
]

#: Length of a raw HMAC-SHA1 digest.
DIGEST_SIZE = 20


class MalformedSignature(ValueError):
    """The header is not Base64, holds no plaintext after the digest, or the plaintext is not
    UTF-8 ``key=value`` pairs joined by ``&``."""


@dataclass(frozen=True)
class ParsedSignature:
    digest: bytes = field(repr=False)
    plaintext: bytes
    fields: dict[str, str]

    def number(self, name: str) -> int | None:
        """The field ``name`` as an unsigned decimal integer, or None if absent or not one."""
        value = self.fields.get(name, "")
        return int(value) if value.isascii() and value.isdigit() else None


def _digest(plaintext: bytes, secret_key: str) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), plaintext, hashlib.sha1).digest()


def parse(header: str) -> ParsedSignature:
    """Digest, plaintext and fields of an ``Authorization`` value."""
    try:
        raw = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedSignature("not Base64") from exc
    digest, plaintext = raw[:DIGEST_SIZE], raw[DIGEST_SIZE:]
    if not plaintext:
        raise MalformedSignature("no plaintext after the digest")
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedSignature("plaintext is not UTF-8") from exc
    fields: dict[str, str] = {}
    for pair in text.split("&"):
        key, equals, value = pair.partition("=")
        if not key or not equals:
            raise MalformedSignature("plaintext is not key=value pairs")
        fields[key] = value
    return ParsedSignature(digest=digest, plaintext=plaintext, fields=fields)


def verify(parsed: ParsedSignature, secret_key: str) -> bool:
    """Whether the digest is the HMAC-SHA1 of the received plaintext under ``secret_key``."""
    return hmac.compare_digest(parsed.digest, _digest(parsed.plaintext, secret_key))


def authorization(plaintext: str, secret_key: str) -> str:
    """The header value for ``plaintext`` (client side, for tests)."""
    raw = plaintext.encode("utf-8")
    return base64.b64encode(_digest(raw, secret_key) + raw).decode("ascii")
