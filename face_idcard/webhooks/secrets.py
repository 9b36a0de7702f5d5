"""Signing secrets in the Standard Webhooks form (``whsec_`` + Base64 of 24 to 64 random
bytes), their encrypted storage, and the signature itself.

The reference library decodes a secret without validating it, so a mistyped secret would sign
"successfully" and every receiver would then refuse: :func:`validate_secret` refuses it here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets as random_source
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import crypto

if TYPE_CHECKING:
    from .models import WebhookEndpoint

PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
#: Bytes of a secret the app generates.
GENERATED_KEY_BYTES = 32


class MalformedSecret(ValueError):
    """Not ``whsec_`` + standard Base64 of 24 to 64 bytes. The text never holds the secret."""


def generate_secret() -> str:
    return PREFIX + base64.b64encode(random_source.token_bytes(GENERATED_KEY_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The key bytes of ``secret``; :class:`MalformedSecret` unless it is well formed."""
    if not isinstance(secret, str) or not secret.startswith(PREFIX):
        raise MalformedSecret("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSecret("a webhook secret is whsec_ then Base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise MalformedSecret(f"a webhook secret holds {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes")
    return key


def validate_secret(secret: str) -> str:
    secret_key(secret)
    return secret


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<Base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`` under ``secret``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def store(endpoint: WebhookEndpoint, secrets: Sequence[str]) -> None:
    """Encrypt ``secrets`` (validated, newest first) onto ``endpoint`` (not saved)."""
    for secret in secrets:
        validate_secret(secret)
    endpoint.secrets_encrypted = crypto.encrypt_text(
        json.dumps(list(secrets)), attempt_id=endpoint.pk, field=crypto.WEBHOOK_SECRETS
    )


def load(endpoint: WebhookEndpoint) -> list[str]:
    """The endpoint's secrets, newest first (empty when it has none)."""
    if not endpoint.secrets_encrypted:
        return []
    text = crypto.decrypt_text(
        endpoint.secrets_encrypted, attempt_id=endpoint.pk, field=crypto.WEBHOOK_SECRETS
    )
    return [str(secret) for secret in json.loads(text)]


def rotate(endpoint: WebhookEndpoint) -> str:
    """Add a new secret in front of the endpoint's others (all keep signing until
    :func:`retire_old` drops them); return it, to be shown once. Saves the endpoint."""
    secret = generate_secret()
    store(endpoint, [secret, *load(endpoint)])
    endpoint.save(update_fields=["secrets_encrypted"])
    return secret


def retire_old(endpoint: WebhookEndpoint) -> int:
    """Keep only the newest secret; return how many were dropped. Saves the endpoint."""
    current = load(endpoint)
    store(endpoint, current[:1])
    endpoint.save(update_fields=["secrets_encrypted"])
    return max(0, len(current) - 1)


def reencrypt_all() -> int:
    """Every endpoint's secrets re-encrypted under the newest ``PII_ENCRYPTION_KEYS`` key (part
    of ``rotate_keys``); returns how many endpoints were rewritten. A secret rotated meanwhile
    is left as that rotation wrote it."""
    from .models import WebhookEndpoint

    rewritten = 0
    for pk, token in WebhookEndpoint.objects.exclude(secrets_encrypted="").values_list(
        "pk", "secrets_encrypted"
    ):
        fresh = crypto.rotate_token(token, attempt_id=pk, field=crypto.WEBHOOK_SECRETS)
        rewritten += WebhookEndpoint.objects.filter(pk=pk, secrets_encrypted=token).update(
            secrets_encrypted=fresh
        )
    return rewritten
