"""The onboarding page in a real browser (Debian's Chromium, headless, through Playwright),
against the live server, the REST API and a real Celery worker (``celery_worker_thread``)
calling the simulator over HTTP.

A user logs in, accepts the notice, uploads a generated photo through the file input (large
enough that the page shrinks it first), enters a magic ID number, sees the progress while the
(slowed) simulator answers, then the result. Refused input shows its message in English and
Chinese: the page's own ID number rule, and the server's refusal of a file that is no photo.
A failing test leaves a screenshot (``open_page``, as in tests/admin/test_attempts_browser.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from playwright.sync_api import expect

from face_idcard import _reasons as reasons
from face_idcard._identity import ID_MESSAGES
from face_idcard.models import VerificationAttempt
from face_idcard.onboarding.texts import PAGE_TEXTS
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.browser import (  # the same browser set-up, screenshots on failure
    MARKS,
    browser_type_launch_args,
    live_server,
    log_in,
    open_page,
)
from tests.support.celery_app import apply_face_settings

__all__ = ["browser_type_launch_args", "live_server", "open_page"]

NOTICE = "notice-2026-12"

pytestmark = MARKS


def _docs_shot(page: Any, name: str) -> None:
    """With ``FACE_IDCARD_DOCS_SCREENSHOTS=<folder>`` (docs/screenshots.py): the docs' screenshots, at a phone's size."""
    folder = os.environ.get("FACE_IDCARD_DOCS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        size = page.viewport_size
        page.set_viewport_size({"width": 420, "height": 860})
        page.screenshot(path=str(Path(folder) / name), full_page=True)
        page.set_viewport_size(size)


def _text(language: str, key: str) -> str:
    with translation.override(language):
        return str(PAGE_TEXTS[key])


def _accept(page: Any) -> None:
    assert page.locator("#fi-number").is_disabled()  # inside the disabled fieldset
    assert page.locator("#fi-notice-version").inner_text() == NOTICE
    page.check("#fi-consent-box")
    assert page.locator("#fi-number").is_enabled()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_user_completes_onboarding(
    live_server: Any,
    settings: Any,
    simulator_factory: Any,
    celery_worker_thread: Any,
    open_page: Any,
    tmp_path: Path,
    language: str,
) -> None:
    # 1.5 s per provider call: long enough to see the progress section.
    simulator = simulator_factory(latency=1500)
    apply_face_settings(
        settings, simulator, NOTICE_CURRENT_VERSION=NOTICE, READ_TIMEOUT_SECONDS=10.0
    )
    photo = tmp_path / "selfie.jpg"
    photo.write_bytes(imagefactory.noise_jpeg(2400, 1800))  # > 1600 px: shrunk in the browser
    page = open_page(language)
    log_in(page, live_server.url, f"user-{language}")
    assert page.locator("h1").inner_text() == _text(language, "title")
    _accept(page)

    page.set_input_files("#fi-photo-file", str(photo))
    page.wait_for_selector("#fi-preview:not([hidden])")
    assert page.locator("#fi-photo-note").inner_text() == _text(language, "photo_shrunk")
    page.fill("#fi-number", magic.MATCH)
    page.fill("#fi-name", "张三")
    if language == "zh-hans":
        _docs_shot(page, "onboarding-form.png")
    page.click("#fi-submit")

    page.wait_for_selector("#fi-progress:not([hidden])")
    assert page.locator("#fi-form").is_hidden()
    page.wait_for_selector("#fi-result:not([hidden])", timeout=30_000)
    assert page.locator("#fi-result").get_attribute("data-decision") == "match"
    with translation.override(language):
        verified = str(reasons.VERIFIED)  # the API's message, the server's one rule
    assert page.locator("#fi-result-text").inner_text() == verified
    assert page.locator("#fi-retry").is_hidden()
    if language == "zh-hans":
        _docs_shot(page, "onboarding-result.png")

    attempt = VerificationAttempt.objects.get()
    assert attempt.user is not None and attempt.user.username == f"user-{language}"
    assert attempt.notice_version == NOTICE
    assert (attempt.status, attempt.decision) == ("completed", "match")
    (call,) = simulator.ledger.calls()
    assert call.billable


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_refused_input_shows_its_message(
    live_server: Any,
    face_settings: Any,
    celery_worker_thread: Any,
    open_page: Any,
    simulator: Any,
    tmp_path: Path,
    language: str,
) -> None:
    face_settings(NOTICE_CURRENT_VERSION=NOTICE)
    page = open_page(language)
    log_in(page, live_server.url, f"refused-{language}")
    _accept(page)

    # The page's own rule: a wrong check character, before anything is sent.
    page.fill("#fi-number", "110110199909090909")
    with translation.override(language):
        checksum = str(ID_MESSAGES["id_checksum"])
    expect(page.locator("#fi-number-error")).to_have_text(checksum)
    assert page.locator("#fi-number").get_attribute("aria-invalid") == "true"
    page.fill("#fi-name", "张三")
    page.click("#fi-submit")
    assert page.locator("#fi-photo-error").inner_text() == _text(language, "photo_needed")

    # The server's rule: a file that is not a photo, with a valid number.
    fake = tmp_path / "selfie.jpg"
    fake.write_bytes(b"this is not a photo at all " * 20)
    page.set_input_files("#fi-photo-file", str(fake))
    page.fill("#fi-number", magic.MATCH)
    expect(page.locator("#fi-number-error")).to_have_text("")
    page.click("#fi-submit")
    error = page.locator("#fi-photo-error")
    expect(error).not_to_have_text("")
    message = error.inner_text()
    has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in message)
    assert has_cjk == (language == "zh-hans"), message
    assert not VerificationAttempt.objects.exists()
    assert simulator.ledger.total == 0
