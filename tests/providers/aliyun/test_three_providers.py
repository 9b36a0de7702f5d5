"""A site with three aliases, one per provider (legacy, FaceID, Alibaba Cloud), deciding
attempts on each side by side through ``services.submit`` and the pipeline with a real worker,
on one simulator: each attempt keeps its alias, its provider's code and threshold, and staff
review them the same way."""

from __future__ import annotations

from typing import Any

import pytest

from face_idcard import services
from face_idcard.simulator import SimulatorServer, magic
from tests.providers.aliyun.helpers import PHOTO, UNREGISTERED, aliyun_alias
from tests.support.celery_app import FAST, wait_terminal
from tests.support.faceid import faceid_alias
from tests.support.factories import submit_attempt


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_three_providers_side_by_side(settings: Any, simulator: SimulatorServer) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        **FAST,
        "REVIEW_BAND": 5,
        "DEFAULT_BACKEND": "tencent-legacy",
        "BACKENDS": {
            "tencent-legacy": {"BACKEND": "simulator", "ENDPOINT": simulator.base_url},
            "tencent-faceid": faceid_alias(simulator, REVIEW_BAND=5),
            "alibaba": aliyun_alias(simulator, REVIEW_BAND=5),
        },
    }
    submitted = {
        (alias, number): submit_attempt(number, image=PHOTO, backend=alias)
        for alias in ("tencent-legacy", "tencent-faceid", "alibaba")
        for number in (magic.REVIEW, magic.NO_MATCH)
    }
    # One person the registry does not know: Tencent's FaceID refuses, Alibaba Cloud advises
    # a review.
    unknown_faceid = submit_attempt(UNREGISTERED, image=PHOTO, backend="tencent-faceid")
    unknown_alibaba = submit_attempt(UNREGISTERED, image=PHOTO, backend="alibaba")
    done = {key: wait_terminal(attempt.pk) for key, attempt in submitted.items()}

    seen = {
        key: (a.backend, a.status, a.decision, a.error_code, a.threshold) for key, a in done.items()
    }
    assert seen == {
        # Score 74 is within 5 of 75 and of 70: both Tencent aliases ask a person; Alibaba
        # Cloud's Passed (T) decides on its own, the review band does not apply.
        ("tencent-legacy", magic.REVIEW): ("tencent-legacy", "completed", "review", "0", 75.0),
        ("tencent-faceid", magic.REVIEW): (
            "tencent-faceid",
            "completed",
            "review",
            "Success",
            70.0,
        ),
        ("alibaba", magic.REVIEW): ("alibaba", "completed", "match", "200.200", 70.0),
        ("tencent-legacy", magic.NO_MATCH): ("tencent-legacy", "completed", "no_match", "0", 75.0),
        ("tencent-faceid", magic.NO_MATCH): (
            "tencent-faceid",
            "completed",
            "no_match",
            "FailedOperation.CompareLowSimilarity",
            70.0,
        ),
        ("alibaba", magic.NO_MATCH): ("alibaba", "completed", "no_match", "200.204", 70.0),
    }
    faceid_unknown, alibaba_unknown = (
        wait_terminal(unknown_faceid.pk),
        wait_terminal(unknown_alibaba.pk),
    )
    assert (faceid_unknown.status, faceid_unknown.reason) == ("rejected", "id_not_found")
    assert (alibaba_unknown.status, alibaba_unknown.decision, alibaba_unknown.reason) == (
        "completed",
        "review",
        "id_not_found",
    )
    by_protocol: dict[str, int] = {}
    for call in simulator.ledger.calls():
        by_protocol[call.protocol] = by_protocol.get(call.protocol, 0) + 1
    assert by_protocol == {"legacy": 2, "faceid": 3, "aliyun": 3}

    from tests.support.users import user_with

    staff = user_with("reviewer31", "review")
    for attempt in (done[("tencent-legacy", magic.REVIEW)], alibaba_unknown):
        services.review(attempt, reviewer=staff, decision="match", reason="checked by hand")
        attempt.refresh_from_db()
        assert attempt.review_decision == "match"
