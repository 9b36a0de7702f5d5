"""The aliyun backend in tests: an alias pointing at a simulator, a submit, the calls made."""

from __future__ import annotations

import functools
from typing import Any

from face_idcard.models import VerificationAttempt
from face_idcard.simulator import (
    DEFAULT_APPID,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SimulatorServer,
)
from face_idcard.simulator.registry import demo_people
from tests.support.celery_app import FAST
from tests.support.factories import submit_attempt
from tests.support.idfactory import make_id
from tests.support.imagefactory import enlarged

#: The first demo person's portrait at Alibaba Cloud's smallest accepted size (640 x 480,
#: upright); the demo's own 300 x 400 is refused for this provider before any call.
PHOTO = enlarged(demo_people()[0].photo_bytes, (480, 640))
#: Valid numbers the registry does not hold, and one of a child (born 2020: under 14).
UNREGISTERED = "11010519491231002X"
CHILD = make_id(birth="20200101")


def aliyun_alias(sim: SimulatorServer | str, **options: Any) -> dict[str, Any]:
    endpoint = sim if isinstance(sim, str) else sim.base_url
    return {
        "BACKEND": "aliyun",
        "ACCESS_KEY_ID": DEFAULT_SECRET_ID,
        "ACCESS_KEY_SECRET": DEFAULT_SECRET_KEY,
        "SCENE_ID": DEFAULT_APPID,
        "ENDPOINT": endpoint,
        "REVIEW_BAND": 0,
        # The backend paces at the account's 50 calls/s unless told otherwise, which defers a
        # run that lands in a closed slot: the tests that run the pipeline in-process do not
        # want that (1000/s keeps every slot open).
        "RATE_LIMIT_PER_SECOND": 1000,
        **options,
    }


def use_aliyun(
    settings: Any, sim: SimulatorServer | str, site: dict[str, Any] | None = None, **options: Any
) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        **FAST,
        **(site or {}),
        "BACKENDS": {"default": aliyun_alias(sim, **options)},
    }


submit = functools.partial(submit_attempt, image=PHOTO)


def call_events(attempt: VerificationAttempt) -> list[dict[str, Any]]:
    return [
        e.data for e in attempt.events.filter(kind="provider_call").order_by("created_at", "id")
    ]


def aliyun_calls(sim: SimulatorServer, attempt: VerificationAttempt) -> list[Any]:
    """The simulator's ledger keys Cloudauth calls by RequestId."""
    return [call for call in sim.ledger.calls() if call.session_id == attempt.provider_request_id]
