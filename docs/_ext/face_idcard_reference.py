"""The reference pages' tables, read from the code so that the site cannot drift from it.

- ``.. face-idcard-settings::``: every key declared in ``face_idcard.settings_spec``, by section,
  with its default, type, unit, range or choices and its doc; then each built-in backend's
  options as the backend class declares them. In the build's language (zh-hans for ``zh``).
- ``.. face-idcard-checks::``: every system check id the package can raise, its level and its
  message, found in the source (every ``Error``/``Warning``/``Critical`` call with an ``id``),
  and the ids the declarations name for their type and range checks.
- ``.. face-idcard-commands::``: each management command's ``--help``.
- ``.. face-idcard-openapi::``: every operation of the REST API's OpenAPI schema.
"""

from __future__ import annotations

import ast
import pprint
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

PACKAGE = Path(__file__).resolve().parents[2] / "face_idcard"
CHECK_LEVELS = ("Critical", "Error", "Warning", "Info", "Debug")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], widths: str) -> str:
    """A reST list-table: cells may hold inline markup and several sentences."""
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        for index, cell in enumerate(row):
            text = " ".join(cell.split()) or r"\ "
            lines.append(f"   {'*' if index == 0 else ' '} - {text}")
    return "\n".join(lines)


def _default(value: Any) -> str:
    return f"``{pprint.saferepr(value)}``"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", r"\*").replace("`", r"\`").replace("|", r"\|")


def _django_language(sphinx_language: str | None) -> str:
    """Django's code of the build's language (Sphinx says ``zh_CN``, Django ``zh-hans``)."""
    language = (sphinx_language or "en").lower()
    return "zh-hans" if language.startswith("zh") else "en"


def _kind(declaration: Any, *flags: str) -> str:
    """The type cell: what a value must be, the flags (per alias, required, secret) and the
    id of the check that refuses any other value."""
    marks = [flag for flag in flags if flag]
    if declaration.secret:
        marks.append("secret")
    cell = "; ".join([_escape(declaration.allowed()), *(f"*{mark}*" for mark in marks)])
    return f"{cell} (``{declaration.check}``)"


def _prose(text: str) -> str:
    """A doc paragraph as reST: escaped, command-line options kept as typed (``--deploy``,
    which smart quotes would turn into a dash)."""
    return re.sub(r"(?<![\w-])(--[a-z][a-z-]*)", r"``\1``", _escape(text))


class SettingsDirective(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        from django.utils import translation

        from face_idcard.backends import backend_class
        from face_idcard.providers import BUILTIN_BACKENDS
        from face_idcard.settings_spec import SETTINGS

        header = ("Key", "Default", "Type", "Meaning")
        result: list[nodes.Node] = []
        with translation.override(_django_language(self.env.config.language)):
            sections: dict[str, list[tuple[str, ...]]] = {}
            for setting in SETTINGS:
                sections.setdefault(str(setting.section), []).append(
                    (
                        f"``{setting.name}``",
                        _default(setting.default),
                        _kind(setting, "per alias" if setting.per_alias else ""),
                        _prose(str(setting.doc)),
                    )
                )
            for title, rows in sections.items():
                result += self._section(f"settings-{title}", title, header, rows)
            for name in BUILTIN_BACKENDS:
                cls = backend_class(name)
                rows = [
                    (
                        f"``{key}``",
                        _default(option.default),
                        _kind(option, "required" if option.required else ""),
                        _prose(str(option.doc)),
                    )
                    for key, option in cls.options.items()
                ]
                result += self._section(f"backend-{name}", f"BACKEND: {name}", header, rows)
        return result

    def _section(
        self, key: str, title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]
    ) -> list[nodes.Node]:
        section = nodes.section(ids=[nodes.make_id(key)])
        section += nodes.title(text=title)
        section += self.parse_text_to_nodes(_table(header, rows, "22 14 22 42"))
        return [section]


def _message_text(node: ast.expr | None) -> str:
    """A check message's words; an interpolated value becomes an ellipsis."""
    if node is None:
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            _message_text(part) if isinstance(part, ast.Constant) else "…" for part in node.values
        )
    if isinstance(node, ast.Call) and node.args:  # _("..."), gettext_lazy("...") % ...
        return _message_text(node.args[0])
    if isinstance(node, ast.BinOp):
        return _message_text(node.left)
    return "…"


def system_checks() -> Iterator[tuple[str, str, str]]:
    """(id, level, message) of every check message the package's source can produce."""
    seen: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            check_id = next((k.value for k in node.keywords if k.arg == "id"), None)
            if name not in CHECK_LEVELS or not isinstance(check_id, ast.Constant):
                continue
            if not str(check_id.value).startswith("face_idcard.") or check_id.value in seen:
                continue
            seen.add(check_id.value)
            message = (
                node.args[0]
                if node.args
                else next((k.value for k in node.keywords if k.arg == "msg"), None)
            )
            yield check_id.value, name, _message_text(message)
    yield from declared_checks(seen)


def declared_checks(seen: set[str]) -> Iterator[tuple[str, str, str]]:
    """(id, level, message) of the type and range checks generated from the declarations whose
    id no written-out check raises too."""
    from face_idcard.backends import Option
    from face_idcard.settings_spec import SETTINGS

    keys: dict[str, list[str]] = {}
    for setting in SETTINGS:
        keys.setdefault(setting.check, []).append(setting.name)
    keys.setdefault(Option().check, []).append("a backend's options")
    for check_id, names in keys.items():
        if check_id not in seen:
            seen.add(check_id)
            yield (
                check_id,
                "Error",
                (
                    "A value of the wrong type, out of range or not one of its choices (the message "
                    "says what it must be): " + ", ".join(names) + "."
                ),
            )


class ChecksDirective(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        rows = [
            (f"``{check_id}``", level, _escape(message))
            for check_id, level, message in sorted(system_checks())
        ]
        return self.parse_text_to_nodes(_table(("Id", "Level", "Message"), rows, "20 10 70"))


def management_commands() -> list[str]:
    return sorted(
        path.stem
        for path in (PACKAGE / "management" / "commands").glob("*.py")
        if not path.stem.startswith("_")
    )


class CommandsDirective(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        from django.core.management import load_command_class

        result: list[nodes.Node] = []
        for name in management_commands():
            command = load_command_class("face_idcard", name)
            parser = command.create_parser("manage.py", name)
            section = nodes.section(ids=[nodes.make_id(f"command-{name}")])
            section += nodes.title(text=name)
            section += self.parse_text_to_nodes(_escape(str(command.help)))
            section += nodes.literal_block(text=parser.format_help(), language="none")
            result.append(section)
        return result


def openapi_operations() -> list[tuple[str, str, str, str]]:
    """(path, method, operationId, summary) of every operation of the API's schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(patterns=None).get_schema(request=None, public=True)
    operations = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            summary = operation.get("summary") or operation.get("description", "").split("\n")[0]
            operations.append((path, method.upper(), operation["operationId"], summary))
    return operations


class OpenApiDirective(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        rows = [
            (f"``{method} {path}``", f"``{operation_id}``", _escape(summary))
            for path, method, operation_id, summary in openapi_operations()
        ]
        return self.parse_text_to_nodes(
            _table(("Operation", "Operation id", "What it does"), rows, "35 25 40")
        )


# Bare names in docstrings that the code means as its own: the services' docstrings say
# "raises ``PermissionRequired``" as the code itself imports it.
OWN_NAMESPACES = ("face_idcard.exceptions", "face_idcard.models", "face_idcard.crypto")


def resolve_own_names(
    app: Sphinx, env: Any, node: Any, contnode: nodes.Element
) -> nodes.Element | None:
    """A py reference to a bare name resolves to that name in one of the package's modules."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or "." in target.lstrip("~"):
        return None
    domain = env.get_domain("py")
    for namespace in OWN_NAMESPACES:
        resolved = domain.resolve_xref(
            env,
            node["refdoc"],
            app.builder,
            node["reftype"],
            f"{namespace}.{target}",
            node,
            contnode,
        )
        if resolved is not None:
            return resolved
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", resolve_own_names)
    app.add_directive("face-idcard-settings", SettingsDirective)
    app.add_directive("face-idcard-checks", ChecksDirective)
    app.add_directive("face-idcard-commands", CommandsDirective)
    app.add_directive("face-idcard-openapi", OpenApiDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
