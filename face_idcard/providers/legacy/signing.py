"""Signatures for Tencent's legacy image/face APIs (PROTOCOLS.md §2.3), both sides.

Client side: :func:`legacy_plaintext` and :func:`legacy_authorization` build the
``Authorization`` header. Server side (the simulator): :func:`parse_legacy_authorization`
splits a header into digest, plaintext and fields, and :func:`verify_legacy_digest` checks the
HMAC over the exact plaintext bytes received, whatever the order of the fields.

No Django import; no secret is ever part of a return value's ``repr`` or an exception text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

#: Length of a raw HMAC-SHA1 digest.
DIGEST_SIZE = 20
#: Longest lifetime Tencent accepts for a multi-use signature.
MAX_LIFETIME_SECONDS = 90 * 24 * 3600
#: Our default lifetime: short, like the official SDKs (30 s to 300 s).
DEFAULT_LIFETIME_SECONDS = 300


def legacy_plaintext(
    *,
    appid: str,
    secret_id: str,
    bucket: str = "",
    now: int,
    expiry: int,
    rand: int,
    fileid: str = "",
    include_u: bool = False,
) -> str:
    """The plaintext ``a=…&b=…&k=…&e=…&t=…&r=…[&u=0]&f=…`` in the Python SDK's order.

    ``now`` and ``expiry`` are Unix seconds (UTC epoch, never local time).
    """
    if expiry <= now:
        raise ValueError("signature expiry must be later than its start time")
    if not 0 <= rand <= 9_999_999_999:
        raise ValueError("r must be an unsigned integer of at most 10 digits")
    parts = [
        f"a={appid}",
        f"b={bucket}",
        f"k={secret_id}",
        f"e={expiry}",
        f"t={now}",
        f"r={rand}",
    ]
    if include_u:
        parts.append("u=0")
    parts.append(f"f={fileid}")
    return "&".join(parts)


def legacy_digest(plaintext: bytes, secret_key: str) -> bytes:
    """Raw 20-byte HMAC-SHA1 of ``plaintext`` keyed with the SecretKey (not hex)."""
    return hmac.new(secret_key.encode("utf-8"), plaintext, hashlib.sha1).digest()


def legacy_authorization(plaintext: str, secret_key: str) -> str:
    """Base64(digest + plaintext) as ``str``: the value of the Authorization header."""
    raw = plaintext.encode("utf-8")
    return base64.b64encode(legacy_digest(raw, secret_key) + raw).decode("ascii")


def sign_legacy(
    *,
    appid: str,
    secret_id: str,
    secret_key: str,
    bucket: str = "",
    lifetime: int = DEFAULT_LIFETIME_SECONDS,
    now: int | None = None,
) -> str:
    """A fresh multi-use signature valid for ``lifetime`` seconds from ``now`` (UTC epoch)."""
    if not 0 < lifetime <= MAX_LIFETIME_SECONDS:
        raise ValueError("signature lifetime must be between 1 second and 90 days")
    start = int(time.time()) if now is None else now
    plaintext = legacy_plaintext(
        appid=appid,
        secret_id=secret_id,
        bucket=bucket,
        now=start,
        expiry=start + lifetime,
        rand=secrets.randbelow(10**10),
    )
    return legacy_authorization(plaintext, secret_key)


class MalformedSignature(ValueError):
    """The header is not Base64, is too short, or its plaintext is not key=value pairs."""


@dataclass(frozen=True)
class ParsedSignature:
    digest: bytes = field(repr=False)
    plaintext: bytes
    fields: dict[str, str]

    def get_int(self, name: str) -> int | None:
        value = self.fields.get(name)
        if value is None or not value.isdigit():
            return None
        return int(value)


def parse_legacy_authorization(header: str) -> ParsedSignature:
    """Split an Authorization header into digest, plaintext and its fields (any order)."""
    try:
        raw = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedSignature("signature is not valid Base64") from exc
    if len(raw) <= DIGEST_SIZE:
        raise MalformedSignature("signature is too short")
    digest, plaintext = raw[:DIGEST_SIZE], raw[DIGEST_SIZE:]
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedSignature("signature plaintext is not UTF-8") from exc
    fields: dict[str, str] = {}
    for pair in text.split("&"):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise MalformedSignature("signature plaintext is not key=value pairs")
        fields[key] = value
    return ParsedSignature(digest=digest, plaintext=plaintext, fields=fields)


def verify_legacy_digest(parsed: ParsedSignature, secret_key: str) -> bool:
    """Constant-time check of the digest over the exact plaintext bytes received."""
    return hmac.compare_digest(parsed.digest, legacy_digest(parsed.plaintext, secret_key))
