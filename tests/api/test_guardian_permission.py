"""``guardian_consent`` through the API from a user holding
``face_idcard.attest_guardian_consent`` (issue 28, item 11): the site ran its own guardian
flow first (a support desk, a guardian's account); the boolean is that user's word, recorded
with their id on the attempt's ``created`` event. Everyone else is refused as before, unless
the site sets ``API_ACCEPT_GUARDIAN_CONSENT``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from face_idcard import permissions
from face_idcard.models import AttemptEvent, EventKind, VerificationAttempt
from tests.support.api_helpers import client_for, create, field_codes
from tests.support.idfactory import make_id
from tests.support.users import user_with

pytestmark = pytest.mark.django_db


def child_id() -> str:
    today = timezone.localdate()
    birthday = today.replace(year=today.year - 10) + timedelta(days=1)
    return make_id(birth=birthday.strftime("%Y%m%d"))


def test_the_permission_is_declared_on_the_model() -> None:
    declared = dict(VerificationAttempt._meta.permissions)
    assert permissions.ATTEST_GUARDIAN_CONSENT in declared
    assert permissions.ATTEST_GUARDIAN_CONSENT == "attest_guardian_consent"


def test_a_holder_of_the_permission_may_state_guardian_consent(face_settings: Any) -> None:
    desk = user_with("guardian-desk", "attest_guardian_consent", is_staff=False)
    response = create(client_for(desk), idcard_number=child_id(), guardian_consent="true")
    assert response.status_code == 202, response.content
    created = AttemptEvent.objects.get(kind=EventKind.CREATED)
    assert created.data["guardian_consent"] is True
    assert created.actor_id == desk.pk


@pytest.mark.parametrize("codenames", [(), ("review", "view_pii", "rerun", "redact")])
def test_without_the_permission_it_is_refused(face_settings: Any, codenames: tuple[str]) -> None:
    other = user_with("someone", *codenames, is_staff=False)
    response = create(client_for(other), idcard_number=child_id(), guardian_consent="true")
    assert response.status_code == 400, response.content
    assert field_codes(response)["guardian_consent"] == ["guardian_consent_not_accepted"]
    assert not VerificationAttempt.objects.exists()
