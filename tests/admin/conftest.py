"""The browser tests' fixtures (tests/support/browser.py: Chromium, the live server, pages
that keep a screenshot when their test fails) for the admin's browser tests."""

from tests.support.browser import browser_type_launch_args, live_server, open_page

__all__ = ["browser_type_launch_args", "live_server", "open_page"]
