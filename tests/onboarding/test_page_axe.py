"""An automated accessibility check of the onboarding page: axe-core (from the npm registry,
installed by .ci/run; never downloaded by the test) finds no serious or critical violation in
the form, the form with its errors shown, and the result.

``FACE_IDCARD_AXE_CORE`` names axe.min.js; without it the test is skipped, unless
``FACE_IDCARD_REQUIRE_AXE=1`` (set by .ci/run) makes its absence a failure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from face_idcard.simulator import magic
from tests.support.browser import CHROMIUM, browser_type_launch_args, live_server, open_page
from tests.support.paths import REPO_ROOT

__all__ = ["browser_type_launch_args", "live_server", "open_page"]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

AXE = Path(os.environ.get("FACE_IDCARD_AXE_CORE", REPO_ROOT / "node_modules/axe-core/axe.min.js"))
REQUIRED = os.environ.get("FACE_IDCARD_REQUIRE_AXE") == "1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium"),
    pytest.mark.skipif(
        not AXE.exists() and not REQUIRED,
        reason="axe-core not installed (npm install axe-core; FACE_IDCARD_AXE_CORE=.../axe.min.js)",
    ),
    pytest.mark.django_db(transaction=True),
]

#: The page's own CSP forbids inline scripts: axe is evaluated through the DevTools protocol,
#: which the CSP does not govern, and answers the violations of the impacts that matter.
RUN_AXE = """
async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}));
}
"""


def _violations(page: Any) -> list[dict[str, Any]]:
    assert AXE.exists(), f"axe-core is required here and missing: {AXE}"
    page.evaluate(AXE.read_text(encoding="utf-8"))
    return list(page.evaluate(RUN_AXE))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_no_serious_accessibility_violation(
    live_server: Any,
    face_settings: Any,
    celery_worker_thread: Any,
    open_page: Any,
    simulator: Any,
    tmp_path: Path,
    language: str,
) -> None:
    from django.contrib.auth import get_user_model

    face_settings(NOTICE_CURRENT_VERSION="notice-2026-12")
    get_user_model().objects.create_user(f"axe-{language}", password="an-axe-password-1")
    page = open_page(language)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/verify/")
    page.fill("#id_username", f"axe-{language}")
    page.fill("#id_password", "an-axe-password-1")
    page.click("button[type=submit]")
    page.wait_for_url("**/verify/")

    assert _violations(page) == []  # the form, before consent
    page.check("#fi-consent-box")
    page.fill("#fi-number", "110110199909090909")  # a wrong check character
    page.click("#fi-submit")
    expect(page.locator("#fi-number-error")).not_to_have_text("")
    assert _violations(page) == []  # the form with its errors

    from tests.support import imagefactory

    photo = tmp_path / "selfie.jpg"
    photo.write_bytes(imagefactory.noise_jpeg(640, 800))
    page.set_input_files("#fi-photo-file", str(photo))
    page.fill("#fi-number", magic.MATCH)
    page.fill("#fi-name", "张三")
    page.click("#fi-submit")
    expect(page.locator("#fi-result")).to_be_visible(timeout=30_000)
    assert _violations(page) == []  # the result
