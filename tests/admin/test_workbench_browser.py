"""The review workbench in a real browser (Debian's Chromium through Playwright): a reviewer
works the queue from the first item to the empty queue, with the selfie revealed for a purpose,
the keyboard shortcuts and the decision on one screen; a reviewer without the PII permission
decides from the score. In English and in Chinese, at 1280x800 and on a 768x1024 tablet, with
no horizontal scrolling; axe-core finds no serious or critical violation on the workbench.

A failing test leaves a screenshot in ``$FACE_IDCARD_ARTIFACTS`` (see tests/support/browser.py).
With ``FACE_IDCARD_DOCS_SCREENSHOTS=<folder>`` (docs/screenshots.py) the English desktop run also writes the docs'
screenshot of the workbench.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.simulator import magic
from tests.support.admin_helpers import ALL, NAME, finished
from tests.support.browser import MARKS, admin_log_in, staff_user
from tests.support.paths import REPO_ROOT

AXE = Path(os.environ.get("FACE_IDCARD_AXE_CORE", REPO_ROOT / "node_modules/axe-core/axe.min.js"))
QUEUE = "/admin/face_idcard/attemptawaitingreview/"

pytestmark = MARKS

SIZES = {"desktop": {"width": 1280, "height": 800}, "tablet": {"width": 768, "height": 1024}}
TEXTS = {
    "en": {
        "show": "Show the selfie",
        "empty": "The review queue is empty.",
        "not_checked": "Not checked",
    },
    "zh-hans": {"show": "显示自拍照", "empty": "复核队列已清空。", "not_checked": "未检测"},
}

RUN_AXE = """
async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}));
}
"""


def _fits(page: Any) -> None:
    """Nothing wider than the window (no sideways scrolling)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the window"


def _docs_shot(page: Any, name: str) -> None:
    """With ``FACE_IDCARD_DOCS_SCREENSHOTS=<folder>``, the page as the docs show it."""
    folder = os.environ.get("FACE_IDCARD_DOCS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def _workbench(attempt: VerificationAttempt) -> str:
    return f"**/verificationattempt/{attempt.pk}/workbench/"


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_reviewer_works_the_queue_in_the_workbench(
    live_server: Any, face_settings: Any, open_page: Any, language: str, size: str
) -> None:
    first = finished(magic.REVIEW)
    second = finished(magic.REVIEW)
    staff_user(f"bench-{language}-{size}", *ALL)
    page = open_page(language)
    page.set_viewport_size(SIZES[size])
    admin_log_in(page, live_server.url, f"bench-{language}-{size}", QUEUE)
    # The queue fits beside its filters: its table is no wider than its column.
    widths = page.evaluate(
        "(() => { const t = document.querySelector('#result_list');"
        " return [t.getBoundingClientRect().width, t.parentElement.clientWidth]; })()"
    )
    assert widths[0] <= widths[1] + 1, widths
    _fits(page)

    page.click("a.face-idcard-workbench-start")
    page.wait_for_url(_workbench(first))
    _fits(page)
    assert magic.REVIEW not in page.content() and NAME not in page.content()
    assert page.locator(".fi-wb-liveness").inner_text() == TEXTS[language]["not_checked"]
    assert page.locator(".fi-wb-gauge-svg").is_visible()
    # The decision buttons are on the first screen beside the evidence at 1280 px.
    if size == "desktop":
        assert page.locator(".fi-wb-approve").bounding_box()["y"] < SIZES[size]["height"]

    # The selfie, for a purpose chosen from the list, audited once.
    page.select_option("select[name=purpose]", "review")
    page.click(f"button.fi-wb-reveal-button:has-text('{TEXTS[language]['show']}')")
    page.wait_for_url(_workbench(first))
    selfie = page.locator("img.fi-wb-photo")
    selfie.wait_for()
    page.wait_for_function("document.querySelector('img.fi-wb-photo').complete")
    assert selfie.evaluate("img => img.naturalWidth") > 0
    assert page.locator(".fi-wb-dimensions").inner_text().endswith("px")
    if language == "en" and size == "desktop":
        _docs_shot(page, "admin-workbench.png")
    viewed = first.events.filter(kind=EventKind.PII_VIEWED.value)
    assert [event.data for event in viewed] == [{"what": "selfie", "purpose": "review"}]
    _fits(page)

    # Keyboard only: A without a reason puts the focus in the reason; with one, it approves
    # and the next item of the queue opens.
    page.locator("body").focus()
    page.keyboard.press("a")
    assert page.evaluate("document.activeElement.id") == "id_reason"
    page.keyboard.type("同一人 / same person")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.wait_for_url(_workbench(second))
    first.refresh_from_db()
    assert first.review_decision == "match" and first.reviewed_at is not None

    # The last one: rejected with the mouse, then the empty queue says so.
    page.fill("textarea[name=reason]", "另一人 / another person")
    page.click("button.fi-wb-reject")
    page.wait_for_url(f"**{QUEUE}")
    assert TEXTS[language]["empty"] in page.locator(".messagelist").inner_text()
    second.refresh_from_db()
    assert second.review_decision == "no_match"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_reviewer_without_the_pii_permission_decides_from_the_score(
    live_server: Any, face_settings: Any, open_page: Any, language: str
) -> None:
    attempt = finished(magic.REVIEW)
    staff_user(f"bench-masked-{language}", "view_verificationattempt", "review")
    page = open_page(language)
    page.set_viewport_size(SIZES["tablet"])
    admin_log_in(page, live_server.url, f"bench-masked-{language}", QUEUE)
    page.goto(f"{live_server.url}/admin/face_idcard/verificationattempt/{attempt.pk}/workbench/")
    _fits(page)
    assert page.locator("select[name=purpose]").count() == 0
    assert page.locator("img.fi-wb-photo").count() == 0
    assert page.locator(".fi-wb-danger").count() == 0  # no retention permission
    page.fill("textarea[name=reason]", "score and history agree")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.wait_for_url(f"**{QUEUE}")
    attempt.refresh_from_db()
    assert attempt.review_decision == "no_match"
    assert not attempt.events.filter(kind=EventKind.PII_VIEWED.value).exists()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (FACE_IDCARD_AXE_CORE)")
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_workbench_has_no_serious_accessibility_violation(
    live_server: Any, face_settings: Any, open_page: Any, language: str
) -> None:
    attempt = finished(magic.NO_MATCH)
    staff_user(f"bench-axe-{language}", *ALL)
    page = open_page(language)
    admin_log_in(page, live_server.url, f"bench-axe-{language}", QUEUE)
    url = f"{live_server.url}/admin/face_idcard/verificationattempt/{attempt.pk}/workbench/"
    page.goto(url)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    assert page.evaluate(RUN_AXE) == []
    page.click("button.fi-wb-reveal-button")
    page.wait_for_function("document.querySelector('img.fi-wb-photo').complete")
    page.fill("textarea[name=reason]", "")
    page.click("button.fi-wb-approve")  # no reason: the form comes back with its error
    page.locator("#fi-wb-reason-error").wait_for()
    page.evaluate(AXE.read_text(encoding="utf-8"))
    assert page.evaluate(RUN_AXE) == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_four_eyes_review_happens_in_the_workbench(
    live_server: Any, face_settings: Any, open_page: Any, language: str
) -> None:
    attempt = finished(magic.NO_MATCH)
    staff_user(f"bench-first-{language}", *ALL)
    staff_user(f"bench-second-{language}", *ALL)
    first = open_page(language)
    # A machine "no match" is not queued: the first reviewer comes from its detail page.
    admin_log_in(first, live_server.url, f"bench-first-{language}", QUEUE)
    first.goto(f"{live_server.url}/admin/face_idcard/verificationattempt/{attempt.pk}/change/")
    first.click("a.face-idcard-workbench")
    first.wait_for_url(_workbench(attempt))
    assert first.locator(".fi-wb-gauge").get_attribute("data-decision") == "no_match"
    first.fill("textarea[name=reason]", "poor light, same face")
    first.click("button.fi-wb-approve")
    # Nothing left for the first reviewer: their own first review waits for someone else,
    # in the queue of the others.
    first.wait_for_url(f"**{QUEUE}")
    attempt.refresh_from_db()
    assert attempt.reviewed_at is None

    second = open_page(language)
    second.set_viewport_size(SIZES["tablet"])
    admin_log_in(second, live_server.url, f"bench-second-{language}", QUEUE)
    second.click("a.face-idcard-workbench-start")
    second.wait_for_url(_workbench(attempt))
    _fits(second)
    box = second.locator(".fi-wb-four-eyes")
    assert f"bench-first-{language}" in box.inner_text()
    assert "poor light, same face" in box.inner_text()
    second.fill("textarea[name=reason]", "agreed")
    second.click("button.fi-wb-approve")
    second.wait_for_url(f"**{QUEUE}")
    attempt.refresh_from_db()
    assert attempt.review_decision == "match" and attempt.reviewer is not None
    assert attempt.reviewer.username == f"bench-second-{language}"
