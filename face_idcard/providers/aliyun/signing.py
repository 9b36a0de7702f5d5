"""Alibaba Cloud's V3 request signature, ACS3-HMAC-SHA256, both sides.

Client side: :func:`sign` returns the headers to send (``x-acs-*`` and ``Authorization``).
Server side (the simulator): :func:`parse_authorization` splits a header, and
:func:`signature` recomputes it over the headers the request itself lists in
``SignedHeaders`` (the official SDK signs every header it sends, not only ``x-acs-*``).

The algorithm (Alibaba Cloud's V3 signature document)::

    CanonicalRequest = METHOD \\n URI \\n CanonicalQuery \\n CanonicalHeaders \\n
                       SignedHeaders \\n hex(sha256(body))
    StringToSign     = "ACS3-HMAC-SHA256\\n" + hex(sha256(CanonicalRequest))
    Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))

No Django import; no secret is part of a return value's repr or of an exception text.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

__all__ = [
    "ALGORITHM",
    "EMPTY_PAYLOAD_HASH",
    "ParsedAuthorization",
    "canonical_query",
    "canonical_request",
    "hashed_payload",
    "parse_authorization",
    "sign",
    "signature",
    "string_to_sign",
    "timestamp",
]

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_PAYLOAD_HASH = hashlib.sha256(b"").hexdigest()


def percent_encode(value: str) -> str:
    """RFC 3986: everything but unreserved characters encoded (space %20, ``*`` %2A, ``~``
    kept), as Alibaba Cloud's canonical query asks."""
    return quote(value, safe="-_.~")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """The parameters sorted by encoded name (then value), encoded, joined by ``&``."""
    encoded = sorted((percent_encode(name), percent_encode(value)) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in encoded)


def hashed_payload(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _canonical_headers(headers: Mapping[str, str], signed: Iterable[str]) -> tuple[str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    names = sorted({name.lower() for name in signed})
    text = "".join(f"{name}:{lowered.get(name, '').strip()}\n" for name in names)
    return text, ";".join(names)


def canonical_request(
    *,
    method: str,
    uri: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_hash: str,
) -> str:
    canonical_headers, signed = _canonical_headers(headers, signed_headers)
    return "\n".join(
        (
            method.upper(),
            uri or "/",
            canonical_query(query),
            canonical_headers,
            signed,
            payload_hash,
        )
    )


def string_to_sign(canonical: str) -> str:
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def signature(secret: str, canonical: str) -> str:
    """hex(HMAC-SHA256) of the string to sign, keyed with the raw AccessKey secret."""
    return hmac.new(
        secret.encode("utf-8"), string_to_sign(canonical).encode("utf-8"), hashlib.sha256
    ).hexdigest()


def timestamp(now: datetime.datetime | None = None) -> str:
    """``x-acs-date``: UTC, ``yyyy-MM-ddTHH:mm:ssZ``."""
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(
    *,
    access_key_id: str,
    access_key_secret: str,
    method: str,
    host: str,
    uri: str,
    query: Iterable[tuple[str, str]],
    body: bytes,
    action: str,
    version: str,
    content_type: str | None = None,
    date: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers of one signed request: ``host``, ``x-acs-*``, ``content-type`` (when
    given) and ``Authorization``. Every header returned is signed."""
    payload_hash = hashed_payload(body)
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date or timestamp(),
        "x-acs-signature-nonce": nonce or secrets.token_hex(16),
        "x-acs-content-sha256": payload_hash,
    }
    if content_type is not None:
        headers["content-type"] = content_type
    canonical = canonical_request(
        method=method,
        uri=uri,
        query=list(query),
        headers=headers,
        signed_headers=headers.keys(),
        payload_hash=payload_hash,
    )
    signed = ";".join(sorted(headers))
    headers["Authorization"] = (
        f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed},"
        f"Signature={signature(access_key_secret, canonical)}"
    )
    return headers


class MalformedAuthorization(ValueError):
    """The header is not ``ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…``."""


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str) -> ParsedAuthorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM or not rest:
        raise MalformedAuthorization("not an ACS3-HMAC-SHA256 authorization")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise MalformedAuthorization("authorization fields are not key=value pairs")
        fields[key] = value
    try:
        credential, signed, digest = (
            fields["Credential"],
            fields["SignedHeaders"],
            fields["Signature"],
        )
    except KeyError:
        raise MalformedAuthorization("authorization lacks a field") from None
    if not credential or not signed or not digest:
        raise MalformedAuthorization("authorization has an empty field")
    return ParsedAuthorization(credential, tuple(signed.split(";")), digest)
