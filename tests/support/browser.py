"""Playwright on the distribution's Chromium: launch arguments, the live server, pages
that keep a screenshot when their test fails.

First written in tests/admin/test_attempts_browser.py; kept here so that no test module imports
from another."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


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
