"""Regenerate the documentation's screenshots: ``python docs/screenshots.py``.

The pictures are taken by the browser tests themselves, at the moment each test has brought a
page to the state the docs show (a form filled in, a verified result, the review queue, an
attempt's detail page, the workbench with its selfie, the statistics): so a screenshot is
never of a page the tests do not check, and it changes when the page does. This runs those
tests (headless Chromium through Playwright, the distribution's /usr/bin/chromium, SQLite,
the simulator over real HTTP) with ``FACE_IDCARD_DOCS_SCREENSHOTS`` naming the folder, and
says which files it wrote. Commit the PNGs it changes.

The onboarding page is shown in Chinese: Chromium needs a CJK font (``apt-get install
fonts-wqy-microhei``), else every character is an empty box; the script refuses to run without
one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "docs" / "_static" / "screenshots"

# The runs that take the pictures: the onboarding page in Chinese at a phone's size, the
# console in English (the workbench on a desktop screen).
RUNS = [
    "tests/onboarding/test_page_browser.py::test_a_user_completes_onboarding[chromium-zh-hans]",
    "tests/admin/test_attempts_browser.py::test_reviewer_works_the_queue[chromium-en]",
    "tests/admin/test_attempts_browser.py::test_operator_opens_the_statistics_from_the_index[chromium-en]",
    "tests/admin/test_workbench_browser.py::test_reviewer_works_the_queue_in_the_workbench[chromium-en-desktop]",
]


def _has_cjk_font() -> bool:
    fc_list = shutil.which("fc-list")  # fontconfig's, which Chromium reads fonts through
    if fc_list is None:
        return False
    listed = subprocess.run(  # noqa: S603 (fontconfig's own tool, fixed arguments)
        [fc_list, ":lang=zh"], capture_output=True, text=True, check=False, timeout=30
    )
    return bool(listed.stdout.strip())


def main() -> int:
    if not _has_cjk_font():
        print("no Chinese font: apt-get install fonts-wqy-microhei", file=sys.stderr)
        return 2
    started = time.time()
    FOLDER.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"FACE_IDCARD_DOCS_SCREENSHOTS": str(FOLDER)}
    result = subprocess.run(  # noqa: S603 (this interpreter and fixed arguments)
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *RUNS],
        cwd=ROOT,
        env=env,
        check=False,
    )
    written = sorted(p for p in FOLDER.glob("*.png") if p.stat().st_mtime >= started)
    for path in written:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")
    if result.returncode != 0:
        print("a browser test failed: its screenshots may be missing or stale", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
