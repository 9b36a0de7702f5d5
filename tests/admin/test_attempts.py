"""The admin review console: list, queue, search, detail page, audited PII views, actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from face_idcard import crypto
from face_idcard.exceptions import AttemptLimitExceeded, PersonalInformationUnavailable
from face_idcard.models import AttemptEvent, EventKind, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.services._common import load_selfie
from face_idcard.services._operations import pending_review
from face_idcard.signals import attempt_reviewed
from face_idcard.simulator import magic
from face_idcard.states import Decision, Status
from tests.support.admin_helpers import (
    ALL,
    CHANGELIST,
    ID_SEARCH,
    NAME,
    QUEUE,
    action,
    change_url,
    client_for,
    finished,
)

pytestmark = pytest.mark.django_db


# --- The changelist ------------------------------------------------------------------------


def test_changelist_shows_masks_badges_reasons_and_review_state(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    client, _ = client_for("lister", "view_verificationattempt", "view_pii")
    html = client.get(CHANGELIST).content.decode()
    assert attempt.idcard_number_masked in html and attempt.idcard_name_masked in html
    assert magic.REVIEW not in html and NAME not in html
    assert 'data-decision="review"' in html
    assert "Needs review" in html
    assert "/search-id-number/" in html
    view_only, _ = client_for("view-only-lister", "view_verificationattempt")
    assert "/search-id-number/" not in view_only.get(CHANGELIST).content.decode()


def test_changelist_filters_answer(face_settings: Any) -> None:
    finished(magic.REVIEW)
    client, _ = client_for("filterer", "view_verificationattempt")
    for query in (
        "status__exact=completed",
        "decision__exact=review",
        "review_state=needed",
        "review_state=second",
        "review_state=done",
        "review_state=none",
        "backend=simulator",
        "reason__exact=low_similarity",
        "legal_hold__exact=0",
        f"created_at__year={timezone.now().year}",
    ):
        assert client.get(f"{CHANGELIST}?{query}").status_code == 200, query


def _rows(count: int) -> None:
    users = [get_user_model().objects.get_or_create(username=f"person-{i}")[0] for i in range(5)]
    now = timezone.now()
    VerificationAttempt.objects.bulk_create(
        [
            VerificationAttempt(
                user=users[i % 5],
                backend="simulator",
                idcard_number_masked="1101**********0014",
                idcard_name_masked="张*",
                consent_at=now,
                status=Status.COMPLETED.value,
                decision=Decision.REVIEW.value,
                reason="low_similarity",
                similarity=74.0,
            )
            for i in range(count)
        ]
    )


def _changelist_queries(url: str) -> list[str]:
    client, _ = client_for("counter", "view_verificationattempt")
    client.get(url)  # warm the session and permission caches alike for both runs
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize("url", [CHANGELIST, QUEUE])
def test_changelist_query_count_does_not_grow_with_rows(url: str) -> None:
    _rows(50)
    small = _changelist_queries(url)
    _rows(450)
    large = _changelist_queries(url)
    assert len(small) == len(large)
    # No full COUNT(*) of the table on a page view: every count is bounded.
    counts = [sql for sql in large if "COUNT(" in sql.upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts)


def test_search_by_identifiers_that_are_not_pii(face_settings: Any) -> None:
    owner = get_user_model().objects.create(username="searched-person")
    attempt = finished(magic.MATCH, external_reference="onboarding-7", user=owner)
    other = finished(magic.MATCH, external_reference="other")
    client, _ = client_for("searcher", "view_verificationattempt")
    for term in (
        str(attempt.pk),
        "onboarding-7",
        attempt.provider_session_id,
        attempt.provider_request_id or attempt.provider_session_id,
        "searched-person",
    ):
        assert term
        html = client.get(CHANGELIST, {"q": term}).content.decode()
        assert change_url(attempt) in html, term
        assert change_url(other) not in html, term


def test_an_id_number_in_the_address_matches_nothing_and_is_not_echoed(
    face_settings: Any,
) -> None:
    attempt = finished(magic.MATCH, external_reference=magic.MATCH)  # even a careless host's
    client, _ = client_for("q-searcher", "view_verificationattempt")
    response = client.get(CHANGELIST, {"q": magic.MATCH})
    assert response.status_code == 302 and magic.MATCH not in response["Location"]
    page = client.get(response["Location"]).content.decode()
    assert magic.MATCH not in page and change_url(attempt) not in page
    from django.contrib import admin

    model_admin = admin.site._registry[VerificationAttempt]
    found, _ = model_admin.get_search_results(None, VerificationAttempt.objects.all(), magic.MATCH)  # type: ignore[arg-type]
    assert not found.exists()


# --- Search by ID number (POST, keyed hashes) ------------------------------------------------


def test_id_number_search_posts_and_matches_under_every_live_key(
    face_settings: Any, settings: Any, caplog: Any
) -> None:
    old = finished(magic.MATCH)
    # A new hash key first: the old attempt's hash is under the second live key now.
    face_settings(PII_HASH_KEYS=["a-newer-hash-key", *settings.FACE_IDCARD["PII_HASH_KEYS"]])
    new = finished(magic.MATCH)
    assert old.idcard_hash != new.idcard_hash
    unrelated = finished(magic.NO_MATCH)
    client, _ = client_for("id-searcher", "view_verificationattempt", "view_pii")
    assert client.get(ID_SEARCH).status_code == 200
    with caplog.at_level("DEBUG"):
        response = client.post(ID_SEARCH, {"idcard_number": magic.MATCH.lower()})
    html = response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert change_url(old) in html and change_url(new) in html
    assert change_url(unrelated) not in html
    assert magic.MATCH not in html and magic.MATCH.lower() not in html
    assert magic.MATCH not in caplog.text


def test_id_number_search_refuses_a_bad_number_without_echoing_it(face_settings: Any) -> None:
    client, _ = client_for("bad-searcher", "view_verificationattempt", "view_pii")
    bad = "110101190001010015"  # wrong check digit
    html = client.post(ID_SEARCH, {"idcard_number": bad}).content.decode()
    assert "errorlist" in html and bad not in html


def test_id_number_search_needs_the_view_permission(face_settings: Any) -> None:
    client, _ = client_for("no-view")
    assert client.get(ID_SEARCH).status_code == 403
    assert client.post(ID_SEARCH, {"idcard_number": magic.MATCH}).status_code == 403


# --- The queue -------------------------------------------------------------------------------


def test_queue_lists_review_band_oldest_first_with_age(face_settings: Any) -> None:
    first = finished(magic.REVIEW)
    second = finished(magic.REVIEW)
    matched = finished(magic.MATCH)
    VerificationAttempt.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timezone.timedelta(hours=3)
    )
    client, _reviewer = client_for("queue-reviewer", *ALL)
    html = client.get(QUEUE).content.decode()
    assert html.index(str(first.pk)) < html.index(str(second.pk))
    assert str(matched.pk) not in html
    assert "3\xa0hours" in html  # the age column
    action(client, "approve", first, confirm="yes", reason="looks like the ID photo")
    assert str(first.pk) not in client.get(QUEUE).content.decode()


# --- The detail page ------------------------------------------------------------------------


def test_detail_page_escapes_provider_data_drops_pii_keys_and_shows_the_timeline(
    face_settings: Any,
) -> None:
    attempt = finished(magic.REVIEW)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        raw_response={"Result": "0", "Description": "<script>alert(1)</script>", "IdCard": "x"}
    )
    client, _ = client_for("detail-viewer", "view_verificationattempt")
    html = client.get(change_url(attempt)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '"IdCard"' not in html
    assert 'data-kind="created"' in html and 'data-kind="decided"' in html
    assert attempt.idcard_number_masked in html
    assert magic.REVIEW not in html and NAME not in html
    # No PII permission: no button for it, nothing written to the audit trail.
    assert "face-idcard-reveal" not in html
    assert not attempt.events.filter(kind=EventKind.PII_VIEWED.value).exists()


def test_history_page_masks_too(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    client, _ = client_for("history-viewer", *ALL)
    html = client.get(f"{CHANGELIST}{attempt.pk}/history/").content.decode()
    assert magic.REVIEW not in html and NAME not in html


def test_reveal_needs_view_pii_reads_on_post_only_and_is_audited(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    url = f"{CHANGELIST}{attempt.pk}/reveal/"
    staff, _ = client_for("reveal-staff", "view_verificationattempt")
    assert staff.post(url).status_code == 403
    anonymous = client_for("reveal-anon")[0]
    anonymous.logout()
    assert anonymous.post(url).status_code == 302  # to the login page
    viewer, user = client_for("reveal-viewer", "view_verificationattempt", "view_pii")
    offered = viewer.get(url).content.decode()  # a form, not the information
    assert magic.REVIEW not in offered and NAME not in offered
    assert not attempt.events.filter(kind=EventKind.PII_VIEWED.value).exists()
    assert "face-idcard-reveal" in viewer.get(change_url(attempt)).content.decode()
    response = viewer.post(url)
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert magic.REVIEW in html and NAME in html and "/verificationattempt/selfie/" in html
    events = attempt.events.filter(kind=EventKind.PII_VIEWED.value).order_by("id")
    assert [(event.actor_id, event.data) for event in events] == [
        (user.pk, {}),
        (user.pk, {"what": "selfie"}),
    ]


def test_the_selfie_link_needs_a_logged_in_staff_member_with_view_pii(
    face_settings: Any,
) -> None:
    attempt = finished(magic.REVIEW)
    viewer, _ = client_for("selfie-viewer", "view_verificationattempt", "view_pii")
    page = viewer.post(f"{CHANGELIST}{attempt.pk}/reveal/").content.decode()
    link = page.split('class="face-idcard-selfie" src="', 1)[1].split('"', 1)[0]
    assert viewer.get(link).status_code == 200
    anonymous = client_for("selfie-anon")[0]
    anonymous.logout()
    assert anonymous.get(link).status_code == 302
    not_staff, _ = client_for("selfie-customer", "view_pii")
    get_user_model().objects.filter(username="selfie-customer").update(is_staff=False)
    assert not_staff.get(link).status_code == 302
    staff, _ = client_for("selfie-staff", "view_verificationattempt", "review")
    assert staff.get(link).status_code == 403


# --- Actions ----------------------------------------------------------------------------------


def test_approve_shows_a_confirmation_needs_a_reason_and_fires_the_signal(
    face_settings: Any,
) -> None:
    attempt = finished(magic.REVIEW)
    client, reviewer = client_for("approver", *ALL)
    page = action(client, "approve", attempt)
    assert page.status_code == 200 and "recorded with your name" in page.content.decode()
    attempt.refresh_from_db()
    assert attempt.reviewed_at is None
    assert (
        "errorlist"
        in action(client, "approve", attempt, confirm="yes", reason="  ").content.decode()
    )
    received: list[Any] = []

    def receiver(sender: Any, attempt: Any, reviewer: Any, **kwargs: Any) -> None:
        received.append((attempt.pk, reviewer.pk))

    attempt_reviewed.connect(receiver)
    try:
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            done = action(client, "approve", attempt, confirm="yes", reason="same person")
    finally:
        attempt_reviewed.disconnect(receiver)
    assert done.status_code == 302
    attempt.refresh_from_db()
    assert attempt.review_decision == "match" and attempt.reviewer_id == reviewer.pk
    assert attempt.review_reason == "same person" and attempt.reviewed_at is not None
    assert received == [(attempt.pk, reviewer.pk)]


def test_reject_records_no_match(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    client, _ = client_for("rejecter", *ALL)
    action(client, "reject", attempt, confirm="yes", reason="different person")
    attempt.refresh_from_db()
    assert attempt.review_decision == "no_match"


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("approve", "review"),
        ("reject", "review"),
        ("rerun", "rerun"),
        ("redact", "redact"),
        ("place_legal_hold", "redact"),
        ("lift_legal_hold", "redact"),
    ],
)
def test_every_action_needs_its_permission(face_settings: Any, name: str, missing: str) -> None:
    attempt = finished(magic.REVIEW)
    if name == "lift_legal_hold":
        from face_idcard import services

        services.set_legal_hold(attempt, hold=True)
    before = list(attempt.events.values_list("kind", flat=True))
    codenames = [c for c in ALL if c != missing]
    client, _ = client_for(f"no-{missing}-{name}", *codenames)
    # Not offered on the detail page, and a forged POST does nothing.
    assert f'data-action="{name}"' not in client.get(change_url(attempt)).content.decode()
    action(client, name, attempt, confirm="yes", reason="forged")
    assert list(attempt.events.values_list("kind", flat=True)) == before
    assert VerificationAttempt.objects.filter(rerun_of=attempt).count() == 0
    # With it, the action is offered.
    allowed, _ = client_for(f"with-{missing}-{name}", *ALL)
    assert f'data-action="{name}"' in allowed.get(change_url(attempt)).content.decode()


def test_bulk_actions_check_the_permission_for_each_attempt(face_settings: Any) -> None:
    from django.contrib import admin
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.test import RequestFactory

    attempts = [finished(magic.REVIEW), finished(magic.REVIEW)]
    _, user = client_for("bulk-no-perm", "view_verificationattempt")
    request = RequestFactory().post(CHANGELIST, {"confirm": "yes", "reason": "bulk"})
    request.user = user
    request.session = {}  # type: ignore[assignment]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    model_admin = admin.site._registry[VerificationAttempt]
    queryset = VerificationAttempt.objects.filter(pk__in=[a.pk for a in attempts])
    from face_idcard.admin import actions

    actions.approve(model_admin, request, queryset)
    texts = [str(m) for m in get_messages(request)]
    assert len(texts) == 2 and all("permission" in text for text in texts)
    assert not VerificationAttempt.objects.filter(reviewed_at__isnull=False).exists()


def test_bulk_approve_skips_what_cannot_be_reviewed_and_does_the_rest(face_settings: Any) -> None:
    reviewable = finished(magic.REVIEW)
    failed = finished(magic.NAME_MISMATCH)
    assert failed.status != Status.COMPLETED
    client, _ = client_for("bulk-approver", *ALL)
    response = action(client, "approve", reviewable, failed, confirm="yes", reason="ok")
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(str(failed.pk) in text for text in texts)
    assert any("Attempts approved: 1" in text for text in texts)
    reviewable.refresh_from_db()
    assert reviewable.reviewed_at is not None


def test_rerun_creates_a_linked_attempt_on_the_default_backend(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    client, user = client_for("rerunner", *ALL)
    page = action(client, "rerun", attempt).content.decode()
    assert "billed" in page
    action(client, "rerun", attempt, confirm="yes")
    new = VerificationAttempt.objects.get(rerun_of=attempt)
    assert new.status == Status.QUEUED and new.backend == "default"
    assert new.idcard_hash == attempt.idcard_hash and new.selfie_name != attempt.selfie_name
    assert (
        crypto.decrypt_text(new.idcard_number_encrypted, attempt_id=new.pk, field=crypto.NUMBER)
        == magic.REVIEW
    )
    # Copied and bound to the new attempt.
    assert load_selfie(new.selfie_name, new.selfie_storage, new.pk) == load_selfie(
        attempt.selfie_name, attempt.selfie_storage, attempt.pk
    )
    rerun_event = attempt.events.get(kind=EventKind.RERUN.value)
    assert rerun_event.actor_id == user.pk and rerun_event.data["new_attempt"] == str(new.pk)
    assert rerun_event.data["billed"] is True
    created = new.events.get(kind=EventKind.CREATED.value)
    assert created.data["rerun_of"] == str(attempt.pk)

    pipeline.run(new.pk)
    new.refresh_from_db()
    assert new.status == Status.COMPLETED and new.decision == Decision.REVIEW


def test_reruns_do_not_count_toward_the_daily_limits(face_settings: Any) -> None:
    from face_idcard import services

    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=2)
    attempt = finished(magic.REVIEW)
    for _ in range(3):
        services.rerun(attempt, actor=None, enqueue=False)
    finished(magic.REVIEW)  # the person's second attempt of the day is still allowed
    with pytest.raises(AttemptLimitExceeded):
        finished(magic.REVIEW)


def test_rerun_is_refused_once_the_selfie_or_pii_is_purged(face_settings: Any) -> None:
    from face_idcard import services

    attempt = finished(magic.REVIEW)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(selfie_purged_at=timezone.now())
    attempt.refresh_from_db()
    with pytest.raises(PersonalInformationUnavailable):
        services.rerun(attempt)
    client, _ = client_for("purged-rerunner", *ALL)
    response = action(client, "rerun", attempt, confirm="yes")
    assert any("erased" in str(m) for m in get_messages(response.wsgi_request))
    assert not VerificationAttempt.objects.filter(rerun_of=attempt).exists()
    redacted = finished(magic.REVIEW)
    services.redact(redacted)
    with pytest.raises(PersonalInformationUnavailable):
        services.rerun(redacted)


def test_redact_and_legal_hold_actions(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    client, user = client_for("dpo", *ALL)
    assert "cannot be undone" in action(client, "redact", attempt).content.decode()
    action(client, "place_legal_hold", attempt, confirm="yes", reason="court order 12")
    attempt.refresh_from_db()
    assert attempt.legal_hold
    response = action(client, "redact", attempt, confirm="yes")
    assert any("legal hold" in str(m) for m in get_messages(response.wsgi_request))
    action(client, "lift_legal_hold", attempt, confirm="yes")
    action(client, "redact", attempt, confirm="yes")
    attempt.refresh_from_db()
    assert not attempt.legal_hold and attempt.redacted_at is not None and not attempt.has_pii
    kinds = list(attempt.events.filter(actor=user).values_list("kind", flat=True))
    assert kinds == ["legal_hold_set", "legal_hold_released", "redacted"]


# --- A second reviewer before a machine "no match" is overturned ----------------------------


def test_overturning_a_no_match_needs_a_second_reviewer(face_settings: Any) -> None:
    """The default (REVIEW_OVERTURN_NEEDS_SECOND_REVIEWER is True unless a site says no)."""
    from django.core.exceptions import ValidationError

    from face_idcard import services

    attempt = finished(magic.NO_MATCH)
    assert attempt.decision == Decision.NO_MATCH
    first_client, first = client_for("first-reviewer", *ALL)
    action(first_client, "approve", attempt, confirm="yes", reason="same person, bad light")
    attempt.refresh_from_db()
    assert attempt.reviewed_at is None
    pending = pending_review(attempt)
    assert pending is not None and pending.actor_id == first.pk
    queue = first_client.get(QUEUE).content.decode()
    assert str(attempt.pk) in queue and "Awaiting a second reviewer" in queue
    with pytest.raises(ValidationError):
        services.review(attempt, reviewer=first, decision="match", reason="again")
    second_client, second = client_for("second-reviewer", *ALL)
    action(second_client, "approve", attempt, confirm="yes", reason="agreed")
    attempt.refresh_from_db()
    assert attempt.review_decision == "match" and attempt.reviewer_id == second.pk
    reviewed = attempt.events.get(kind=EventKind.REVIEWED.value)
    assert reviewed.data["first_reviewer"] == first.pk
    assert str(attempt.pk) not in second_client.get(QUEUE).content.decode()


def test_without_the_setting_one_reviewer_overturns(face_settings: Any) -> None:
    from face_idcard import services

    face_settings(REVIEW_OVERTURN_NEEDS_SECOND_REVIEWER=False)
    attempt = finished(magic.NO_MATCH)
    _, reviewer = client_for("single-reviewer", *ALL)
    services.review(attempt, reviewer=reviewer, decision="match", reason="same person")
    assert attempt.reviewed_at is not None
    assert not AttemptEvent.objects.filter(kind=EventKind.REVIEW_PENDING.value).exists()


def test_confirming_a_no_match_needs_no_second_reviewer(face_settings: Any) -> None:
    from face_idcard import services

    face_settings(REVIEW_OVERTURN_NEEDS_SECOND_REVIEWER=True)
    attempt = finished(magic.NO_MATCH)
    _, reviewer = client_for("confirming-reviewer", *ALL)
    services.review(attempt, reviewer=reviewer, decision="no_match", reason="different")
    assert attempt.reviewed_at is not None


# --- Languages --------------------------------------------------------------------------------


def test_console_speaks_chinese(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    client, _ = client_for("zh-reviewer", *ALL)
    headers = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    listing = client.get(CHANGELIST, **headers).content.decode()
    assert "按身份证号搜索" in listing and "需人工复核" in listing
    detail = client.get(change_url(attempt), **headers).content.decode()
    assert "显示个人信息和自拍照" in detail and "审计记录" in detail
    client.cookies["django_language"] = "zh-hans"
    confirm = action(client, "approve", attempt).content.decode()
    assert "批准：确认为本人" in confirm and "理由" in confirm
    with translation.override("en"):
        assert (
            "Search by ID number"
            in client_for("en-reviewer", *ALL)[0].get(CHANGELIST).content.decode()
        )


# --- Nobody reviews their own attempt -----------------------------------------------------


def test_a_reviewer_cannot_review_their_own_attempt(face_settings: Any) -> None:
    from face_idcard import services
    from face_idcard.exceptions import SelfReviewRefused

    client, reviewer = client_for("self-reviewer", *ALL)
    attempt = finished(magic.REVIEW, user=reviewer)
    detail = client.get(change_url(attempt)).content.decode()
    assert 'data-action="approve"' not in detail and 'data-action="reject"' not in detail
    other, _ = client_for("other-reviewer", *ALL)
    assert 'data-action="approve"' in other.get(change_url(attempt)).content.decode()
    with pytest.raises(SelfReviewRefused):
        services.review(attempt, reviewer=reviewer, decision="match", reason="it is me")
    response = action(client, "approve", attempt, confirm="yes", reason="it is me")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "you cannot review your own verification" in page
    attempt.refresh_from_db()
    assert attempt.reviewed_at is None and attempt.review_decision == ""
    assert not attempt.events.filter(kind__in=["reviewed", "review_pending"]).exists()


@pytest.mark.parametrize("own", ["first", "second"])
def test_under_four_eyes_neither_reviewer_is_the_attempts_user(
    face_settings: Any, own: str
) -> None:
    from face_idcard import services
    from face_idcard.exceptions import SelfReviewRefused

    _, owner = client_for("four-eyes-owner", *ALL)
    _, other = client_for("four-eyes-other", *ALL)
    attempt = finished(magic.NO_MATCH, user=owner)
    first, second = (owner, other) if own == "first" else (other, owner)
    if own == "first":
        with pytest.raises(SelfReviewRefused):
            services.review(attempt, reviewer=first, decision="match", reason="it is me")
        assert pending_review(attempt) is None
    else:
        services.review(attempt, reviewer=first, decision="match", reason="same person")
        assert pending_review(attempt) is not None
        with pytest.raises(SelfReviewRefused):
            services.review(attempt, reviewer=second, decision="match", reason="it is me")
    attempt.refresh_from_db()
    assert attempt.reviewed_at is None
