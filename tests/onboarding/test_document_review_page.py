"""The onboarding page's way without the face, in a real browser (Debian's Chromium through
Playwright, the live server and the REST API): the chooser's link leads to the document review's
form; a keyboard reaches every control; a refused photo is explained beside its field, in the
page's language, with the focus on it; both sides sent, the person is told the photos wait for a
staff member, and the review is stored with them sealed; the face path's form is untouched."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from face_idcard.models import DocumentReview
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.browser import (
    CHROMIUM,
    browser_type_launch_args,
    live_server,
    open_page,
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

__all__ = ["browser_type_launch_args", "live_server", "open_page"]

PASSWORD = "a-documents-password-5"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
    pytest.mark.django_db(transaction=True),
]


def _log_in(page: Any, base: str, username: str) -> Any:
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    page.goto(f"{base}/verify/")
    page.wait_for_url("**/verify/login/**")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/verify/")
    return user


def _files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "front": tmp_path / "front.jpg",
        "back": tmp_path / "back.png",
        "bad": tmp_path / "notes.jpg",
    }
    paths["front"].write_bytes(imagefactory.jpeg(640, 400))
    paths["back"].write_bytes(imagefactory.png(640, 400))
    paths["bad"].write_bytes(b"this is not a photo of anything")
    return paths


def test_the_document_review_from_the_chooser_to_pending(
    live_server: Any, face_settings: Any, open_page: Any, tmp_path: Path
) -> None:
    files = _files(tmp_path)
    page = open_page("en")
    user = _log_in(page, live_server.url, "page-card-holder")
    face = page.locator("#fi-path-face")
    documents = page.locator("#fi-path-documents")
    expect(documents).to_be_visible()
    # Alike: the same size on screen, neither the lesser one.
    face_box, documents_box = face.bounding_box(), documents.bounding_box()
    assert face_box and documents_box
    assert abs(face_box["height"] - documents_box["height"]) < 1
    assert abs(face_box["width"] - documents_box["width"]) < 1
    documents.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**#fi-documents")

    page.locator("#fi-doc-consent").check()
    page.set_input_files("#fi-doc-front", str(files["bad"]))
    page.set_input_files("#fi-doc-back", str(files["back"]))
    page.fill("#fi-doc-number", magic.MATCH)
    page.fill("#fi-doc-name", "张三")
    page.locator("#fi-doc-submit").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#fi-doc-front-error")).not_to_be_empty()
    assert page.evaluate("document.activeElement.id") == "fi-doc-front"
    assert page.locator("#fi-doc-front").get_attribute("aria-invalid") == "true"
    assert not DocumentReview.objects.exists()

    page.set_input_files("#fi-doc-front", str(files["front"]))
    page.locator("#fi-doc-submit").click()
    result = page.locator("#fi-doc-result")
    expect(result).to_be_visible()
    assert "waiting for a staff member" in result.inner_text()
    assert page.evaluate("document.activeElement.id") == "fi-doc-result"
    expect(page.locator("#fi-doc-front-error")).to_be_empty()
    review = DocumentReview.objects.get(user=user)
    assert review.status == "pending" and review.has_documents
    assert review.front_content_type == "image/jpeg" and review.back_content_type == "image/png"
    # The face path is where it was, untouched.
    expect(page.locator("#fi-form")).to_be_visible()


def test_the_errors_speak_the_page_language(
    live_server: Any, face_settings: Any, open_page: Any, tmp_path: Path
) -> None:
    page = open_page("zh-hans")
    _log_in(page, live_server.url, "page-card-holder-zh")
    page.locator("#fi-doc-submit").click()
    consent = page.locator("#fi-doc-consent-error")
    expect(consent).not_to_be_empty()
    assert any("\u4e00" <= character <= "\u9fff" for character in consent.inner_text())
    assert page.evaluate("document.activeElement.id") == "fi-doc-consent"
