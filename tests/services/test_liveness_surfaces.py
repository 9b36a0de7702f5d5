"""Liveness outside the pipeline: the system checks on the policy, the verdict in the API (the
word only) and in the admin detail, and the DetectAIFakeFaces answer read by Tencent's own SDK
as the conformance peer of the simulator."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.faceid.v20180301 import faceid_client, models

from face_idcard.models import VerificationAttempt
from face_idcard.simulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, SimulatorServer, magic
from face_idcard.simulator.portraits import portrait_jpeg
from face_idcard.simulator.protocols.faceid_precheck import (
    ATTACK_HEIGHT,
    ATTACK_TYPES,
    HIGH_RISK_WIDTH,
    MID_RISK_WIDTH,
)
from tests.support import imagefactory
from tests.support.admin_helpers import change_url
from tests.support.admin_helpers import client_for as admin_client_for
from tests.support.api_helpers import BASE, NAME, client_for, plain_user
from tests.support.checks import LEGACY, check_ids
from tests.support.factories import submit_attempt

ALIYUN = {
    "BACKEND": "aliyun",
    "ACCESS_KEY_ID": "id",
    "ACCESS_KEY_SECRET": "secret",
    "SCENE_ID": "1000",
}
FACEID = {"BACKEND": "faceid", "SECRET_ID": "id", "SECRET_KEY": "key"}


# --- System checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "alias", "refused"),
    [
        # The legacy API cannot check liveness at all.
        ({}, {**LEGACY, "LIVENESS": "require"}, True),
        ({"LIVENESS": "require"}, LEGACY, True),
        ({"LIVENESS": "require"}, {**LEGACY, "LIVENESS": "record"}, False),
        ({}, {**LEGACY, "LIVENESS": "record"}, False),
        # Alibaba Cloud checks in the comparison call, unless the alias turns it off.
        ({}, {**ALIYUN, "LIVENESS": "require"}, False),
        ({}, {**ALIYUN, "LIVENESS": "require", "MODEL": "NO_LIVENESS"}, True),
        # FaceID has its pre-check, unless the alias turns it off.
        ({}, {**FACEID, "LIVENESS": "require"}, False),
        ({}, {**FACEID, "LIVENESS": "require", "LIVENESS_PRECHECK": False}, True),
    ],
)
def test_require_needs_a_backend_that_can_check_liveness(
    site: dict[str, Any], alias: dict[str, Any], refused: bool
) -> None:
    ids = check_ids(BACKENDS={"default": alias}, **site)
    assert ("face_idcard.E041" in ids) is refused
    assert "face_idcard.E040" not in ids


@pytest.mark.parametrize(
    ("site", "alias"),
    [
        ({"LIVENESS": "always"}, LEGACY),
        ({}, {**LEGACY, "LIVENESS_FAILURE": "reject"}),
    ],
)
def test_unknown_policy_words_are_errors(site: dict[str, Any], alias: dict[str, Any]) -> None:
    assert "face_idcard.E040" in check_ids(BACKENDS={"default": alias}, **site)


# --- The API and the admin ------------------------------------------------------------------


def _spoofed_attempt(owner: Any) -> VerificationAttempt:
    return submit_attempt(
        magic.MATCH,
        idcard_name=NAME,
        image=imagefactory.jpeg(),
        user=owner,
        update={
            "status": "completed",
            "decision": "review",
            "reason": "spoof_suspected",
            "liveness": "spoof_suspected",
            "liveness_source": "faceid.DetectAIFakeFaces",
            "liveness_risk_level": "Mid",
            "liveness_attack_types": ["SuspectedSpoofingAttack"],
        },
    )


@pytest.mark.django_db
def test_the_api_shows_the_verdict_word_only(face_settings: Any) -> None:
    owner = plain_user("owner")
    attempt = _spoofed_attempt(owner)
    body = client_for(owner).get(f"{BASE}{attempt.pk}/").json()
    assert body["liveness"] == "spoof_suspected"
    text = str(body)
    assert "DetectAIFakeFaces" not in text and "SuspectedSpoofingAttack" not in text
    assert "Mid" not in text


@pytest.mark.django_db
def test_the_admin_detail_shows_the_verdict_beside_the_similarity(face_settings: Any) -> None:
    attempt = _spoofed_attempt(plain_user("owner"))
    client, _ = admin_client_for("reviewer32", "view_verificationattempt")
    page = client.get(change_url(attempt)).content.decode()
    assert 'data-liveness="spoof_suspected"' in page
    assert "faceid.DetectAIFakeFaces" in page and "SuspectedSpoofingAttack" in page
    assert magic.MATCH not in page and NAME not in page


# --- The simulator's DetectAIFakeFaces, read by Tencent's SDK ---------------------------------


def _sdk(sim: SimulatorServer) -> faceid_client.FaceidClient:
    profile = HttpProfile(endpoint=f"127.0.0.1:{sim.port}", protocol="http", reqTimeout=10)
    return faceid_client.FaceidClient(
        credential.Credential(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY),
        "",
        ClientProfile(httpProfile=profile),
    )


@pytest.mark.parametrize(
    ("size", "level", "attacks"),
    [
        ((300, 400), "Low", []),
        ((MID_RISK_WIDTH, ATTACK_HEIGHT + 6), "Mid", [ATTACK_TYPES[6]]),
        ((HIGH_RISK_WIDTH, ATTACK_HEIGHT + 2), "High", [ATTACK_TYPES[2]]),
        ((HIGH_RISK_WIDTH, 999), "High", [ATTACK_TYPES[0]]),
    ],
)
def test_the_sdk_reads_the_simulators_risk_levels(
    simulator: SimulatorServer, size: tuple[int, int], level: str, attacks: list[str]
) -> None:
    request = models.DetectAIFakeFacesRequest()
    request.FaceInput = base64.b64encode(portrait_jpeg(5, size=size)).decode("ascii")
    request.FaceInputType = 1
    response = _sdk(simulator).DetectAIFakeFaces(request)
    assert response.AttackRiskLevel == level
    assert [detail.Type for detail in response.AttackRiskDetailList] == attacks
    assert response.RequestId
    (call,) = simulator.ledger.calls()
    assert (call.protocol, call.billable) == ("faceid.precheck", True)


def test_the_simulator_keeps_the_precheck_quota_of_5_per_second(
    simulator: SimulatorServer,
) -> None:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )

    client, codes = _sdk(simulator), []
    request = models.DetectAIFakeFacesRequest()
    request.FaceInput = base64.b64encode(portrait_jpeg(5)).decode("ascii")
    request.FaceInputType = 1
    for _ in range(7):
        try:
            client.DetectAIFakeFaces(request)
            codes.append("ok")
        except TencentCloudSDKException as exc:
            codes.append(str(exc.code))
    assert codes.count("ok") == 5
    assert codes.count("RequestLimitExceeded") == 2
    billed = [call.billable for call in simulator.ledger.calls()]
    assert billed.count(True) == 5
