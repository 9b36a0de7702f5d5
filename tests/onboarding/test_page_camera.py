"""The onboarding page's live capture (issue 32 item 4) in a real browser with a fake camera
(Chromium's ``--use-fake-device-for-media-stream`` and ``--use-fake-ui-for-media-stream``, in
tests/support/browser.py): the camera comes first, a keyboard alone opens it, takes a frame
and submits it, and the attempt records that the photo came from the camera. Under
``LIVENESS = "require"`` the page offers no file at all (``ONBOARDING_FILE_UPLOAD`` "auto");
where the camera cannot be opened the ``capture="user"`` input is offered in its place, with
the reason beside the photo buttons.

Against the live server, the REST API and a real Celery worker calling the simulator over
HTTP, as in test_page_browser.py.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation
from playwright.sync_api import expect

from face_idcard.models import VerificationAttempt
from face_idcard.onboarding.texts import PAGE_TEXTS
from face_idcard.simulator import magic
from tests.support.browser import (
    CHROMIUM,
    browser_type_launch_args,
    live_server,
    open_page,
)
from tests.support.paths import REPO_ROOT

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

__all__ = ["browser_type_launch_args", "live_server", "open_page"]

PASSWORD = "an-onboarding-password-3"
NOTICE = "notice-2026-12"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
    pytest.mark.django_db(transaction=True),
]

#: The camera refused, as a person who says no to the browser's prompt (or has none) sees it.
CAMERA_REFUSED = """
navigator.mediaDevices.getUserMedia = function () {
  return Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
};
"""


#: axe-core, as in test_page_axe.py (FACE_IDCARD_AXE_CORE; required where .ci/run says so).
AXE = Path(os.environ.get("FACE_IDCARD_AXE_CORE", REPO_ROOT / "node_modules/axe-core/axe.min.js"))
AXE_REQUIRED = os.environ.get("FACE_IDCARD_REQUIRE_AXE") == "1"
RUN_AXE = """
async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}));
}
"""


def _text(language: str, key: str) -> str:
    with translation.override(language):
        return str(PAGE_TEXTS[key])


def _log_in(page: Any, base: str, username: str) -> None:
    get_user_model().objects.create_user(username, password=PASSWORD)
    page.goto(f"{base}/verify/")
    page.wait_for_url("**/verify/login/**")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/verify/")


def _tab_to(page: Any, element_id: str, limit: int = 25) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def _wait_for_frames(page: Any, timeout: float = 10.0) -> None:
    """Until the live view shows frames (polled from here: the page's CSP forbids the
    eval that Playwright's in-page polling of an expression needs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate("document.getElementById('fi-video').videoWidth > 0"):
            return
        time.sleep(0.05)
    raise AssertionError("the camera's live view never showed a frame")


def _focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_keyboard_takes_a_photo_with_the_camera_and_submits_it(
    live_server: Any,
    face_settings: Any,
    celery_worker_thread: Any,
    open_page: Any,
    simulator: Any,
    language: str,
) -> None:
    face_settings(NOTICE_CURRENT_VERSION=NOTICE)
    page = open_page(language)
    page.set_viewport_size(PHONE)
    _log_in(page, live_server.url, f"camera-{language}")

    _tab_to(page, "fi-consent-box")
    page.keyboard.press("Space")
    # The camera comes first; the capture input steps back while the camera can be used.
    expect(page.locator("#fi-camera-start")).to_be_visible()
    expect(page.locator("#fi-camera-start")).to_have_text(_text(language, "camera_start"))
    assert page.locator("#fi-photo-take").is_hidden()
    _tab_to(page, "fi-camera-start")
    page.keyboard.press("Enter")

    expect(page.locator("#fi-camera")).to_be_visible()
    assert page.locator("#fi-camera-start").get_attribute("aria-expanded") == "true"
    expect(page.locator("#fi-photo-state")).to_have_text(_text(language, "camera_on"))
    assert _focused(page) == "fi-camera-capture"
    _wait_for_frames(page)
    page.keyboard.press("Enter")

    expect(page.locator("#fi-photo-state")).to_have_text(_text(language, "photo_taken"))
    expect(page.locator("#fi-preview")).to_be_visible()
    assert page.locator("#fi-camera").is_hidden()
    assert _focused(page) == "fi-camera-start"
    # The camera is off once the frame is taken.
    assert page.evaluate("document.getElementById('fi-video').srcObject") is None

    _tab_to(page, "fi-number")
    page.keyboard.type(magic.MATCH)
    page.keyboard.press("Tab")
    page.keyboard.type("张三")
    page.keyboard.press("Enter")

    expect(page.locator("#fi-result")).to_be_visible(timeout=30_000)
    assert page.locator("#fi-result").get_attribute("data-decision") == "match"
    attempt = VerificationAttempt.objects.get()
    assert attempt.capture_source == "camera"
    assert (attempt.status, attempt.decision) == ("completed", "match")
    (call,) = simulator.ledger.calls()
    assert call.billable


def test_the_selfie_is_the_camera_frame(
    live_server: Any,
    face_settings: Any,
    parked_publishes: str,
    open_page: Any,
    simulator: Any,
) -> None:
    """What is sent is a JPEG frame of the fake camera at the live view's size, not a file.
    The attempt is parked (no worker): its selfie is read as stored."""
    from PIL import Image

    from face_idcard.services._common import load_selfie

    face_settings(NOTICE_CURRENT_VERSION=NOTICE, CELERY_QUEUE=parked_publishes)
    page = open_page("en")
    _log_in(page, live_server.url, "camera-frame")
    page.check("#fi-consent-box")
    page.click("#fi-camera-start")
    _wait_for_frames(page)
    size = tuple(
        page.evaluate("(v => [v.videoWidth, v.videoHeight])(document.getElementById('fi-video'))")
    )
    page.click("#fi-camera-capture")
    expect(page.locator("#fi-photo-state")).to_have_text(_text("en", "photo_taken"))
    page.fill("#fi-number", magic.MATCH)
    page.fill("#fi-name", "张三")
    page.click("#fi-submit")
    expect(page.locator("#fi-progress")).to_be_visible()
    attempt = VerificationAttempt.objects.get()
    data = load_selfie(attempt.selfie_name, attempt.selfie_storage, attempt.pk)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert image.size == size


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_no_file_is_offered_under_require(
    live_server: Any,
    face_settings: Any,
    open_page: Any,
    simulator: Any,
    language: str,
) -> None:
    face_settings(NOTICE_CURRENT_VERSION=NOTICE, LIVENESS="require")
    page = open_page(language)
    _log_in(page, live_server.url, f"require-{language}")
    page.check("#fi-consent-box")
    expect(page.locator("#fi-camera-start")).to_be_visible()
    # Not hidden by the script: never in the page.
    assert page.locator("#fi-photo-choose").count() == 0
    assert page.locator("#fi-photo-file").count() == 0
    # (The document review's ID card photos, the path without the face, are its own form.)
    assert page.locator("#fi-form input[type=file]:not([capture])").count() == 0
    # Sending without a photo asks for the camera, not for "take or choose".
    page.fill("#fi-number", magic.MATCH)
    page.fill("#fi-name", "张三")
    page.click("#fi-submit")
    expect(page.locator("#fi-photo-error")).to_have_text(_text(language, "photo_needed_camera"))
    assert page.locator("#fi-camera-start").get_attribute("aria-invalid") == "true"
    assert _focused(page) == "fi-camera-start"
    assert not VerificationAttempt.objects.exists()


def test_escape_closes_the_camera_and_turns_it_off(
    live_server: Any, face_settings: Any, open_page: Any, simulator: Any
) -> None:
    face_settings(NOTICE_CURRENT_VERSION=NOTICE)
    page = open_page("en")
    _log_in(page, live_server.url, "camera-escape")
    page.check("#fi-consent-box")
    page.click("#fi-camera-start")
    _wait_for_frames(page)
    assert _focused(page) == "fi-camera-capture"
    page.keyboard.press("Escape")
    expect(page.locator("#fi-camera")).to_be_hidden()
    assert _focused(page) == "fi-camera-start"
    assert page.locator("#fi-camera-start").get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.getElementById('fi-video').srcObject") is None
    expect(page.locator("#fi-photo-state")).to_have_text(_text("en", "photo_none"))
    # Unticking the consent turns the camera off as well.
    page.click("#fi-camera-start")
    _wait_for_frames(page)
    page.uncheck("#fi-consent-box")
    expect(page.locator("#fi-camera")).to_be_hidden()
    assert page.evaluate("document.getElementById('fi-video').srcObject") is None


def test_a_file_is_offered_where_the_site_allows_it(
    live_server: Any, face_settings: Any, open_page: Any, simulator: Any
) -> None:
    face_settings(NOTICE_CURRENT_VERSION=NOTICE, LIVENESS="require", ONBOARDING_FILE_UPLOAD=True)
    page = open_page("en")
    _log_in(page, live_server.url, "require-allowed")
    page.check("#fi-consent-box")
    expect(page.locator("#fi-photo-choose")).to_be_visible()
    assert page.locator("#fi-photo-file").count() == 1


def test_a_refused_camera_falls_back_to_the_capture_input(
    live_server: Any,
    face_settings: Any,
    celery_worker_thread: Any,
    open_page: Any,
    simulator: Any,
    tmp_path: Any,
) -> None:
    from tests.support import imagefactory

    face_settings(NOTICE_CURRENT_VERSION=NOTICE, LIVENESS="require", LIVENESS_FAILURE="review")
    page = open_page("en")
    page.add_init_script(CAMERA_REFUSED)
    _log_in(page, live_server.url, "camera-refused")
    page.check("#fi-consent-box")
    page.click("#fi-camera-start")
    expect(page.locator("#fi-photo-error")).to_have_text(_text("en", "camera_failed"))
    expect(page.locator("#fi-photo-take")).to_be_visible()
    assert page.locator("#fi-camera-start").is_hidden()
    assert _focused(page) == "fi-photo-take"
    assert page.locator("#fi-photo-take").get_attribute("aria-invalid") == "true"
    # The capture input (the camera app on a phone) gives the photo; recorded as such.
    photo = tmp_path / "capture.jpg"
    photo.write_bytes(imagefactory.noise_jpeg(640, 800))
    page.set_input_files("#fi-photo-camera", str(photo))
    expect(page.locator("#fi-photo-state")).to_have_text(_text("en", "photo_chosen"))
    page.fill("#fi-number", magic.MATCH)
    page.fill("#fi-name", "张三")
    page.click("#fi-submit")
    expect(page.locator("#fi-result")).to_be_visible(timeout=30_000)
    attempt = VerificationAttempt.objects.get()
    assert attempt.capture_source == "capture_input"
    # The simulator checks no liveness: under require the attempt goes to review.
    assert (attempt.decision, attempt.reason) == ("review", "liveness_unverified")


@pytest.mark.skipif(
    not AXE.exists() and not AXE_REQUIRED,
    reason="axe-core not installed (npm install axe-core; FACE_IDCARD_AXE_CORE=.../axe.min.js)",
)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_open_camera_has_no_serious_accessibility_violation(
    live_server: Any, face_settings: Any, open_page: Any, simulator: Any, language: str
) -> None:
    face_settings(NOTICE_CURRENT_VERSION=NOTICE, LIVENESS="require")
    page = open_page(language)
    page.set_viewport_size(PHONE)
    _log_in(page, live_server.url, f"camera-axe-{language}")
    page.check("#fi-consent-box")
    page.click("#fi-camera-start")
    _wait_for_frames(page)
    assert AXE.exists(), f"axe-core is required here and missing: {AXE}"
    page.evaluate(AXE.read_text(encoding="utf-8"))
    assert page.evaluate(RUN_AXE) == []  # the live view, its guide and its buttons
    page.click("#fi-camera-capture")
    expect(page.locator("#fi-preview")).to_be_visible()
    assert page.evaluate(RUN_AXE) == []  # the photo taken
