"""Every code snippet of the docs is tested, read from the pages (tests/support/snippets.py).

- Every Python block compiles, and Python is never hidden in a plain literal block (``::``),
  where nothing would look at it.
- Every block that sets ``FACE_IDCARD`` is run, its secrets read from the environment as the
  page reads them, and the app's system checks find no error in the result.
- A marked snippet (``.. install-snippet: NAME``) is applied by a test that names it: the
  tutorial's and the production how-to's by tests/site/test_install.py (in a fresh site) and
  tests/site/test_production_settings.py; the others below. A new marked snippet with no test
  fails here, and so does a code block of the tutorial or the production how-to left unmarked.
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import ERROR, run_checks
from django.test import override_settings
from django.utils.module_loading import import_string
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory

from face_idcard.api.views import AttemptViewSet
from face_idcard.conf import secret_from_env
from tests.support.paths import REPO_ROOT
from tests.support.snippets import Block, all_code_blocks, code_blocks, pages, snippet
from tests.support.users import user_with

FERNET = "3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE="
OLD_FERNET = "q1cXo2dVpV7c7QmV7n1m3n4sW8pQm2F3f7dJ3Vb0x1Y="

#: Each marked snippet and the test file that applies it.
APPLIED_BY = {
    "secrets": "tests/site/test_install.py",
    "settings": "tests/site/test_install.py",
    "celery.py": "tests/site/test_install.py",
    "__init__.py": "tests/site/test_install.py",
    "first-verification": "tests/site/test_install.py",
    "production-backend": "tests/site/test_install.py",
    "production": "tests/site/test_production_settings.py",
    "api-settings": "tests/site/test_doc_snippets.py",
    "switch-providers": "tests/site/test_doc_snippets.py",
    "rotate-keys": "tests/site/test_doc_snippets.py",
}
#: Pages whose every code block is applied by a test.
FOLLOWED_LITERALLY = ("docs/tutorial.rst", "docs/howto/production.rst")

BLOCKS = all_code_blocks()


def _python_blocks() -> list[Block]:
    return [block for block in BLOCKS if block.language == "python"]


def _is_code(text: str) -> bool:
    """Python with a statement in it (a bare dict or string is data, e.g. a JSON payload)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    data = (ast.Dict, ast.Constant)
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, data)) for node in tree.body
    )


def _literal_blocks(path: Path) -> list[tuple[int, str]]:
    """The ``::`` literal blocks of a page: (line, dedented text)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for index, line in enumerate(lines):
        if not line.rstrip().endswith("::") or line.strip().startswith(".."):
            continue
        indent = len(line) - len(line.lstrip())
        body: list[str] = []
        for following in lines[index + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        found.append((index + 1, textwrap.dedent("\n".join(body)).strip()))
    return found


def test_the_snippet_reader_finds_blocks_and_their_markers() -> None:
    text = textwrap.dedent(
        """\
        Intro.

        .. install-snippet: one

        .. code-block:: python

            a = 1

        .. code-block:: shell
           :caption: options are skipped

            echo two
        """
    )
    blocks = list(code_blocks(text))
    assert [(b.name, b.language, b.code) for b in blocks] == [
        ("one", "python", "a = 1\n"),
        ("", "shell", "echo two\n"),
    ]
    assert snippet("one", text) == "a = 1\n"


def test_every_python_block_compiles() -> None:
    assert len(_python_blocks()) > 20
    for block in _python_blocks():
        try:
            compile(block.code, block.where(), "exec")
        except SyntaxError as error:
            pytest.fail(f"{block.where()}: {error}")
    for block in BLOCKS:
        if block.language == "json":
            json.loads(block.code)


def test_no_python_hides_in_a_plain_literal_block() -> None:
    hidden = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in pages()
        if not path.name.startswith("README")
        for line, text in _literal_blocks(path)
        if text and _is_code(text)
    ]
    assert not hidden, f"make these '.. code-block:: python' so they are tested: {hidden}"


def test_every_marked_snippet_is_applied_by_a_test() -> None:
    marked = {block.name for block in BLOCKS if block.name}
    assert marked == set(APPLIED_BY)
    for name, test_file in APPLIED_BY.items():
        source = (REPO_ROOT / test_file).read_text(encoding="utf-8")
        assert f'snippet("{name}")' in source, f"{test_file} does not apply {name!r}"


@pytest.mark.parametrize("page", FOLLOWED_LITERALLY)
def test_every_code_block_of_the_followed_pages_is_marked(page: str) -> None:
    blocks = [block for block in BLOCKS if block.path == REPO_ROOT / page]
    assert blocks
    assert all(block.name for block in blocks), [b.where() for b in blocks if not b.name]


def _secret_names(code: str) -> set[str]:
    return {
        node.args[0].value
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "secret_from_env"
        and isinstance(node.args[0], ast.Constant)
    }


def _run_settings(monkeypatch: pytest.MonkeyPatch, *codes: str) -> dict[str, Any]:
    """Run settings code as a settings file would, every secret it reads set in the
    environment; the upper-case names it leaves."""
    monkeypatch.setenv("FACE_IDCARD_PII_KEY", FERNET)
    monkeypatch.setenv("FACE_IDCARD_HASH_KEY", "Jq4v1u8Zb2yHk0cX7mTnR3sWfLp9dEaG-docs")
    monkeypatch.setenv("FACE_IDCARD_PII_KEY_OLD", OLD_FERNET)
    monkeypatch.setenv("FACE_IDCARD_HASH_KEY_OLD", "old-hash-key-Xr8sT2vW5yZ1aB4cD7eF0gH3")
    for code in codes:
        for name in _secret_names(code):
            if not name.startswith("FACE_IDCARD_"):
                monkeypatch.setenv(name, f"docs-example-{name.lower()}-0123456789")
    namespace: dict[str, Any] = {
        "os": __import__("os"),
        "secret_from_env": secret_from_env,
        "BASE_DIR": Path("/srv/mysite"),
        "INSTALLED_APPS": ["django.contrib.auth", "django.contrib.contenttypes"],
        "DATABASES": {"default": {}},
    }
    for code in codes:
        exec(code, namespace)
    return {key: value for key, value in namespace.items() if key.isupper()}


def _errors(face_idcard: dict[str, Any], **django: Any) -> list[str]:
    with override_settings(DEBUG=True, FACE_IDCARD=face_idcard, **django):
        messages = run_checks(tags=["face_idcard"])
    return [f"{m.id}: {m.msg}" for m in messages if m.level >= ERROR]


SETTINGS_EXAMPLES = [
    block
    for block in _python_blocks()
    if not block.name
    and any(
        isinstance(node, ast.Assign)
        and any(getattr(target, "id", "") == "FACE_IDCARD" for target in node.targets)
        for node in ast.parse(block.code).body
    )
]


def test_the_settings_examples_are_found() -> None:
    # backends (the aliases, the FaceID block), Alibaba Cloud (two), liveness
    assert len(SETTINGS_EXAMPLES) >= 5, [b.where() for b in SETTINGS_EXAMPLES]


@pytest.mark.parametrize("block", SETTINGS_EXAMPLES, ids=Block.where)
def test_each_settings_example_passes_the_system_checks(
    block: Block, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = _run_settings(monkeypatch, block.code)
    assert not _errors(values["FACE_IDCARD"]), block.where()


def test_switching_providers_keeps_the_tutorials_alias_and_passes_the_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = _run_settings(monkeypatch, snippet("settings"), snippet("switch-providers"))
    face = values["FACE_IDCARD"]
    assert face["DEFAULT_BACKEND"] == "alibaba"
    assert set(face["BACKENDS"]) == {"default", "alibaba"}
    assert not _errors(face, STORAGES=values["STORAGES"])


def test_the_rotation_lists_the_new_keys_first(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _run_settings(monkeypatch, snippet("settings"), snippet("rotate-keys"))
    face = values["FACE_IDCARD"]
    assert face["PII_ENCRYPTION_KEYS"] == [FERNET, OLD_FERNET]
    assert face["PII_HASH_KEYS"][1].startswith("old-hash-key")
    assert not _errors(face, STORAGES=values["STORAGES"])


def _list_view(authentication: list[str]) -> Any:
    """The API's list view as a site with these authentication classes has it (DRF binds a
    view's classes when the class is defined, so a setting changed in a test cannot reach the
    views already imported)."""
    classes = [import_string(path) for path in authentication]
    view = type("DocsAttemptViewSet", (AttemptViewSet,), {"authentication_classes": classes})
    return view.as_view({"get": "list"})


@pytest.mark.django_db
def test_the_api_settings_answer_401_without_a_token_and_accept_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The REST API page's claim: with its settings a token works and no credentials is 401;
    with DRF's default authentication (the session, then HTTP Basic) a token is ignored and
    the answer is 403."""
    values = _run_settings(monkeypatch, snippet("api-settings"))
    assert {"rest_framework", "rest_framework.authtoken"} <= set(values["INSTALLED_APPS"])
    token = Token.objects.create(user=user_with("docs-api-client"))
    documented = _list_view(values["REST_FRAMEWORK"]["DEFAULT_AUTHENTICATION_CLASSES"])
    factory = APIRequestFactory()
    url = "/api/face-idcard/attempts/"

    anonymous = documented(factory.get(url))
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert anonymous.data["error"]["code"] == "not_authenticated"
    with_token = factory.get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert documented(with_token).status_code == 200

    drf_default = _list_view(
        [
            "rest_framework.authentication.SessionAuthentication",
            "rest_framework.authentication.BasicAuthentication",
        ]
    )
    with_token = factory.get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert drf_default(with_token).status_code == 403
