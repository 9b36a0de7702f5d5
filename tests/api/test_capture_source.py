"""How the photo was taken (issue 32 item 4): the API's ``capture_source`` is validated,
stored on the attempt and shown to staff beside the liveness verdict; a chosen file is refused
where ``ONBOARDING_FILE_UPLOAD`` allows none ("auto": under ``LIVENESS = "require"``), with
a message in the request's language and nothing stored or sent. What the server cannot check
(a client may say "camera" of any file) is documented in face_idcard._capture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.simulator import SimulatorServer
from tests.support.admin_helpers import client_for as staff_client_for
from tests.support.api_helpers import client_for, create, error_code, field_codes, plain_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(face_settings: Callable[..., None], parked_publishes: str) -> Any:
    return client_for(plain_user("capture-client"))


@pytest.mark.parametrize("source", ["camera", "capture_input", "file"])
def test_the_capture_source_is_stored(client: Any, source: str) -> None:
    response = create(client, capture_source=source)
    assert response.status_code == 202, response.content
    attempt = VerificationAttempt.objects.get()
    assert attempt.capture_source == source
    created = attempt.events.get(kind=EventKind.CREATED.value)
    assert created.data["capture_source"] == source


def test_a_client_that_says_nothing_stores_not_said(client: Any) -> None:
    assert create(client).status_code == 202
    attempt = VerificationAttempt.objects.get()
    assert attempt.capture_source == ""
    assert "capture_source" not in attempt.events.get(kind=EventKind.CREATED.value).data


@pytest.mark.parametrize("value", ["webcam", "CAMERA", "camera "])
def test_an_unknown_capture_source_is_refused(client: Any, value: str) -> None:
    response = create(client, capture_source=value)
    assert response.status_code == 400
    assert "capture_source" in field_codes(response)
    assert not VerificationAttempt.objects.exists()


@pytest.mark.parametrize(
    ("setting", "liveness", "allowed"),
    [
        ("auto", "off", True),
        ("auto", "record", True),
        ("auto", "require", False),
        (True, "require", True),
        (False, "off", False),
        ("sometimes", "off", False),  # not a value: read as the strict one
    ],
)
def test_a_chosen_file_follows_the_policy(
    face_settings: Callable[..., None],
    parked_publishes: str,
    simulator: SimulatorServer,
    setting: Any,
    liveness: str,
    allowed: bool,
) -> None:
    face_settings(ONBOARDING_FILE_UPLOAD=setting, LIVENESS=liveness, CELERY_QUEUE=parked_publishes)
    client = client_for(plain_user("capture-policy"))
    response = create(client, capture_source="file")
    if allowed:
        assert response.status_code == 202, response.content
        return
    assert response.status_code == 400
    assert field_codes(response) == {"capture_source": ["capture_file_not_allowed"]}
    assert error_code(response) == "invalid"
    assert not VerificationAttempt.objects.exists()
    assert simulator.ledger.total == 0
    # The camera is always accepted: the policy is about chosen files.
    assert create(client, capture_source="camera").status_code == 202


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "This site does not accept a chosen photo file."),
        ("zh-hans", "本网站不接受选择的照片文件"),
    ],
)
def test_the_refusal_speaks_the_request_language(
    face_settings: Callable[..., None], parked_publishes: str, language: str, expected: str
) -> None:
    face_settings(LIVENESS="require", CELERY_QUEUE=parked_publishes)
    client = client_for(plain_user("capture-language"))
    response = create(client, capture_source="file", headers={"Accept-Language": language})
    assert response.status_code == 400
    (message,) = [item["message"] for item in response.json()["error"]["fields"]["capture_source"]]
    assert expected in message


def test_staff_see_the_capture_source_beside_the_liveness_verdict(client: Any) -> None:
    assert create(client, capture_source="camera").status_code == 202
    attempt = VerificationAttempt.objects.get()
    staff, _ = staff_client_for("capture-staff", "view_verificationattempt")
    html = staff.get(
        f"/admin/face_idcard/verificationattempt/{attempt.pk}/change/",
        headers={"Accept-Language": "en"},
    ).content.decode()
    assert "Photo taken with" in html
    liveness_at = html.index('class="face-idcard-liveness"')
    assert html.index("Camera, in the page") > liveness_at
    # The audit trail's created event says it in words too.
    assert "photo taken with: Camera, in the page" in html


@pytest.mark.parametrize(
    ("language", "label"),
    [("en", "Camera app or photo picker"), ("zh-hans", "相机应用或照片选择器")],
)
def test_the_workbench_shows_the_capture_source_beside_the_liveness_verdict(
    face_settings: Callable[..., None], language: str, label: str
) -> None:
    from face_idcard.simulator import magic
    from tests.support.admin_helpers import ALL, finished

    attempt = finished(magic.REVIEW, capture_source="capture_input")
    staff, _ = staff_client_for(f"capture-bench-{language}", *ALL)
    html = staff.get(
        f"/admin/face_idcard/verificationattempt/{attempt.pk}/workbench/",
        headers={"Accept-Language": language},
    ).content.decode()
    liveness_at = html.index('class="fi-wb-liveness"')
    capture_at = html.index('data-capture-source="capture_input"')
    assert liveness_at < capture_at
    assert label in html[capture_at:]
