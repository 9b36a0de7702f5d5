"""Consent that matches what happens (issue 33, item 2).

Pins: the privacy notice names every company the face may go to and that it travels over the
Internet, in each language, under a version whose full text and SHA-256 are stored once and
never change; each attempt records that notice (version, hash), its recipients by alias and the
Internet transfer; an attempt is never sent to a recipient its consent does not name: refused
by ``submit`` and the API (zh-hans and en) with nothing stored, and by the pipeline before any
provider call (the simulator's ledger stays empty, nothing billed); the notice of any attempt
is read back through the API, the admin and the onboarding page.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from face_idcard import _consent as consent
from face_idcard.exceptions import AuditLogError
from face_idcard.models import AttemptEvent, ConsentNotice, VerificationAttempt
from face_idcard.outcome import INTERNAL_CONSENT_NOT_COVERING
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support import admin_helpers
from tests.support.api_helpers import BASE, client_for, create, error_code, field_codes, plain_user
from tests.support.factories import make_attempt, submit_attempt
from tests.support.other_recipient_backend import PATH as OTHER

pytestmark = pytest.mark.django_db


def backends(simulator: Any, **aliases: str) -> dict[str, Any]:
    """BACKENDS with ``default`` on the simulator and each alias given (name=class) on it too."""
    entries = {"default": {"BACKEND": "simulator", "ENDPOINT": simulator.base_url}}
    for alias, backend in aliases.items():
        entries[alias] = {"BACKEND": backend, "ENDPOINT": simulator.base_url}
    return entries


# --- the notice: its text, its hash, written once ------------------------------------------


def test_the_hash_is_the_sha256_of_the_texts_as_canonical_json() -> None:
    """A fixed vector (computed by hand from the documented recipe): the same texts in any
    order give the same hash, and one character more gives another."""
    expected = hashlib.sha256('{"en":"a","zh-hans":"乙"}'.encode()).hexdigest()
    assert expected == "c84e8b7fce35b2278de0da718d070d9809856f2c606602f0d9dbda0ee4b6d369"
    assert consent.text_sha256({"zh-hans": "乙", "en": "a"}) == expected
    assert consent.text_sha256({"en": "a", "zh-hans": "乙"}) == expected
    assert consent.text_sha256({"en": "a.", "zh-hans": "乙"}) != expected


def test_the_notice_names_the_recipient_and_the_internet_in_each_language(
    face_settings: Any,
) -> None:
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    notice = consent.current_notice()
    assert notice.version == "2026-12"
    assert set(notice.texts) == {"en", "zh-hans"}
    assert "Tencent Cloud" in notice.texts["en"] and "over the Internet" in notice.texts["en"]
    assert "腾讯云" in notice.texts["zh-hans"] and "互联网" in notice.texts["zh-hans"]
    assert notice.recipients == {"default": "tencent_cloud"}
    assert notice.over_internet is True
    # The stored hash is the text's, recomputed from the stored text by the documented recipe.
    canonical = json.dumps(notice.texts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert notice.sha256 == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    # Stable: asked again (and after the settings are read afresh), the same row and hash.
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    again = consent.current_notice()
    assert (again.pk, again.sha256) == (notice.pk, notice.sha256)
    assert ConsentNotice.objects.count() == 1


def test_without_a_version_set_the_version_follows_the_text(
    face_settings: Any, simulator: Any
) -> None:
    """No NOTICE_CURRENT_VERSION: the version is made from the text's hash, so a recipient added is a
    new version (and a new consent) by itself."""
    face_settings(NOTICE_CURRENT_VERSION="", NOTICE_ACCEPTED_VERSIONS=[])
    first = consent.current_notice()
    assert first.version == "auto-" + first.sha256[:12]
    face_settings(NOTICE_CURRENT_VERSION="", BACKENDS=backends(simulator, other=OTHER))
    second = consent.current_notice()
    assert second.version != first.version
    assert "Other Cloud" in second.texts["en"] and "Tencent Cloud" in second.texts["en"]
    assert set(second.recipients.values()) == {"tencent_cloud", "other_cloud"}


def test_a_stored_notice_is_never_changed_or_deleted(face_settings: Any) -> None:
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    notice = consent.current_notice()
    notice.texts = {"en": "something else"}
    with pytest.raises(AuditLogError):
        notice.save()
    with pytest.raises(AuditLogError):
        notice.delete()
    with pytest.raises(AuditLogError):
        ConsentNotice.objects.filter(pk=notice.pk).update(sha256="0" * 64)
    with pytest.raises(AuditLogError):
        ConsentNotice.objects.all().delete()


# --- the consent record of an attempt ------------------------------------------------------


def test_an_attempt_records_its_notice_recipients_and_the_internet(face_settings: Any) -> None:
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    attempt = submit_attempt(enqueue=False)
    notice = ConsentNotice.objects.get()
    attempt.refresh_from_db()
    assert (attempt.notice_version, attempt.notice_sha256) == ("2026-12", notice.sha256)
    assert attempt.consent_recipients == {"default": "tencent_cloud"}
    assert attempt.consent_over_internet is True
    assert consent.notice_of(attempt) == notice
    created = attempt.events.get(kind="created")
    assert created.data["notice_sha256"] == notice.sha256


def test_a_version_the_site_never_showed_is_refused(face_settings: Any) -> None:
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    with pytest.raises(ValidationError) as refused:
        submit_attempt(notice_version="2020-01", enqueue=False)
    assert refused.value.code == "notice_version_unknown"
    assert not VerificationAttempt.objects.exists()


# --- an alias whose recipient the consent does not name ------------------------------------


def test_submit_refuses_a_recipient_the_notice_does_not_name(
    face_settings: Any, simulator: Any
) -> None:
    """Version 2026-12 was shown naming Tencent Cloud only; the site then adds an alias sending
    to another company under the same version: refused before anything is stored or sent. A
    new version names both, and the same submission goes through."""
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    consent.current_notice()
    face_settings(NOTICE_CURRENT_VERSION="2026-12", BACKENDS=backends(simulator, other=OTHER))
    assert set(consent.current_notice().recipients.values()) == {"tencent_cloud"}
    with pytest.raises(ValidationError) as refused:
        submit_attempt(backend="other")
    assert refused.value.code == "consent_recipient_not_named"
    assert not VerificationAttempt.objects.exists() and not AttemptEvent.objects.exists()
    assert simulator.ledger.total == 0
    # The default alias's recipient is named: that one goes through.
    assert submit_attempt(enqueue=False).consent_recipients == {"default": "tencent_cloud"}

    face_settings(NOTICE_CURRENT_VERSION="2026-12b", BACKENDS=backends(simulator, other=OTHER))
    attempt = submit_attempt(backend="other", enqueue=False)
    assert attempt.notice_version == "2026-12b"
    assert set(attempt.consent_recipients.values()) == {"tencent_cloud", "other_cloud"}


@pytest.mark.parametrize(
    ("language", "words"), [("en", "does not name the company"), ("zh-hans", "未列明")]
)
def test_the_api_refuses_it_in_the_request_language(
    face_settings: Any, simulator: Any, language: str, words: str
) -> None:
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    consent.current_notice()
    face_settings(
        NOTICE_CURRENT_VERSION="2026-12",
        BACKENDS=backends(simulator, other=OTHER),
        DEFAULT_BACKEND="other",
    )
    client = client_for(plain_user("owner"))
    response = create(client, headers={"Accept-Language": language})
    assert response.status_code == 400, response.content
    assert field_codes(response) == {"consent": ["consent_recipient_not_named"]}
    assert words in response.json()["error"]["fields"]["consent"][0]["message"]
    assert not VerificationAttempt.objects.exists()
    assert simulator.ledger.total == 0


def test_the_pipeline_refuses_before_any_provider_call(face_settings: Any, simulator: Any) -> None:
    """Consent given while the alias sent to Tencent Cloud; the site then points the same alias
    at another company. The queued attempt fails (internal.consent_not_covering, not billed)
    without a call: the simulator's ledger shows none. The control: unchanged, it is called."""
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    sent = submit_attempt(enqueue=False)
    held = submit_attempt(magic.flaky(0, variant=2), enqueue=False)
    pipeline.run(sent.pk)
    assert simulator.ledger.total == 1  # the control: the same path reaches the simulator

    face_settings(
        NOTICE_CURRENT_VERSION="2026-12",
        BACKENDS={"default": {"BACKEND": OTHER, "ENDPOINT": simulator.base_url}},
    )
    outcome = pipeline.run(held.pk)
    held.refresh_from_db()
    assert outcome.status == Status.FAILED
    assert (held.status, held.error_code) == (Status.FAILED.value, INTERNAL_CONSENT_NOT_COVERING)
    assert held.provider_calls == 0
    assert simulator.ledger.total == 1 and simulator.ledger.billable <= 1
    assert not held.events.filter(kind="provider_call").exists()


def test_an_attempt_from_before_consent_records_is_not_held_to_one(
    face_settings: Any, simulator: Any
) -> None:
    """Rows written before the migration (no recorded recipients) keep running."""
    face_settings(BACKENDS={"default": {"BACKEND": OTHER, "ENDPOINT": simulator.base_url}})
    attempt = submit_attempt(enqueue=False)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        consent_recipients=None, consent_over_internet=None, notice_sha256=""
    )
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED.value
    assert simulator.ledger.total == 1


# --- read back: API, admin, onboarding page -------------------------------------------------


def test_the_api_returns_the_notice_of_an_attempt(face_settings: Any) -> None:
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    owner = plain_user("owner")
    response = create(client_for(owner))
    assert response.status_code == 202, response.content
    attempt_id = response.json()["id"]
    notice = ConsentNotice.objects.get()

    answer = client_for(owner).get(f"{BASE}{attempt_id}/notice/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["version"] == "2026-12"
    assert body["sha256"] == notice.sha256 == consent.text_sha256(body["texts"])
    assert body["texts"] == notice.texts
    assert body["recipients"] == {"default": "tencent_cloud"}
    assert body["recipient_names"]["zh-hans"] == {"tencent_cloud": "腾讯云"}
    assert body["over_internet"] is True
    # Somebody else's attempt is not theirs to read; an attempt from before notices: none.
    stranger = client_for(plain_user("stranger")).get(f"{BASE}{attempt_id}/notice/")
    assert stranger.status_code == 404
    old = make_attempt(user=owner)
    missing = client_for(owner).get(f"{BASE}{old.pk}/notice/")
    assert missing.status_code == 404 and error_code(missing) == "not_found"


def test_the_admin_shows_the_notice_of_an_attempt(face_settings: Any) -> None:
    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    attempt = submit_attempt(enqueue=False)
    client, _user = admin_helpers.client_for("notice-reader", "view_verificationattempt")
    html = client.get(admin_helpers.change_url(attempt)).content.decode()
    notice = ConsentNotice.objects.get()
    assert f'data-sha256="{notice.sha256}"' in html
    assert "over the Internet to Tencent Cloud" in html


def test_the_onboarding_page_shows_the_stored_text_and_its_hash(
    face_settings: Any, client: Client
) -> None:
    from django.contrib.auth import get_user_model

    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    client.force_login(get_user_model().objects.create_user("page-user"))
    html = client.get("/verify/", headers={"Accept-Language": "zh-hans"}).content.decode()
    notice = ConsentNotice.objects.get()
    assert notice.texts["zh-hans"] in html
    assert f'<code id="fi-notice-sha256">{notice.sha256}</code>' in html
    assert '<span id="fi-notice-version">2026-12</span>' in html


def test_a_rerun_on_a_backend_the_consent_does_not_name_is_refused(
    face_settings: Any, simulator: Any
) -> None:
    """A re-run keeps the original's consent and goes to today's default alias: pointed at
    another company, it is refused before anything is copied or sent."""
    from face_idcard import services

    face_settings(NOTICE_CURRENT_VERSION="2026-12")
    attempt = submit_attempt(enqueue=False)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    face_settings(
        NOTICE_CURRENT_VERSION="2026-12",
        BACKENDS=backends(simulator, other=OTHER),
        DEFAULT_BACKEND="other",
    )
    with pytest.raises(ValidationError) as refused:
        services.rerun(attempt, enqueue=False)
    assert refused.value.code == "consent_recipient_not_named"
    assert VerificationAttempt.objects.count() == 1
    assert simulator.ledger.total == 1
    # On the default alias again (named by the consent), the re-run goes ahead.
    face_settings(DEFAULT_BACKEND="default")
    again = services.rerun(attempt, enqueue=False)
    assert again.consent_recipients == attempt.consent_recipients
