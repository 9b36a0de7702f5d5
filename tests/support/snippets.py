"""The documentation's code snippets, read from the pages themselves so tests and docs cannot drift.

A page marks a snippet that a test applies with a comment line right before its code block::

    .. install-snippet: NAME

    .. code-block:: python

        ...

A name is marked once across every page (``docs/**/*.rst``, the READMEs and the changelog).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO_ROOT

DOCS = REPO_ROOT / "docs"
MARKER = re.compile(r"^(\s*)\.\. install-snippet: (\S+)\s*$")
CODE_BLOCK = re.compile(r"^(\s*)\.\. code-block:: *(\S+)\s*$")


def pages() -> list[Path]:
    """Every reStructuredText page of the site and the two READMEs."""
    found = [
        path for path in DOCS.rglob("*.rst") if not path.relative_to(DOCS).parts[0].startswith("_")
    ]
    readmes = [
        REPO_ROOT / "README.rst",
        REPO_ROOT / "README.zh-CN.rst",
        REPO_ROOT / "CHANGELOG.rst",
    ]
    return sorted(found) + readmes


@dataclass(frozen=True)
class Block:
    """A ``.. code-block::`` of a page: where it is, its language, its dedented code and the
    install-snippet name marking it (empty when none)."""

    path: Path
    line: int
    language: str
    code: str
    name: str

    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"


def _body(lines: list[str], start: int, indent: int) -> str:
    """The indented body of the directive on line ``start`` (its options skipped), dedented."""
    index = start + 1
    while index < len(lines) and lines[index].strip().startswith(":"):
        index += 1
    block: list[str] = []
    for line in lines[index:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip("\n") + "\n"


def code_blocks(text: str, path: Path = REPO_ROOT / "inline.rst") -> Iterator[Block]:
    lines = text.splitlines()
    name = ""
    for index, line in enumerate(lines):
        marker = MARKER.match(line)
        if marker:
            name = marker.group(2)
            continue
        directive = CODE_BLOCK.match(line)
        if directive:
            indent = len(directive.group(1))
            yield Block(path, index + 1, directive.group(2), _body(lines, index, indent), name)
            name = ""
        elif line.strip() and name and not line.strip().startswith(".."):
            raise AssertionError(
                f"{path.relative_to(REPO_ROOT)}:{index + 1}: the install-snippet {name!r} "
                "marker must be followed by a code block"
            )


def all_code_blocks() -> list[Block]:
    return [
        block for path in pages() for block in code_blocks(path.read_text(encoding="utf-8"), path)
    ]


def snippet(name: str, text: str | None = None) -> str:
    """The code block marked ``.. install-snippet: NAME``: in ``text`` when given, else in
    exactly one place across the docs."""
    if text is not None:
        found = [block for block in code_blocks(text) if block.name == name]
    else:
        found = [block for block in all_code_blocks() if block.name == name]
    assert len(found) == 1, (
        f"the docs must mark exactly one snippet {name!r}, found "
        f"{[block.where() for block in found]}"
    )
    code = found[0].code
    assert code.strip(), f"the install-snippet {name!r} is empty"
    return code
