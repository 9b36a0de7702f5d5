"""The REST API: who may do what, representation, errors, language, throttling."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from face_idcard import permissions, services
from face_idcard.models import VerificationAttempt
from face_idcard.simulator import magic
from tests.support.api_helpers import (
    BASE,
    NAME,
    client_for,
    create,
    error_code,
    field_codes,
    plain_user,
)
from tests.support.factories import finished_attempt, submit_attempt
from tests.support.users import user_with

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_cache() -> None:
    cache.clear()


def completed_attempt(owner: Any) -> VerificationAttempt:
    attempt = finished_attempt(user=owner)
    assert attempt.status == "completed"
    return attempt


# --- the authorization matrix ------------------------------------------------------------------

ROLES = ["anonymous", "owner", "other", "staff_without_perm", "reviewer"]


@pytest.fixture
def people(face_settings: Any) -> dict[str, Any]:
    return {
        "anonymous": None,
        "owner": plain_user("owner"),
        "other": plain_user("other"),
        "staff_without_perm": user_with("staff", is_staff=True),
        "reviewer": user_with("reviewer", permissions.REVIEW),
    }


#: (endpoint, expected status per role). The attempt belongs to "owner".
MATRIX = {
    "create": {
        "anonymous": 401,
        "owner": 202,
        "other": 202,
        "staff_without_perm": 202,
        "reviewer": 202,
    },
    "list": {
        "anonymous": 401,
        "owner": 200,
        "other": 200,
        "staff_without_perm": 200,
        "reviewer": 200,
    },
    "retrieve": {
        "anonymous": 401,
        "owner": 200,
        "other": 404,
        "staff_without_perm": 404,
        "reviewer": 200,
    },
    "cancel": {
        "anonymous": 401,
        "owner": 200,
        "other": 404,
        "staff_without_perm": 404,
        "reviewer": 200,
    },
    "review": {
        "anonymous": 401,
        "owner": 403,
        "other": 403,
        "staff_without_perm": 403,
        "reviewer": 200,
    },
    "put": {
        "anonymous": 401,
        "owner": 405,
        "other": 405,
        "staff_without_perm": 405,
        "reviewer": 405,
    },
    "delete": {
        "anonymous": 401,
        "owner": 405,
        "other": 405,
        "staff_without_perm": 405,
        "reviewer": 405,
    },
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_authorization_matrix(endpoint: str, role: str, people: dict[str, Any]) -> None:
    owner = people["owner"]
    attempt = (
        completed_attempt(owner)
        if endpoint == "review"
        else submit_attempt(user=owner, enqueue=False)
    )
    client = client_for(people[role])
    detail = f"{BASE}{attempt.pk}/"
    before = VerificationAttempt.objects.count()
    if endpoint == "create":
        response = create(client)
    elif endpoint == "list":
        response = client.get(BASE)
    elif endpoint == "retrieve":
        response = client.get(detail)
    elif endpoint == "cancel":
        response = client.post(f"{detail}cancel/")
    elif endpoint == "review":
        response = client.post(
            f"{detail}review/", {"decision": "no_match", "reason": "looked again"}, format="json"
        )
    elif endpoint == "put":
        response = client.put(detail, {}, format="json")
    else:
        response = client.delete(detail)
    expected = MATRIX[endpoint][role]
    assert response.status_code == expected, response.content
    body = response.json()
    if expected >= 400:
        assert set(body) == {"error"} and body["error"]["code"]
    attempt.refresh_from_db()
    if endpoint == "create":
        assert VerificationAttempt.objects.count() == before + (expected == 202)
    if endpoint == "list" and expected == 200:
        ids = {item["id"] for item in body["results"]}
        assert (str(attempt.pk) in ids) == (role == "owner")  # the list is one's own only
    if endpoint == "cancel":
        assert (attempt.status == "canceled") == (expected == 200)
    if endpoint == "review":
        assert bool(attempt.review_decision) == (expected == 200)


def test_anonymous_never_reaches_submit_even_with_allow_any(face_settings: Any) -> None:
    face_settings(API_PERMISSION_CLASSES=["rest_framework.permissions.AllowAny"])
    response = create(client_for(None))
    assert response.status_code == 401
    assert VerificationAttempt.objects.count() == 0


def test_permission_classes_are_replaceable(face_settings: Any) -> None:
    face_settings(API_PERMISSION_CLASSES=["rest_framework.permissions.IsAdminUser"])
    response = client_for(plain_user("someone")).get(BASE)
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"


# --- representation ----------------------------------------------------------------------------


def test_created_attempt_is_masked_and_located(face_settings: Any) -> None:
    owner = plain_user("owner")
    response = create(client_for(owner), external_reference="order-7")
    assert response.status_code == 202
    body = response.json()
    attempt = VerificationAttempt.objects.get()
    assert response["Location"] == f"http://testserver{BASE}{attempt.pk}/"
    assert client_for(owner).get(response["Location"]).json()["id"] == str(attempt.pk)
    assert body["idcard_number"] == "1101**********0014"
    assert body["idcard_name"] == "张*"
    assert magic.MATCH not in response.content.decode()
    assert NAME not in response.content.decode()
    assert "raw_response" not in body
    assert body["status"] == "queued" and body["external_reference"] == "order-7"
    # The consent time is the server's.
    assert abs((attempt.consent_at - timezone.now()).total_seconds()) < 30


def test_similarity_only_for_reviewers_or_by_setting(face_settings: Any) -> None:
    owner = plain_user("owner")
    attempt = completed_attempt(owner)
    own = client_for(owner).get(f"{BASE}{attempt.pk}/").json()
    assert own["similarity"] is None
    assert own["reason"] == "match" and own["message"]
    seen = client_for(user_with("reviewer", permissions.REVIEW)).get(f"{BASE}{attempt.pk}/")
    assert seen.json()["similarity"] == attempt.similarity is not None
    face_settings(API_EXPOSE_SIMILARITY=True)
    assert client_for(owner).get(f"{BASE}{attempt.pk}/").json()["similarity"] == attempt.similarity


def test_reason_message_follows_accept_language(face_settings: Any) -> None:
    owner = plain_user("owner")
    attempt = completed_attempt(owner)
    url = f"{BASE}{attempt.pk}/"
    english = client_for(owner).get(url, HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    chinese = client_for(owner).get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["message"]
    assert english == "Your identity has been verified."
    assert chinese != english and any("\u4e00" <= ch <= "\u9fff" for ch in chinese)


def test_error_messages_in_both_languages(face_settings: Any) -> None:
    client = client_for(plain_user("owner"))
    wrong = "110101190001010015"
    en = create(client, headers={"Accept-Language": "en"}, idcard_number=wrong)
    zh = create(client, headers={"Accept-Language": "zh-hans"}, idcard_number=wrong)
    assert en.status_code == zh.status_code == 400
    en_message = en.json()["error"]["fields"]["idcard_number"][0]["message"]
    zh_message = zh.json()["error"]["fields"]["idcard_number"][0]["message"]
    assert en_message != zh_message and any("\u4e00" <= ch <= "\u9fff" for ch in zh_message)


def test_list_filters_and_cursor_pagination(face_settings: Any) -> None:
    owner = plain_user("owner")
    made = [submit_attempt(user=owner, enqueue=False) for _ in range(3)]
    services.cancel(made[0], actor=owner)
    VerificationAttempt.objects.filter(pk=made[1].pk).update(external_reference="ref-1")
    client = client_for(owner)
    assert [a["id"] for a in client.get(BASE, {"status": "canceled"}).json()["results"]] == [
        str(made[0].pk)
    ]
    refs = client.get(BASE, {"external_reference": "ref-1"}).json()["results"]
    assert [a["id"] for a in refs] == [str(made[1].pk)]
    assert client.get(BASE, {"decision": "match"}).json()["results"] == []
    first = client.get(BASE, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    seen = [a["id"] for a in first["results"] + second["results"]]
    assert sorted(seen) == sorted(str(a.pk) for a in made)
    bad = client.get(BASE, {"status": "nonsense"})
    assert bad.status_code == 400 and "status" in field_codes(bad)
    assert client.get(BASE, {"cursor": "garbage"}).status_code == 404


def test_cancel_twice_is_a_conflict(face_settings: Any) -> None:
    owner = plain_user("owner")
    attempt = submit_attempt(user=owner, enqueue=False)
    client = client_for(owner)
    assert client.post(f"{BASE}{attempt.pk}/cancel/").status_code == 200
    again = client.post(f"{BASE}{attempt.pk}/cancel/")
    assert again.status_code == 409 and error_code(again) == "not_cancelable"


def test_review_validation_and_conflicts(face_settings: Any) -> None:
    reviewer = user_with("reviewer", permissions.REVIEW)
    attempt = completed_attempt(plain_user("owner"))
    client = client_for(reviewer)
    url = f"{BASE}{attempt.pk}/review/"
    bad = client.post(url, {"decision": "maybe", "reason": "x"}, format="json")
    assert bad.status_code == 400 and "decision" in field_codes(bad)
    blank = client.post(url, {"decision": "match", "reason": "   "}, format="json")
    assert blank.status_code == 400
    assert client.post(url, {"decision": "match", "reason": "ok"}, format="json").status_code == 200
    again = client.post(url, {"decision": "match", "reason": "ok"}, format="json")
    assert again.status_code == 409 and error_code(again) == "not_reviewable"
    queued = submit_attempt(user=plain_user("owner"), enqueue=False)
    early = client.post(
        f"{BASE}{queued.pk}/review/", {"decision": "match", "reason": "ok"}, format="json"
    )
    assert early.status_code == 409


def test_unknown_ids_are_404_in_our_body(face_settings: Any) -> None:
    client = client_for(plain_user("owner"))
    for ident in ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00"]:
        response = client.get(f"{BASE}{ident}/")
        assert response.status_code == 404 and error_code(response) == "not_found"


# --- throttling and the daily limits --------------------------------------------------------------


def test_creation_throttle_answers_429_with_retry_after(face_settings: Any) -> None:
    face_settings(API_CREATE_THROTTLE_RATE="2/min")
    client = client_for(plain_user("owner"))
    assert create(client).status_code == 202
    assert create(client).status_code == 202
    third = create(client)
    assert third.status_code == 429 and error_code(third) == "throttled"
    assert int(third["Retry-After"]) > 0
    assert client.get(BASE).status_code == 200  # reading is not throttled
    assert VerificationAttempt.objects.count() == 2


def test_daily_limit_is_429_without_revealing_anything(face_settings: Any) -> None:
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=1, API_CREATE_THROTTLE_RATE=None)
    assert create(client_for(plain_user("a"))).status_code == 202
    over = create(client_for(plain_user("a")))  # the limit is per ID number and account
    assert over.status_code == 429 and error_code(over) == "attempt_limit"
    assert over["Retry-After"] == "86400"
    # The same answer for a user over their own limit with a number never seen.
    face_settings(
        MAX_ATTEMPTS_PER_ID_PER_DAY=100,
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=1,
        API_CREATE_THROTTLE_RATE=None,
    )
    user_over = create(client_for(plain_user("a")), idcard_number=magic.NO_MATCH)
    assert user_over.status_code == 429
    assert user_over.json() == over.json()
    assert VerificationAttempt.objects.count() == 1
