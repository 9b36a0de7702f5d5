"""The onboarding page offers the non-face alternative as plainly as the face: the two ways
side by side, alike (the same element, class and size of text), before the face path's
consent; the document review's own form with its consent, both photos, the number and the name,
each with a label and an error line; and nothing of it where the site offers no alternative."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client: Client) -> Client:
    client.force_login(get_user_model().objects.create_user("path-chooser"))
    return client


def test_both_ways_are_offered_alike_before_the_face_consent(
    logged_in: Client, settings: object
) -> None:
    html = logged_in.get("/verify/").content.decode()
    face = re.search(r'<a class="([^"]+)" id="fi-path-face" href="#fi-consent">([^<]+)</a>', html)
    documents = re.search(
        r'<a class="([^"]+)" id="fi-path-documents" href="#fi-documents">([^<]+)</a>', html
    )
    assert face and documents
    assert face.group(1) == documents.group(1)  # the same look: neither is the lesser one
    assert html.index('id="fi-paths"') < html.index('id="fi-consent"')
    assert 'id="fi-documents"' in html and 'data-url="/api/face-idcard/document-reviews/"' in html
    for control in (
        "fi-doc-consent",
        "fi-doc-front",
        "fi-doc-back",
        "fi-doc-number",
        "fi-doc-name",
    ):
        assert f'id="{control}"' in html
        assert 'aria-describedby="' in html
        assert f"{control}-error" in html
    for control in ("fi-doc-front", "fi-doc-back", "fi-doc-number", "fi-doc-name"):
        assert f'<label for="{control}">' in html
    assert "onboarding_documents.js" in html


def test_in_chinese(logged_in: Client) -> None:
    html = logged_in.get("/verify/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    chooser = html[html.index('id="fi-paths"') : html.index("</nav>")]
    assert "人脸" in chooser


def test_nothing_of_it_without_an_alternative(logged_in: Client, settings: object) -> None:
    from django.conf import settings as django_settings
    from django.test import override_settings

    with override_settings(
        FACE_IDCARD={**django_settings.FACE_IDCARD, "NON_FACE_ALTERNATIVES": []}
    ):
        html = logged_in.get("/verify/").content.decode()
    assert 'id="fi-paths"' not in html and 'id="fi-documents"' not in html
