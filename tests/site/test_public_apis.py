"""The package uses the public APIs of what it depends on (Django, DRF, psycopg, Celery, the
providers' SDKs): no private name imported, no private attribute of another library's object
read, no ORM compiler or driver internals.

Private means a leading underscore. Django documents a few such names as public API, and
those are allowed: ``Model._meta`` (the Options API), ``Model._default_manager``,
``Model._base_manager`` and ``Model._state`` (the model instance reference). The package's
own private names (``crypto._raw_keys`` read by ``records``) are the package's business."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "face_idcard"

#: Underscored names Django documents as public API.
DOCUMENTED = frozenset({"_meta", "_default_manager", "_base_manager", "_state"})

#: ORM internals that carry no underscore: the SQL compiler, its columns and converters. A
#: queryset's ``Query`` (``.query.``) and the driver's raw connection (``connection.connection``)
#: are checked by their shape.
INTERNALS = frozenset({"get_compiler", "get_col", "get_db_converters"})

#: Known exceptions, each with why no public way exists. Keys are ``path:attribute``.
EXCEPTIONS = {
    # tencentcloud-sdk-python 3.1 builds its requests.Session inside ProxyConnection and takes
    # neither a session nor an adapter: HttpProfile offers one timeout, proxy, certification,
    # keepAlive and pre_conn_pool_size (which mounts the SDK's own adapter). The response-size
    # cap (CappedHTTPAdapter) and the pool size need the session. It is read with getattr
    # and a default; test_faceid_response_cap.py::test_the_sdk_session_is_capped fails if
    # an SDK release moves it.
    "providers/faceid/sdk.py:_session",
}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _own_names(tree: ast.AST) -> set[str]:
    """The names a module binds to the package's own modules and objects."""
    own = {"self", "cls"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level > 0 or (node.module or "").split(".")[0] == "face_idcard"
        ):
            own.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            own.update(
                alias.asname or alias.name
                for alias in node.names
                if alias.name.split(".")[0] == "face_idcard"
            )
    return own


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _findings(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    own = _own_names(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            parts = (node.module or "").split(".")
            if parts[0] == "face_idcard":
                continue
            if any(_private(part) for part in parts) or parts[:4] == [
                "django",
                "db",
                "models",
                "sql",
            ]:
                found.append((node.lineno, f"from {node.module} import"))
            found.extend(
                (node.lineno, f"from {node.module} import {alias.name}")
                for alias in node.names
                if _private(alias.name)
            )
        elif isinstance(node, ast.Import):
            found.extend(
                (node.lineno, f"import {alias.name}")
                for alias in node.names
                if any(_private(part) for part in alias.name.split("."))
            )
        elif isinstance(node, ast.Attribute):
            if node.attr in INTERNALS:
                found.append((node.lineno, f".{node.attr}"))
            elif isinstance(node.value, ast.Attribute) and node.value.attr == "query":
                found.append((node.lineno, f".query.{node.attr}"))
            elif node.attr == "connection" and (
                ast.unparse(node.value).endswith("connection")
                or ast.unparse(node.value).startswith("connections[")
            ):
                found.append((node.lineno, f"{ast.unparse(node.value)}.connection"))
            elif (
                _private(node.attr)
                and node.attr not in DOCUMENTED
                and not (isinstance(node.value, ast.Name) and node.value.id in own)
                and f"{where}:{node.attr}" not in EXCEPTIONS
            ):
                found.append((node.lineno, f"{ast.unparse(node.value)}.{node.attr}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and node.args[1].value not in DOCUMENTED
            and _root(node.args[0]) not in own
            and f"{where}:{node.args[1].value}" not in EXCEPTIONS
        ):
            found.append((node.lineno, f"{node.func.id}(..., {node.args[1].value!r})"))
    return [f"{where}:{line}: {what}" for line, what in sorted(found)]


def test_no_private_name_or_internal_of_a_dependency_is_used() -> None:
    found = [
        finding
        for path in _sources()
        for finding in _findings(
            path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix()
        )
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "from django.utils.functional import _StrOrPromise",
        "from django.db.models.sql.compiler import SQLInsertCompiler",
        "from django.utils import _os",
        "import psycopg._cmodule",
        "compiler = queryset.query.get_compiler(using='default')",
        "sql = queryset.query.sql_with_params()",
        "column = field.get_col(alias)",
        "converters = compiler.get_db_converters(expressions)",
        "raw = connection.connection.cursor()",
        "raw = connections['default'].connection",
        "data = serializer._kwargs.get('data')",
        "args = serializer._args",
        "schema_editor._create_index_sql(model, fields=fields)",
        "pipeline = connection.connection._pipeline",
        "session = getattr(conn, '_session', None)",
        "response._content = b''",
        "attempt._prepare()",
    ],
)
def test_the_scan_finds_a_private_use(source: str) -> None:
    assert _findings(source, "example.py")


@pytest.mark.parametrize(
    "source",
    [
        "fields = VerificationAttempt._meta.get_fields()",
        "rows = VerificationAttempt._base_manager.filter(pk=1)",
        "users = get_user_model()._default_manager.all()",
        "adding = attempt._state.adding",
        "self._session.close()",
        "from .. import crypto\nkeys = crypto._raw_keys()",
        "from . import _leases as leases",
        "def receiver(sender, **_kwargs): pass",
        "value = urlsplit(url).query",
    ],
)
def test_the_scan_allows_documented_and_own_names(source: str) -> None:
    assert _findings(source, "example.py") == []
