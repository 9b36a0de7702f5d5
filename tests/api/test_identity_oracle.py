"""The API is not an identity oracle (issue 28, item 6).

An end user is told what was decided, no more: a name that does not go with the number, a
number not found and a photo not alike read the same (one reason, ``identity_not_confirmed``,
and one message, in both languages), so an account cannot learn which names and numbers
belong together. Staff (``face_idcard.review`` or ``view_pii``) see the detail, as does
everyone where the site sets ``SHOW_IDENTITY_REASONS_TO_USERS``. And an account that tries
more than ``MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY`` numbers is refused (429), not only flagged.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from face_idcard._reasons import IDENTITY_REASONS, MESSAGES, NOT_CONFIRMED_REASON
from face_idcard.models import AttemptEvent, VerificationAttempt
from face_idcard.outcome import Reason
from face_idcard.simulator import magic
from face_idcard.states import Decision, ReviewDecision, Status
from tests.support.api_helpers import BASE, client_for, create, error_code, plain_user
from tests.support.factories import finished_attempt, make_attempt
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

NOT_CONFIRMED_EN = (
    "Your identity could not be confirmed. Check your name and ID number and try again."
)
NOT_CONFIRMED_ZH = "无法确认您的身份。请核对您的姓名和身份证号码后重试。"


def shown(client: Any, attempt: VerificationAttempt, language: str = "en") -> dict[str, Any]:
    response = client.get(f"{BASE}{attempt.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def ended(owner: Any, status: str, reason: str, decision: str = "none", **extra: Any) -> Any:
    return make_attempt(
        user=owner,
        status=status,
        decision=decision,
        reason=reason,
        finished_at=timezone.now(),
        **extra,
    )


@pytest.mark.parametrize(
    ("number", "status", "reason"),
    [
        (magic.NAME_MISMATCH, Status.REJECTED.value, Reason.NAME_MISMATCH.value),
        (magic.NO_MATCH, Status.COMPLETED.value, Reason.LOW_SIMILARITY.value),
    ],
)
def test_an_end_user_is_told_one_outcome_through_the_simulator(
    face_settings: Any, number: str, status: str, reason: str
) -> None:
    owner = plain_user("guesser")
    attempt = finished_attempt(number, user=owner)
    assert (attempt.status, attempt.reason) == (status, reason)
    client = client_for(owner)
    english = shown(client, attempt)
    assert (english["status"], english["decision"]) == ("completed", "no_match")
    assert english["reason"] == NOT_CONFIRMED_REASON
    assert english["message"] == NOT_CONFIRMED_EN
    assert shown(client, attempt, "zh-hans")["message"] == NOT_CONFIRMED_ZH
    # The list says the same.
    listed = client.get(BASE, HTTP_ACCEPT_LANGUAGE="en").json()["results"][0]
    assert (listed["reason"], listed["message"]) == (NOT_CONFIRMED_REASON, NOT_CONFIRMED_EN)


def test_every_identity_outcome_reads_the_same_to_an_end_user(face_settings: Any) -> None:
    owner = plain_user("guesser")
    client = client_for(owner)
    outcomes = [
        ended(owner, Status.REJECTED.value, reason.value) for reason in sorted(IDENTITY_REASONS)
    ]
    outcomes += [
        ended(owner, Status.FAILED.value, Reason.ID_NOT_FOUND.value),
        # FaceID's answer below its threshold reads "match": the decision says no match.
        ended(owner, Status.COMPLETED.value, Reason.MATCH.value, Decision.NO_MATCH.value),
        ended(owner, Status.COMPLETED.value, Reason.LOW_SIMILARITY.value, Decision.NO_MATCH.value),
    ]
    for language in ("en", "zh-hans"):
        seen = {
            (body["status"], body["decision"], body["reason"], body["message"])
            for body in (shown(client, attempt, language) for attempt in outcomes)
        }
        assert len(seen) == 1, seen
    # Read as a comparison that did not confirm the identity, whatever the provider did.
    assert {
        (body["status"], body["decision"], body["message"])
        for body in (shown(client, attempt) for attempt in outcomes)
    } == {(Status.COMPLETED.value, Decision.NO_MATCH.value, NOT_CONFIRMED_EN)}


def test_the_list_filters_select_what_is_shown(face_settings: Any) -> None:
    owner = plain_user("filterer")
    refused = ended(owner, Status.REJECTED.value, Reason.NAME_MISMATCH.value)
    compared = ended(owner, Status.COMPLETED.value, "", Decision.NO_MATCH.value)
    no_face = ended(owner, Status.REJECTED.value, Reason.NO_FACE.value)

    def listed(client: Any, query: str) -> set[str]:
        response = client.get(f"{BASE}?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    client = client_for(owner)
    ids = {one: str(one.pk) for one in (refused, compared, no_face)}
    assert listed(client, "status=rejected") == {ids[no_face]}
    assert listed(client, "status=completed") == {ids[refused], ids[compared]}
    assert listed(client, "decision=no_match") == {ids[refused], ids[compared]}
    assert listed(client, "decision=none") == {ids[no_face]}
    # Staff listing their own see the stored values.
    staff = user_with("filtering-staff", "view_pii")
    VerificationAttempt.objects.update(user=staff)
    staff_client = client_for(staff)
    assert listed(staff_client, "status=rejected") == {ids[refused], ids[no_face]}
    assert listed(staff_client, "decision=no_match") == {ids[compared]}


def test_other_outcomes_keep_their_reason_and_message(face_settings: Any) -> None:
    owner = plain_user("person")
    client = client_for(owner)
    no_face = ended(owner, Status.REJECTED.value, Reason.NO_FACE.value)
    body = shown(client, no_face)
    assert body["reason"] == Reason.NO_FACE.value
    assert body["message"] == str(MESSAGES[Reason.NO_FACE])
    verified = ended(owner, Status.COMPLETED.value, Reason.MATCH.value, Decision.MATCH.value)
    assert shown(client, verified)["reason"] == Reason.MATCH.value


def test_a_decision_beside_an_identity_reason_is_shown_without_the_reason(
    face_settings: Any,
) -> None:
    """The legacy backend's close call reads "low similarity": being reviewed, then the
    reviewer's decision, say all there is; the reason is not shown beside them."""
    owner = plain_user("close-call")
    client = client_for(owner)
    band = ended(owner, Status.COMPLETED.value, Reason.LOW_SIMILARITY.value, Decision.REVIEW.value)
    body = shown(client, band)
    assert body["reason"] is None and body["decision"] == Decision.REVIEW.value
    VerificationAttempt.objects.filter(pk=band.pk).update(
        review_decision=ReviewDecision.MATCH.value, reviewed_at=timezone.now()
    )
    body = shown(client, band)
    assert body["reason"] is None
    assert body["message"] == "Your identity has been verified."


@pytest.mark.parametrize("codename", ["review", "view_pii"])
def test_staff_see_the_detail(face_settings: Any, codename: str) -> None:
    staff = user_with(f"staff-{codename}", codename)
    attempt = finished_attempt(magic.NAME_MISMATCH, user=staff)
    body = shown(client_for(staff), attempt)
    assert (body["status"], body["decision"]) == (Status.REJECTED.value, Decision.NONE.value)
    assert body["reason"] == Reason.NAME_MISMATCH.value
    assert body["message"] == str(MESSAGES[Reason.NAME_MISMATCH])


def test_a_reviewer_sees_the_detail_of_someone_elses_attempt(face_settings: Any) -> None:
    owner = plain_user("owner")
    attempt = finished_attempt(magic.NAME_MISMATCH, user=owner)
    reviewer = user_with("reviewer", "review")
    assert shown(client_for(reviewer), attempt)["reason"] == Reason.NAME_MISMATCH.value
    assert shown(client_for(owner), attempt)["reason"] == NOT_CONFIRMED_REASON


def test_a_site_may_show_the_detail_to_everyone(face_settings: Any) -> None:
    face_settings(SHOW_IDENTITY_REASONS_TO_USERS=True)
    owner = plain_user("owner")
    attempt = finished_attempt(magic.NAME_MISMATCH, user=owner)
    body = shown(client_for(owner), attempt)
    assert body["reason"] == Reason.NAME_MISMATCH.value
    assert body["message"] == str(MESSAGES[Reason.NAME_MISMATCH])


def test_the_schema_lists_the_collapsed_reason() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    reasons = {
        value
        for component in components.values()
        for value in component.get("enum", [])
        if isinstance(value, str)
    }
    assert NOT_CONFIRMED_REASON in reasons
    assert Reason.NAME_MISMATCH.value in reasons


# --- Distinct numbers per account: enforced ----------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text"), [("en", "Too many verification attempts"), ("zh-hans", "核验")]
)
def test_an_account_trying_many_numbers_is_refused_with_429(
    face_settings: Any, language: str, text: str
) -> None:
    face_settings(MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=2, API_CREATE_THROTTLE_RATE=None)
    client = client_for(plain_user("prober"))
    assert create(client, idcard_number=magic.MATCH).status_code == 202
    assert create(client, idcard_number=magic.NO_MATCH).status_code == 202
    refused = create(client, idcard_number=magic.REVIEW, headers={"Accept-Language": language})
    assert refused.status_code == 429, refused.content
    assert error_code(refused) == "attempt_limit"
    assert text in refused.json()["error"]["message"]
    assert refused["Retry-After"] == "86400"
    # Nothing stored for the refused one, nothing to bill; a number already tried still goes.
    assert VerificationAttempt.objects.count() == 2
    assert AttemptEvent.objects.count() == 4
    assert create(client, idcard_number=magic.MATCH).status_code == 202


def test_the_accounts_ceiling_answers_the_same_429(face_settings: Any) -> None:
    face_settings(MAX_ACCOUNTS_PER_ID_PER_DAY=1, API_CREATE_THROTTLE_RATE=None)
    assert create(client_for(plain_user("first"))).status_code == 202
    refused = create(client_for(plain_user("second")))
    face_settings(MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=1, API_CREATE_THROTTLE_RATE=None)
    other_limit = create(client_for(plain_user("first")), idcard_number=magic.NO_MATCH)
    assert refused.status_code == other_limit.status_code == 429
    assert refused.json() == other_limit.json()
    assert VerificationAttempt.objects.count() == 1


@pytest.mark.parametrize("headers", [None, {"Idempotency-Key": "probe-1"}])
def test_the_accounts_ceiling_is_recorded_through_the_api(
    face_settings: Any, headers: dict[str, str] | None
) -> None:
    """Also on the ``Idempotency-Key`` path, whose transaction rolls back with the refusal."""
    from face_idcard.models import LimitEvent, LimitEventKind

    face_settings(MAX_ACCOUNTS_PER_ID_PER_DAY=1, API_CREATE_THROTTLE_RATE=None)
    assert create(client_for(plain_user("first"))).status_code == 202
    prober = plain_user("prober")
    refused = create(client_for(prober), headers=headers)
    assert refused.status_code == 429, refused.content
    event = LimitEvent.objects.get()
    assert event.kind == LimitEventKind.ACCOUNTS_PER_ID_REACHED.value
    assert event.user_id == prober.pk
