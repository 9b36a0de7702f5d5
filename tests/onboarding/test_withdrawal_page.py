"""The onboarding page's "withdraw my consent and delete my data" control, in a real browser
(Debian's Chromium through Playwright, the live server, the REST API and a real Celery worker
calling the simulator over HTTP): a keyboard alone reaches it, a confirmation comes first
(Escape keeps the consent), and the answer says what was done, that a legal hold applies (never
why) and what the provider keeps. The person has an attempt queued, one in flight at the
provider (its late result stored without PII), one decided and one under legal hold.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from playwright.sync_api import expect

from face_idcard import services
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.onboarding.texts import PAGE_TEXTS
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support.browser import (
    MARKS,
    browser_type_launch_args,
    live_server,
    log_in,
    open_page,
    tab_to,
)
from tests.support.celery_app import wait_for, wait_terminal
from tests.support.factories import submit_attempt

__all__ = ["browser_type_launch_args", "live_server", "open_page"]


pytestmark = MARKS


def _text(language: str, key: str) -> str:
    with translation.override(language):
        return str(PAGE_TEXTS[key])


def test_a_keyboard_withdraws_queued_in_flight_decided_and_held_attempts(
    live_server: Any,
    face_settings: Any,
    celery_worker_thread: Any,
    open_page: Any,
    simulator: Any,
) -> None:
    # Four ID numbers from one account: over the default cap of distinct numbers per account.
    face_settings(READ_TIMEOUT_SECONDS=15.0, MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=10)
    page = open_page("en")
    user = log_in(page, live_server.url, "page-withdrawer")
    decided = wait_terminal(submit_attempt(magic.MATCH, user=user).pk)
    held = wait_terminal(submit_attempt(magic.NO_MATCH, user=user).pk)
    services.set_legal_hold(held, hold=True, reason="court case 2026-17")
    waiting = submit_attempt(magic.REVIEW, user=user, enqueue=False)  # no message: stays queued
    in_flight = submit_attempt(magic.slow(4000), user=user)
    wait_for(lambda: VerificationAttempt.objects.get(pk=in_flight.pk).status == Status.PROCESSING)
    page.reload()

    # Escape keeps the consent.
    tab_to(page, "fi-withdraw")
    page.keyboard.press("Enter")
    expect(page.locator("#fi-withdraw-confirm")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "fi-withdraw-question"
    assert page.locator("#fi-withdraw").get_attribute("aria-expanded") == "true"
    page.keyboard.press("Escape")
    expect(page.locator("#fi-withdraw-confirm")).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "fi-withdraw"
    assert VerificationAttempt.objects.get(pk=decided.pk).has_pii

    page.keyboard.press("Enter")
    tab_to(page, "fi-withdraw-yes")
    page.keyboard.press("Enter")

    result = page.locator("#fi-withdraw-result")
    expect(result).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "fi-withdraw-result"
    assert result.get_attribute("data-legal-hold") == "true"
    said = result.inner_text()
    assert "legal hold" in said and "court" not in said
    assert "already with the verification service" in said
    expect(page.locator("#fi-withdraw")).to_be_hidden()
    assert not page.locator("#fi-consent-box").is_checked()

    for attempt in (decided, waiting):
        attempt.refresh_from_db()
        assert not attempt.has_pii
    assert VerificationAttempt.objects.get(pk=waiting.pk).status == Status.CANCELED
    held.refresh_from_db()
    assert held.has_pii
    # The call in flight comes back: its result is stored without the personal information.
    late = wait_terminal(in_flight.pk, timeout=30)
    assert late.status == Status.COMPLETED and late.similarity is not None
    assert not late.has_pii and late.provider_session_id == "" and late.raw_response is None
    assert late.events.filter(kind=EventKind.WITHDRAWN.value).exists()


def test_the_control_speaks_the_page_language_and_shows_a_failure_beside_it(
    live_server: Any, face_settings: Any, open_page: Any
) -> None:
    page = open_page("zh-hans")
    log_in(page, live_server.url, "page-withdrawer-zh")
    expect(page.locator("#fi-withdraw")).to_have_text(_text("zh-hans", "withdraw"))
    # The session ends elsewhere: the answer is an error, shown in the error line.
    page.context.clear_cookies()
    page.click("#fi-withdraw")
    page.click("#fi-withdraw-yes")
    expect(page.locator("#fi-withdraw-error")).not_to_have_text("")
    assert page.evaluate("document.activeElement.id") == "fi-withdraw-yes"
    expect(page.locator("#fi-withdraw-result")).to_be_hidden()
