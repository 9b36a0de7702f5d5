"""The documentation site builds offline with no warning, and its reference is the code's.

The reference pages are generated (docs/_ext/face_idcard_reference.py); these tests read the
code a second, independent way (the settings dict, a plain search of the source for check ids,
the commands' directory) and look for each item in the built pages, so a generator that drops
one fails here.
"""

from __future__ import annotations

import pprint
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from face_idcard.conf import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(html: Path) -> str:
    parser = _Text()
    parser.feed(html.read_text(encoding="utf-8"))
    return " ".join(" ".join(parser.parts).split())


def _build(out: Path, *options: str) -> Path:
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-n",
            "-W",
            "--keep-going",
            "-q",
            "-c",
            "docs",
            *options,
            ".",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    # -q still prints warnings on stderr; -W turned each into a failure above, but say so.
    assert "WARNING" not in build.stderr, build.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("docs"))


@pytest.fixture(scope="module")
def site_zh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Chinese site, as ``make docs`` builds it (its catalogues compiled on the way)."""
    return _build(tmp_path_factory.mktemp("docs-zh"), "-D", "language=zh_CN")


def test_the_settings_reference_lists_every_key_with_its_default(site: Path) -> None:
    page = _text(site / "docs" / "reference" / "settings.html")
    for key, default in DEFAULTS.items():
        assert f"{key} {pprint.saferepr(default)}" in page, f"no row for {key} and its default"
    # A key's row holds its documentation (the comment above it in conf.py), not only its name.
    assert "The alias new attempts use." in page


def test_the_checks_reference_lists_every_check_id_in_the_source(site: Path) -> None:
    page = _text(site / "docs" / "reference" / "checks.html")
    in_source = {
        match
        for path in (ROOT / "face_idcard").rglob("*.py")
        for match in re.findall(r"face_idcard\.[EWCI]\d{3}", path.read_text(encoding="utf-8"))
    }
    assert len(in_source) > 20
    missing = sorted(check_id for check_id in in_source if check_id not in page)
    assert not missing, f"the checks reference misses {missing}"


def test_the_commands_reference_has_each_commands_help(site: Path) -> None:
    page = _text(site / "docs" / "reference" / "commands.html")
    commands = [
        path.stem
        for path in (ROOT / "face_idcard" / "management" / "commands").glob("face_idcard_*.py")
    ]
    assert commands
    for name in commands:
        assert f"usage: manage.py {name}" in page, f"the commands reference misses {name}"


def test_the_services_reference_shows_every_public_verb_with_its_signature(site: Path) -> None:
    from face_idcard import services

    page = _text(site / "docs" / "reference" / "services.html")
    for verb in services.__all__:
        assert re.search(rf"face_idcard\.services\. ?{verb} ?\(", page), f"no signature of {verb}"


def test_the_api_reference_lists_every_operation_of_the_schema(site: Path) -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    page = _text(site / "docs" / "reference" / "api.html")
    operation_ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert operation_ids
    for operation_id in operation_ids:
        assert operation_id in page, f"the API reference misses {operation_id}"


def test_the_site_has_the_structure_of_a_manual(site: Path) -> None:
    """Quick start, tutorial, topics, how-tos, reference, internals and the changelog, each
    reached from the front page; the README, now short, points here instead of being a page."""
    index = (site / "docs" / "index.html").read_text(encoding="utf-8")
    for page in (
        "quickstart",
        "tutorial",
        "topics/lifecycle",
        "topics/limits",
        "topics/privacy-and-keys",
        "topics/backends",
        "topics/simulator",
        "topics/api",
        "topics/review",
        "topics/insight",
        "topics/deployment",
        "howto/production",
        "howto/switch-providers",
        "howto/rotate-keys",
        "howto/pipl-request",
        "reference/settings",
        "internals/benchmarks",
        "internals/mutation",
        "internals/ci",
    ):
        assert (site / "docs" / f"{page}.html").is_file(), page
        assert f'href="{page}.html"' in index, f"the front page does not link {page}"
    assert '"../CHANGELOG.html"' in index
    assert (site / "CHANGELOG.html").is_file()
    # The tutorial's snippets are on the page as the install test reads them.
    tutorial = _text(site / "docs" / "tutorial.html")
    assert "install-snippet" not in tutorial
    assert "INSTALLED_APPS" in tutorial and "secret_from_env" in tutorial


def test_the_chinese_site_translates_the_path_to_a_first_user_and_falls_back_to_english(
    site_zh: Path,
) -> None:
    assert 'lang="zh-CN"' in (site_zh / "docs" / "index.html").read_text(encoding="utf-8")
    for page, title in (
        ("docs/index", "入门"),
        ("docs/quickstart", "快速开始：两条命令"),
        ("docs/tutorial", "教程：网站核验第一位用户"),
        ("docs/howto/production", "上线生产环境"),
        ("docs/howto/pipl-request", "处理个人信息保护法（PIPL）请求"),
    ):
        assert title in _text(site_zh / f"{page}.html"), page
    # The snippets are code, never translated: the install test's blocks read the same.
    tutorial = _text(site_zh / "docs" / "tutorial.html")
    assert "INSTALLED_APPS" in tutorial and 'secret_from_env ( "FACE_IDCARD_PII_KEY" )' in tutorial
    # A page without a catalogue yet is the English page, not an empty one.
    assert "Every key of the" in _text(site_zh / "docs" / "reference" / "settings.html")


def test_every_chinese_catalogue_belongs_to_a_page_and_keeps_no_stale_entry() -> None:
    from babel.messages.pofile import read_po

    locale = ROOT / "docs" / "locale" / "zh_CN" / "LC_MESSAGES"
    catalogues = sorted(locale.rglob("*.po"))
    assert catalogues
    for path in catalogues:
        page = path.relative_to(locale).with_suffix(".rst")
        assert (ROOT / page).is_file(), f"{path.name}: no page {page}"
        with path.open("rb") as handle:
            catalogue = read_po(handle)
        assert not catalogue.obsolete, f"{path}: obsolete entries (run make docs-messages)"
        translated = [m for m in catalogue if m.id and m.string and not m.fuzzy]
        assert translated, f"{path} translates nothing"


@pytest.mark.parametrize("readme", ["README.rst", "README.zh-CN.rst"])
def test_the_readmes_link_only_to_files_that_exist_and_to_the_same_pages(readme: str) -> None:
    """The READMEs are read on GitHub and PyPI, outside the site: their links are paths,
    which Sphinx does not check, so this does; and the Chinese one links every page the
    English one does."""
    text = (ROOT / readme).read_text(encoding="utf-8")
    targets = re.findall(r"`[^`<]*<([^>]+)>`_", text)
    assert len(targets) > 15
    for target in targets:
        assert "://" not in target, f"{readme} links off the repository: {target}"
        assert (ROOT / target).is_file(), f"{readme} links to {target}, which does not exist"
    english = set(re.findall(r"`[^`<]*<([^>]+)>`_", (ROOT / "README.rst").read_text("utf-8")))
    assert set(targets) - {"README.rst", "README.zh-CN.rst"} == english - {
        "README.rst",
        "README.zh-CN.rst",
    }
