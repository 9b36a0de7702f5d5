"""Playwright on the distribution's Chromium: launch arguments, the live server, pages
that keep a screenshot when their test fails, the marks of a browser test module, and the
steps every browser test repeats (logging in to the admin or the onboarding page, tabbing).

A browser test module imports the fixtures it uses from here (pytest finds them in the
module's namespace) and sets ``pytestmark = MARKS``. First written in
tests/admin/test_attempts_browser.py; kept here so that no test module imports from another."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.support.users import user_with

# pytest-django's live_server beside Playwright's sync API (which runs an event loop).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "a-browser-test-password-1"

#: A browser test module's ``pytestmark``: marked ``browser`` (CI runs them apart), skipped
#: without Chromium, against the live server's committed data.
MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
    pytest.mark.django_db(transaction=True),
]


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A fake camera (a moving test pattern) whose permission is granted without a prompt: the
    # onboarding page's camera capture (tests/onboarding/test_page_camera.py). Pages that do
    # not ask for the camera never see it.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


ARTIFACTS = Path(
    os.environ.get("FACE_IDCARD_ARTIFACTS", Path(tempfile.gettempdir()) / "face_idcard-artifacts")
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """The distribution's Chromium: nothing is downloaded (no ``playwright install``)."""
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def live_server(django_db_setup: Any, live_server: Any) -> Any:
    """pytest-django's live server, started after the test database exists: started
    before, it would see SQLite's ":memory:" name and share the test thread's connection
    across threads (which crashes SQLite)."""
    return live_server


@pytest.fixture
def open_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``open_page(language)``: a fresh browser context speaking ``language``; on failure a
    screenshot of every page opened is kept."""
    pages: list[Any] = []

    def make(language: str) -> Any:
        context = browser.new_context(
            locale="zh-CN" if language.startswith("zh") else "en-US",
            extra_http_headers={"Accept-Language": language},
            viewport={"width": 1280, "height": 800},
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        pages.append(page)
        return page

    failed_before = request.session.testsfailed
    yield make
    failed = request.session.testsfailed > failed_before or getattr(request.node, "failed", False)
    for index, page in enumerate(pages):
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
            page.screenshot(path=str(ARTIFACTS / f"{name}-{index}.png"), full_page=True)
        page.context.close()


def staff_user(username: str, *codenames: str) -> Any:
    """A staff member with the permissions ``codenames`` and the password :data:`PASSWORD`."""
    user = user_with(username, *codenames)
    user.set_password(PASSWORD)
    user.save()
    return user


def admin_log_in(page: Any, base: str, username: str, next_url: str) -> None:
    """Log in through the admin's form, landing on ``next_url``."""
    page.goto(f"{base}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_url}")


def log_in(page: Any, base: str, username: str) -> Any:
    """A new end user ``username``, logged in through the onboarding page's login form."""
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    page.goto(f"{base}/verify/")
    page.wait_for_url("**/verify/login/**")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/verify/")
    return user


def tab_to(page: Any, element_id: str, limit: int = 40) -> None:
    """Press Tab until the element has the focus (as a keyboard user would)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")
