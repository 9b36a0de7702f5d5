"""TC3-HMAC-SHA256, the signature of Tencent Cloud API 3.0 (PROTOCOLS.md §3), server side.

The simulator rebuilds the canonical request from the headers the client names in
``SignedHeaders`` (values byte-identical to what was sent, only stripped of surrounding
blanks) and the exact body bytes, derives the signing key from the secret key, the credential
date and the service, and compares signatures in constant time. :func:`authorization` is the
client side, for tests and benchmarks that sign requests by hand.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .outcomes import Outcome

__all__ = [
    "ALGORITHM",
    "TIMESTAMP_WINDOW_SECONDS",
    "UNSIGNED_PAYLOAD",
    "Credentials",
    "MalformedAuthorization",
    "ParsedAuthorization",
    "authorization",
    "canonical_request",
    "credential_date",
    "parse_authorization",
    "payload_hash",
    "signature",
    "string_to_sign",
    "verify",
]

ALGORITHM = "TC3-HMAC-SHA256"
TERMINATOR = "tc3_request"
#: A request whose X-TC-Timestamp is further than this from the server's clock has expired.
TIMESTAMP_WINDOW_SECONDS = 300
#: The payload hash a client sends in X-TC-Content-SHA256 when it does not sign the body.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: Headers every signature must cover (Tencent's minimum).
REQUIRED_SIGNED_HEADERS = frozenset({"content-type", "host"})
#: What a SecretId looks like; anything else is not an API key at all (InvalidSecretId).
_SECRET_ID_SHAPE = re.compile(r"[A-Za-z0-9]{1,128}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_HEADER_NAME = re.compile(r"[a-z0-9-]+")


class MalformedAuthorization(ValueError):
    """The Authorization header is not a TC3 authorization (the text never quotes it)."""


@dataclass(frozen=True)
class ParsedAuthorization:
    secret_id: str
    date: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class Credentials:
    secret_id: str
    secret_key: str = ""

    def __repr__(self) -> str:
        return f"<Credentials {self.secret_id}>"


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    hashed_payload: str,
) -> str:
    """``headers`` maps lower-case names to the values as sent."""
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        (method, uri, query, canonical_headers, ";".join(signed_headers), hashed_payload)
    )


def credential_date(timestamp: int) -> str:
    """The UTC date of a Unix timestamp, as the credential scope writes it."""
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime("%Y-%m-%d")


def string_to_sign(timestamp: int, date: str, service: str, canonical: str) -> str:
    scope = f"{date}/{service}/{TERMINATOR}"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signature(secret_key: str, date: str, service: str, to_sign: str) -> str:
    key_date = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    key_service = _hmac(key_date, service)
    key_signing = _hmac(key_service, TERMINATOR)
    return hmac.new(key_signing, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(
    credentials: Credentials,
    *,
    service: str,
    timestamp: int,
    host: str,
    content_type: str,
    body: bytes,
    method: str = "POST",
) -> str:
    """The ``Authorization`` header a client sends (signed headers content-type and host)."""
    date = credential_date(timestamp)
    signed = ("content-type", "host")
    canonical = canonical_request(
        method, "/", "", {"content-type": content_type, "host": host}, signed, payload_hash(body)
    )
    sig = signature(
        credentials.secret_key, date, service, string_to_sign(timestamp, date, service, canonical)
    )
    return (
        f"{ALGORITHM} Credential={credentials.secret_id}/{date}/{service}/{TERMINATOR}, "
        f"SignedHeaders={';'.join(signed)}, Signature={sig}"
    )


def parse_authorization(header: str) -> ParsedAuthorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise MalformedAuthorization("not a TC3-HMAC-SHA256 authorization")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep or name in parts:
            raise MalformedAuthorization("authorization parts must be unique name=value pairs")
        parts[name] = value.strip()
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        raise MalformedAuthorization("Credential, SignedHeaders and Signature are required")
    scope = parts["Credential"].split("/")
    if len(scope) != 4 or not all(scope):
        raise MalformedAuthorization("Credential must be SecretId/date/service/tc3_request")
    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    if not all(_HEADER_NAME.fullmatch(name) for name in signed_headers):
        raise MalformedAuthorization("SignedHeaders must be lower-case header names")
    if list(signed_headers) != sorted(set(signed_headers)):
        raise MalformedAuthorization("SignedHeaders must be sorted and unique")
    if not REQUIRED_SIGNED_HEADERS <= set(signed_headers):
        raise MalformedAuthorization("SignedHeaders must include content-type and host")
    if not _HEX_SIGNATURE.fullmatch(parts["Signature"]):
        raise MalformedAuthorization("Signature must be 64 lower-case hex digits")
    return ParsedAuthorization(
        secret_id=scope[0],
        date=scope[1],
        service=scope[2],
        terminator=scope[3],
        signed_headers=signed_headers,
        signature=parts["Signature"],
    )


def verify(
    *,
    header: str,
    headers: Mapping[str, str],
    method: str,
    uri: str,
    body: bytes,
    timestamp: int,
    now: float,
    service: str,
    credentials: Credentials,
) -> Outcome | None:
    """None if ``header`` signs this request for ``credentials``; else the failure.

    ``headers`` maps lower-case header names to values as received. Order of checks: the
    header's form (SIGNATURE_MALFORMED), the SecretId's form (INVALID_SECRET_ID) and owner
    (UNKNOWN_SECRET_ID), the 5-minute window (SIGNATURE_EXPIRED), the credential scope
    (SIGNATURE_TARGET_MISMATCH: another service, another date than the timestamp's), the
    signature itself (SIGNATURE_MISMATCH, constant-time).
    """
    if not header.strip():
        return Outcome.SIGNATURE_EMPTY
    try:
        parsed = parse_authorization(header)
    except MalformedAuthorization:
        return Outcome.SIGNATURE_MALFORMED
    if any(name not in headers for name in parsed.signed_headers):
        return Outcome.SIGNATURE_MALFORMED
    if not _SECRET_ID_SHAPE.fullmatch(parsed.secret_id):
        return Outcome.INVALID_SECRET_ID
    if not hmac.compare_digest(parsed.secret_id, credentials.secret_id):
        return Outcome.UNKNOWN_SECRET_ID
    if abs(now - timestamp) > TIMESTAMP_WINDOW_SECONDS:
        return Outcome.SIGNATURE_EXPIRED
    if (
        parsed.service != service
        or parsed.terminator != TERMINATOR
        or parsed.date != credential_date(timestamp)
    ):
        return Outcome.SIGNATURE_TARGET_MISMATCH
    declared = headers.get("x-tc-content-sha256", "").strip()
    hashed = UNSIGNED_PAYLOAD if declared == UNSIGNED_PAYLOAD else payload_hash(body)
    canonical = canonical_request(method, uri, "", headers, parsed.signed_headers, hashed)
    expected = signature(
        credentials.secret_key,
        parsed.date,
        service,
        string_to_sign(timestamp, parsed.date, service, canonical),
    )
    if not hmac.compare_digest(expected, parsed.signature):
        return Outcome.SIGNATURE_MISMATCH
    return None
