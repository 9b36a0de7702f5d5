"""The review console in a real browser: Debian's Chromium, headless, through Playwright.

A reviewer logs in, opens the queue, reveals the number, name and selfie (whose link a
colleague cannot open), approves with a reason and finds it all in the audit trail; a staff
member without the PII permission sees only masks. In English and in Chinese. A failing test leaves a screenshot in ``$FACE_IDCARD_ARTIFACTS`` (default: a
``face_idcard-artifacts`` folder in the temporary directory). With
``FACE_IDCARD_DOCS_SCREENSHOTS=<folder>`` the English run also writes the docs' screenshots (docs/screenshots.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from face_idcard.simulator import magic
from tests.support.admin_helpers import ALL, NAME, finished
from tests.support.browser import MARKS, admin_log_in, staff_user

pytestmark = MARKS

TEXTS = {
    "en": {"approve": "Approve", "confirm": "Confirm", "reviewed": "Reviewed"},
    "zh-hans": {"approve": "批准", "confirm": "确认", "reviewed": "已复核"},
}


def _docs_shot(page: Any, name: str) -> None:
    folder = os.environ.get("FACE_IDCARD_DOCS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1600, "height": 640})
        page.screenshot(path=str(Path(folder) / name), full_page=False)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_reviewer_works_the_queue(
    live_server: Any, face_settings: Any, open_page: Any, language: str
) -> None:
    attempt = finished(magic.REVIEW)
    staff_user(f"reviewer-{language}", *ALL)
    page = open_page(language)
    queue = "/admin/face_idcard/attemptawaitingreview/"
    admin_log_in(page, live_server.url, f"reviewer-{language}", queue)
    row = page.locator("#result_list tbody tr", has_text=attempt.idcard_number_masked)
    assert row.count() == 1
    if language == "en":
        _docs_shot(page, "admin-queue.png")
    # The queue opens its items in the review workbench, which links to the detail page.
    row.locator("th a, td a").first.click()
    page.wait_for_url(f"**/verificationattempt/{attempt.pk}/workbench/")
    page.click(f"a[href$='/verificationattempt/{attempt.pk}/change/']")
    page.wait_for_url(f"**/verificationattempt/{attempt.pk}/change/")
    assert magic.REVIEW not in page.content()
    if language == "en":
        _docs_shot(page, "admin-detail.png")

    page.click("button.face-idcard-reveal")
    page.wait_for_url(f"**/{attempt.pk}/reveal/")
    assert page.locator(".face-idcard-number").inner_text() == magic.REVIEW
    assert page.locator(".face-idcard-name").inner_text() == NAME
    selfie = page.locator("img.face-idcard-selfie")
    selfie.wait_for()
    page.wait_for_function("document.querySelector('img.face-idcard-selfie').complete")
    assert selfie.evaluate("img => img.naturalWidth") > 0
    # The image's link works in this session only, and loading it recorded nothing more.
    link = selfie.get_attribute("src")
    assert link and magic.REVIEW not in link and "/selfie/" in link
    staff_user(f"colleague-{language}", *ALL)
    colleague = open_page(language)
    admin_log_in(colleague, live_server.url, f"colleague-{language}", "/admin/")
    foreign = colleague.goto(f"{live_server.url}{link}")
    assert foreign is not None and foreign.status == 403
    # Reloading the reveal page by GET offers the audited POST again; it shows nothing.
    page.goto(f"{live_server.url}/admin/face_idcard/verificationattempt/{attempt.pk}/reveal/")
    assert page.locator("button.face-idcard-reveal").count() == 1
    assert magic.REVIEW not in page.content() and NAME not in page.content()

    page.goto(f"{live_server.url}/admin/face_idcard/verificationattempt/{attempt.pk}/change/")
    page.click(f"button[data-action=approve]:has-text('{TEXTS[language]['approve']}')")
    page.fill("textarea[name=reason]", "同一人 / same person")
    page.click(f"input[type=submit][value='{TEXTS[language]['confirm']}']")
    page.wait_for_selector("ul.messagelist")
    page.goto(f"{live_server.url}/admin/face_idcard/verificationattempt/{attempt.pk}/change/")
    timeline = page.locator("table.face-idcard-timeline")
    reviewed = timeline.locator("tr", has=page.locator("td[data-kind=reviewed]"))
    assert reviewed.count() == 1
    assert "同一人 / same person" in reviewed.inner_text()
    viewed = timeline.locator("td[data-kind=pii_viewed]")
    assert viewed.count() == 2  # the number and name, then the selfie
    attempt.refresh_from_db()
    assert attempt.review_decision == "match" and attempt.reviewer is not None
    assert attempt.reviewer.username == f"reviewer-{language}"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_staff_without_the_pii_permission_sees_masks_only(
    live_server: Any, face_settings: Any, open_page: Any, language: str
) -> None:
    attempt = finished(magic.REVIEW)
    staff_user(f"masked-{language}", "view_verificationattempt", "review")
    page = open_page(language)
    detail = f"/admin/face_idcard/verificationattempt/{attempt.pk}/change/"
    admin_log_in(page, live_server.url, f"masked-{language}", detail)
    html = page.content()
    assert attempt.idcard_number_masked in html and attempt.idcard_name_masked in html
    assert magic.REVIEW not in html and NAME not in html
    assert page.locator("button.face-idcard-reveal").count() == 0
    listing = page.goto(f"{live_server.url}/admin/face_idcard/verificationattempt/")
    assert listing is not None and listing.ok
    assert magic.REVIEW not in page.content() and NAME not in page.content()
    selfie = page.goto(
        f"{live_server.url}/admin/face_idcard/verificationattempt/selfie/{attempt.pk}/"
    )
    assert selfie is not None and selfie.status == 403
    reveal = page.goto(
        f"{live_server.url}/admin/face_idcard/verificationattempt/{attempt.pk}/reveal/"
    )
    assert reveal is not None and reveal.status == 403
    assert not attempt.events.filter(kind="pii_viewed").exists()


STATS_TEXTS = {
    "en": {"link": "Statistics", "status": "Attempts by status", "completed": "Completed"},
    "zh-hans": {"link": "统计", "status": "按状态统计的核验", "completed": "已完成"},
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_operator_opens_the_statistics_from_the_index(
    live_server: Any, face_settings: Any, open_page: Any, language: str
) -> None:
    finished(magic.MATCH)
    finished(magic.REVIEW)
    finished(magic.NAME_MISMATCH)
    staff_user(f"operator-{language}", "view_verificationattempt")
    page = open_page(language)
    admin_log_in(page, live_server.url, f"operator-{language}", "/admin/")
    texts = STATS_TEXTS[language]
    page.click(f"a[href$='/verificationstatistics/']:has-text('{texts['link']}')")
    page.wait_for_url("**/verificationstatistics/")
    charts = page.locator("svg.face-idcard-chart")
    assert charts.count() == 4
    status = page.locator("svg[data-chart=status]")
    assert status.is_visible()
    completed = status.locator(f"g.face-idcard-bar[data-label='{texts['completed']}']")
    assert completed.get_attribute("data-value") == "2"
    assert completed.locator("text.face-idcard-number").text_content() == "2"
    assert completed.locator("rect").bounding_box()["width"] > 0  # type: ignore[index]
    assert texts["status"] in page.content()
    assert page.locator("[data-figure=total]").inner_text() == "3"
    if language == "en":
        _docs_shot(page, "admin-statistics.png")
    page.select_option("select[name=window]", "7d")
    page.click("form.face-idcard-scope input[type=submit]")
    page.wait_for_url("**window=7d**")
    assert page.locator("svg.face-idcard-chart").count() == 4
    page.goto(f"{live_server.url}/admin/face_idcard/verificationstatistics/calibration/")
    assert page.locator("svg[data-chart=histogram]").is_visible()
