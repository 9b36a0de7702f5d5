"""Where the suite and the repository are, for tests that read files beside the code."""

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TESTS_DIR.parent

#: What the sdist and the wheel are built from (everything pyproject.toml and MANIFEST.in name).
BUILD_INPUTS = (
    "pyproject.toml",
    "MANIFEST.in",
    "README.rst",
    "README.zh-CN.rst",
    "CHANGELOG.rst",
    "LICENSE",
    "face_idcard",
)
