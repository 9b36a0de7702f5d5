"""The onboarding page's configuration, server side: the "continue" and guardian links come
from settings and never lead off the site; the language switch appears only where the site
mounts Django's ``set_language``."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import include, path

pytestmark = pytest.mark.django_db

#: A site without django.conf.urls.i18n (this module is its ROOT_URLCONF in one test).
urlpatterns = [
    path("api/face-idcard/", include("face_idcard.api.urls")),
    path("verify/", include("face_idcard.onboarding.urls")),
]


def _page(client: Client) -> tuple[str, dict[str, Any]]:
    response = client.get("/verify/")
    assert response.status_code == 200
    html = response.content.decode()
    match = re.search(r'<script id="fi-config" type="application/json">(.*?)</script>', html, re.S)
    assert match
    return html, json.loads(match.group(1))


@pytest.fixture
def client_in(client: Client) -> Client:
    client.force_login(get_user_model().objects.create_user("config-user"))
    return client


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("/welcome/", "/welcome/"),
        ("face_idcard_onboarding:page", "/verify/"),  # a URL name
        ("https://evil.example/phish", ""),  # another host: never an open redirect
        ("//evil.example/phish", ""),
        ("javascript:alert(1)", ""),
        ("no_such_url_name", ""),  # neither a path nor a URL name: no link
    ],
)
def test_the_continue_and_guardian_links_stay_on_the_site(
    client_in: Client, face_settings: Any, value: str | None, expected: str
) -> None:
    face_settings(ONBOARDING_CONTINUE_URL=value, ONBOARDING_GUARDIAN_URL=value)
    _html, config = _page(client_in)
    assert config["continueUrl"] == expected
    assert config["guardianUrl"] == expected


def test_the_language_switch_is_djangos_set_language(client_in: Client, face_settings: Any) -> None:
    face_settings()
    html, _config = _page(client_in)
    assert 'action="/i18n/setlang/"' in html
    # Each language named in itself.
    assert ">简体中文</option>" in html and ">English</option>" in html


@override_settings(ROOT_URLCONF=__name__)
def test_no_language_switch_without_set_language(client_in: Client, face_settings: Any) -> None:
    face_settings()
    html, _config = _page(client_in)
    assert "fi-language-select" not in html
