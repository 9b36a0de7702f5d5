"""Browser hardening of the app's own views: never framed (onboarding, login, the admin's
reveal and selfie), a strict Content-Security-Policy on the onboarding page (which has no
inline script or style), nothing cached (the page and every API answer), no autofill of the
name, and the CSRF token handed to the page's script in its configuration."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from face_idcard.simulator import magic
from tests.support.admin_helpers import CHANGELIST, client_for, finished
from tests.support.api_helpers import BASE, form
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.django_db

PAGE = "/verify/"
LOGIN = "/verify/login/"
STATIC_JS = REPO_ROOT / "face_idcard/static/face_idcard/onboarding.js"


def logged_in(username: str = "hardening-user", **client_options: Any) -> Client:
    user, _ = get_user_model().objects.get_or_create(username=username)
    client = Client(**client_options)
    client.force_login(user)
    return client


def directives(response: Any) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in policy.split(";")
        if part.strip()
    }


def no_store(response: Any) -> None:
    parts = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= parts, response["Cache-Control"]


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_handlers: list[str] = []
        self.styles = 0
        self.style_attributes = 0
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.config = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.inline_handlers += [name for name in attributes if name.startswith("on")]
        self.style_attributes += "style" in attributes
        if tag == "script":
            self.scripts.append(attributes)
            self._in_config = attributes.get("id") == "fi-config"
        elif tag == "style":
            self.styles += 1
        elif tag == "input" and attributes.get("id"):
            self.inputs[str(attributes["id"])] = attributes

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config += data


def page_markup(response: Any) -> _Markup:
    markup = _Markup()
    markup.feed(response.content.decode())
    return markup


# --- the onboarding page ----------------------------------------------------------------------


def test_the_onboarding_page_is_never_framed_and_never_cached(settings: Any) -> None:
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"  # the site's default does not weaken the page
    response = logged_in().get(PAGE)
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert directives(response)["frame-ancestors"] == "'none'"
    no_store(response)


def test_the_onboarding_page_has_a_strict_content_security_policy() -> None:
    policy = directives(logged_in().get(PAGE))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["base-uri"] == "'none'" and policy["object-src"] == "'none'"
    assert policy["form-action"] == "'self'"
    # The photo preview is an object url; nothing else leaves the site.
    assert policy["img-src"] == "'self' blob:"
    joined = " ".join(policy.values())
    assert "unsafe-inline" not in joined and "unsafe-eval" not in joined and "*" not in joined


def test_static_files_on_another_host_are_allowed_by_the_policy(settings: Any) -> None:
    settings.STATIC_URL = "https://static.example.com/assets/"
    policy = directives(logged_in().get(PAGE))
    assert policy["script-src"] == "'self' https://static.example.com"
    assert policy["connect-src"] == "'self'"


def test_the_page_needs_no_inline_script_or_style() -> None:
    """What the policy forbids, the page does not use: it still works (the browser test)."""
    markup = page_markup(logged_in().get(PAGE))
    for script in markup.scripts:
        assert script.get("src") or script.get("type") == "application/json", script
    assert markup.inline_handlers == [] and markup.styles == 0 and markup.style_attributes == 0


def test_the_name_field_is_not_autofilled() -> None:
    markup = page_markup(logged_in().get(PAGE))
    assert markup.inputs["fi-name"]["autocomplete"] == "off"
    assert markup.inputs["fi-number"]["autocomplete"] == "off"


def test_the_login_page_is_never_framed_either(settings: Any) -> None:
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    response = Client().get(LOGIN)
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert directives(response)["frame-ancestors"] == "'none'"


# --- the CSRF token in the page's configuration -------------------------------------------


@pytest.mark.parametrize("use_sessions", [False, True], ids=["cookie", "session"])
def test_the_csrf_token_comes_in_the_page_config_and_the_api_accepts_it(
    settings: Any, face_settings: Any, use_sessions: bool
) -> None:
    """With CSRF_USE_SESSIONS (no CSRF cookie at all) or a renamed cookie, a script reading
    a cookie named csrftoken sent nothing and every submit was refused."""
    cache.clear()
    settings.CSRF_USE_SESSIONS = use_sessions
    settings.CSRF_COOKIE_NAME = "site_csrf"
    client = logged_in("csrf-user", enforce_csrf_checks=True)
    config = json.loads(page_markup(client.get(PAGE)).config)
    assert config["csrfToken"] and config["csrfHeader"] == "X-CSRFTOKEN"
    refused = client.post(BASE, form(), headers={"Idempotency-Key": "csrf-1"})
    assert refused.status_code == 403
    accepted = client.post(
        BASE, form(), headers={config["csrfHeader"]: config["csrfToken"], "Idempotency-Key": "c2"}
    )
    assert accepted.status_code == 202, accepted.content


def test_the_script_reads_no_cookie() -> None:
    script = STATIC_JS.read_text(encoding="utf-8")
    assert "document.cookie" not in script and "csrftoken" not in script
    assert re.search(r"config\.csrfToken", script)


# --- the API ----------------------------------------------------------------------------------


def test_every_api_answer_is_no_store_private(face_settings: Any) -> None:
    from tests.support.api_helpers import client_for as api_client
    from tests.support.api_helpers import create, plain_user

    cache.clear()
    client = api_client(plain_user("cache-owner"))
    created = create(client)
    assert created.status_code == 202
    attempt_url = f"{BASE}{created.json()['id']}/"
    answers = {
        "create": created,
        "retrieve": client.get(attempt_url),
        "list": client.get(BASE),
        "invalid": create(client, idcard_number="123"),
        "not found": client.get(f"{BASE}00000000-0000-0000-0000-000000000000/"),
        "unauthenticated": api_client().get(BASE),
    }
    assert [answer.status_code for answer in answers.values()] == [202, 200, 200, 400, 404, 401]
    for name, answer in answers.items():
        assert answer["Content-Type"].startswith("application/json"), name
        no_store(answer)


# --- the admin's reveal and selfie ------------------------------------------------------------


def test_the_reveal_and_selfie_views_are_never_framed(settings: Any, face_settings: Any) -> None:
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    attempt = finished(magic.REVIEW)
    viewer, _ = client_for("frame-viewer", "view_verificationattempt", "view_pii")
    reveal = viewer.post(f"{CHANGELIST}{attempt.pk}/reveal/")
    selfie = viewer.get(reveal.context["selfie_url"])
    assert reveal.status_code == selfie.status_code == 200
    assert reveal["X-Frame-Options"] == selfie["X-Frame-Options"] == "DENY"
