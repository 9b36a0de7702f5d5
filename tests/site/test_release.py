"""Release readiness: the sdist and the wheel build offline, pass the check PyPI makes of them
(``twine check --strict``: the long description renders), and say what CI tests.

The build runs from a copy of the sources (nothing left in the checkout) without build isolation
or an index, with the suite's own setuptools: no network.
"""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import face_idcard
from tests.support.paths import BUILD_INPUTS, REPO_ROOT

CI_SCRIPT = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("release")
    source = root / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    out = root / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--sdist",
            "--wheel",
            "--outdir",
            str(out),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("django_face_idcard-*.whl")
    return wheel


def _metadata(dist: Path) -> email.message.Message:
    with zipfile.ZipFile(_wheel(dist)) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode("utf-8"))


def test_twine_check_passes_strictly_on_both(dist: Path) -> None:
    files = sorted(dist.iterdir())
    assert sorted(f.suffix for f in files) == [".gz", ".whl"]
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_version_is_the_packages(dist: Path) -> None:
    assert _metadata(dist)["Version"] == face_idcard.__version__
    changelog = (REPO_ROOT / "CHANGELOG.rst").read_text(encoding="utf-8")
    release = re.sub(r"\.dev\d+$", "", face_idcard.__version__)
    assert f"\n{release} (" in changelog, "the changelog has no entry for this version"


def test_the_classifiers_name_what_ci_tests(dist: Path) -> None:
    metadata = _metadata(dist)
    classifiers = metadata.get_all("Classifier") or []
    pythons = {
        c.rsplit(" ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    djangos = {
        c.rsplit(" ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Framework :: Django :: \d+\.\d+", c)
    }
    # .ci/run finds each interpreter it runs with find_python X.Y (tests/site/test_ci_matrix.py
    # reads which configuration runs on which).
    tested_pythons = set(re.findall(r"find_python (3\.\d+)\)", CI_SCRIPT))
    tested_djangos = {
        f"{m[0]}.{m[1]}" for m in re.findall(r"\.ci/django(\d)(\d)-constraints\.txt", CI_SCRIPT)
    }
    assert tested_pythons and tested_djangos
    assert pythons == tested_pythons
    assert djangos == tested_djangos
    lowest = min(tested_pythons, key=lambda v: tuple(map(int, v.split("."))))
    assert metadata["Requires-Python"] == f">={lowest}"
    assert metadata["License-Expression"] == "MIT"


def test_the_wheel_holds_the_package_and_its_data_and_nothing_else(dist: Path) -> None:
    with zipfile.ZipFile(_wheel(dist)) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"face_idcard", f"django_face_idcard-{face_idcard.__version__}.dist-info"}
    assert "face_idcard/py.typed" in names
    assert "face_idcard/locale/zh_Hans/LC_MESSAGES/django.mo" in names
    assert any(name.endswith("codes.json") for name in names)
    assert any(name.startswith("face_idcard/templates/") for name in names)
    assert any(name.endswith("/licenses/LICENSE") for name in names)


def test_the_sdist_holds_the_sources_and_no_tests(dist: Path) -> None:
    (sdist,) = dist.glob("django_face_idcard-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for required in (
        "pyproject.toml",
        "README.rst",
        "README.zh-CN.rst",
        "CHANGELOG.rst",
        "LICENSE",
    ):
        assert required in names
    assert not any(name.startswith(("tests/", "example_project/", "bench/")) for name in names)
