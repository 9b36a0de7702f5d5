"""The FaceID backend in tests: an alias pointing at a simulator, a submit, the calls made.

First written in tests/providers/test_faceid_backend.py; kept here so that no test module imports
from another."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from face_idcard.models import VerificationAttempt
from face_idcard.simulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, SimulatorServer
from face_idcard.simulator.registry import demo_people
from tests.support.celery_app import FAST
from tests.support.factories import submit_attempt

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


submit = functools.partial(submit_attempt, image=PHOTO)


def call_events(attempt: VerificationAttempt) -> list[dict[str, Any]]:
    return [
        e.data for e in attempt.events.filter(kind="provider_call").order_by("created_at", "id")
    ]
