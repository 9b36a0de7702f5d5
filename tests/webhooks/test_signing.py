"""Signatures: the specification's published test vector, the reference library
(``standardwebhooks``) verifying what the app signs, secret rotation, and malformed secrets."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from face_idcard.webhooks import secrets
from face_idcard.webhooks.validation import validate_signing_secret

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_test_vector() -> None:
    assert secrets.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_reference_library_signs_the_same() -> None:
    secret = secrets.generate_secret()
    when = datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=timezone.utc)
    expected = Webhook(secret).sign(VECTOR_ID, when, VECTOR_BODY.decode())
    assert secrets.sign(secret, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == expected


def _headers(header: str, timestamp: int) -> dict[str, str]:
    return {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": header,
    }


def test_rotation_every_secret_signs_and_either_verifies() -> None:
    old, new = secrets.generate_secret(), secrets.generate_secret()
    now = int(datetime.now(tz=timezone.utc).timestamp())
    header = secrets.signature_header([new, old], VECTOR_ID, now, VECTOR_BODY)
    assert len(header.split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(VECTOR_BODY, _headers(header, now))
    with pytest.raises(WebhookVerificationError):
        Webhook(secrets.generate_secret()).verify(VECTOR_BODY, _headers(header, now))


def test_generated_secrets_are_well_formed_and_random() -> None:
    first, second = secrets.generate_secret(), secrets.generate_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(secrets.secret_key(first)) == secrets.GENERATED_KEY_BYTES


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_not base64!",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",  # truncated (bad padding)
        "whsec_" + "QUJD",  # 3 bytes: too short
        "whsec_" + "A" * 100,  # 75 bytes: too long
    ],
)
def test_malformed_secrets_are_refused(secret: str) -> None:
    with pytest.raises(secrets.MalformedSecret) as caught:
        secrets.secret_key(secret)
    if len(secret) > 8:
        assert secret[8:] not in str(caught.value)  # the message never repeats the secret
    with pytest.raises(ValidationError):
        validate_signing_secret(secret)


def test_the_reference_library_would_have_accepted_a_mistyped_secret() -> None:
    # Why the app validates: the library signs with a 3-byte key without a word.
    when = datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=timezone.utc)
    assert Webhook("whsec_QUJD").sign(VECTOR_ID, when, "{}").startswith("v1,")
    with pytest.raises(secrets.MalformedSecret):
        secrets.secret_key("whsec_QUJD")


@pytest.mark.django_db
def test_rotate_keys_reencrypts_the_endpoints_secrets(settings: Any) -> None:
    from cryptography.fernet import Fernet

    from face_idcard import services
    from face_idcard.webhooks.models import WebhookEndpoint

    endpoint = WebhookEndpoint(url="https://hooks.example.com/x")
    secret = secrets.generate_secret()
    secrets.store(endpoint, [secret])
    endpoint.save()
    old_key = settings.FACE_IDCARD["PII_ENCRYPTION_KEYS"][0]
    new_key = Fernet.generate_key().decode()
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "PII_ENCRYPTION_KEYS": [new_key, old_key]}
    assert services.rotate_keys()["webhook_secrets"] == 1
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "PII_ENCRYPTION_KEYS": [new_key]}
    endpoint.refresh_from_db()
    assert secrets.load(endpoint) == [secret]
