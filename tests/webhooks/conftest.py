"""Fixtures of the webhook tests: a loopback receiver, endpoints on it, the settings that
allow loopback endpoints, and deliveries published to a queue no worker takes (the tests run
each delivery themselves, as a worker would)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from face_idcard.webhooks import secrets
from face_idcard.webhooks.models import WebhookEndpoint
from tests.webhooks.receiver import Receiver, running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running() as server:
        yield server


@pytest.fixture
def hook_settings(parked_publishes: str, face_settings: Callable[..., None]) -> Callable[..., None]:
    """Loopback endpoints allowed, a short timeout; call it to override more keys."""
    face_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_TIMEOUT_SECONDS=1.0)
    return face_settings


@pytest.fixture
def make_endpoint(hook_settings: Any) -> Callable[..., tuple[WebhookEndpoint, str]]:
    """``make_endpoint(url, event_types=[...])`` -> (the endpoint, its secret)."""

    def make(url: str, **fields: Any) -> tuple[WebhookEndpoint, str]:
        endpoint = WebhookEndpoint(url=url, **fields)
        secret = secrets.generate_secret()
        secrets.store(endpoint, [secret])
        endpoint.save()
        return endpoint, secret

    return make
