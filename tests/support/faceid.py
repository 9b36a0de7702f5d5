"""The FaceID backend in tests: an alias pointing at a simulator, a submit, the calls made.

First written in tests/providers/test_faceid_backend.py; kept here so that no test module imports
from another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from face_idcard import services
from face_idcard.models import VerificationAttempt
from face_idcard.simulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, SimulatorServer, magic
from face_idcard.simulator.registry import demo_people
from tests.support.celery_app import FAST

PHOTO = demo_people()[0].photo_bytes


NAME = "张三"


def faceid_alias(sim: SimulatorServer | str, **options: Any) -> dict[str, Any]:
    endpoint = sim if isinstance(sim, str) else sim.base_url
    return {
        "BACKEND": "faceid",
        "SECRET_ID": DEFAULT_SECRET_ID,
        "SECRET_KEY": DEFAULT_SECRET_KEY,
        "ENDPOINT": endpoint,
        "REVIEW_BAND": 0,
        **options,
    }


@pytest.fixture
def use_faceid(settings: Any) -> Callable[..., None]:
    """``use_faceid(sim, **alias_options, site={...})``: the default alias is FaceID at ``sim``."""

    def apply(
        sim: SimulatorServer | str, site: dict[str, Any] | None = None, **options: Any
    ) -> None:
        settings.FACE_IDCARD = {
            **settings.FACE_IDCARD,
            **FAST,
            **(site or {}),
            "BACKENDS": {"default": faceid_alias(sim, **options)},
        }

    return apply


def submit(number: str = magic.MATCH, **kwargs: Any) -> VerificationAttempt:
    params: dict[str, Any] = {
        "idcard_number": number,
        "idcard_name": NAME,
        "image": PHOTO,
        "consent_at": timezone.now(),
    }
    params.update(kwargs)
    return services.submit(**params)


def call_events(attempt: VerificationAttempt) -> list[dict[str, Any]]:
    return [
        e.data for e in attempt.events.filter(kind="provider_call").order_by("created_at", "id")
    ]
