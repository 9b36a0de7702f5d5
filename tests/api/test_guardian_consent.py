"""``guardian_consent`` from an API client: refused unless the site says its clients attest it.

The client is usually the minor's own device, so the boolean it sends is no evidence that a
guardian consented. By default the API answers 400 (in the request's language) and stores
nothing; the host's own guardian flow passes the flag to ``services.submit`` instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from face_idcard.models import VerificationAttempt
from tests.support.api_helpers import client_for, create, field_codes, plain_user
from tests.support.idfactory import make_id

pytestmark = pytest.mark.django_db


def child_id() -> str:
    today = timezone.localdate()
    birthday = today.replace(year=today.year - 10) + timedelta(days=1)
    return make_id(birth=birthday.strftime("%Y%m%d"))


@pytest.mark.parametrize(("language", "text"), [("en", "guardian"), ("zh-hans", "监护人")])
def test_guardian_consent_from_a_client_is_refused_by_default(
    face_settings: Any, language: str, text: str
) -> None:
    client = client_for(plain_user("child"))
    response = create(
        client,
        headers={"Accept-Language": language},
        idcard_number=child_id(),
        guardian_consent="true",
    )
    assert response.status_code == 400, response.content
    assert field_codes(response)["guardian_consent"] == ["guardian_consent_not_accepted"]
    assert text in response.json()["error"]["fields"]["guardian_consent"][0]["message"]
    assert not VerificationAttempt.objects.exists()


def test_an_adult_sending_false_is_unaffected(face_settings: Any) -> None:
    response = create(client_for(plain_user("adult")), guardian_consent="false")
    assert response.status_code == 202, response.content


def test_a_site_that_attests_guardian_consent_in_its_client_may_allow_it(
    face_settings: Any,
) -> None:
    face_settings(API_ACCEPT_GUARDIAN_CONSENT=True)
    response = create(
        client_for(plain_user("guardian-app")), idcard_number=child_id(), guardian_consent="true"
    )
    assert response.status_code == 202, response.content
