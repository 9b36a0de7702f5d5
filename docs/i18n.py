"""Refresh the Chinese catalogues of the documentation site (``make docs-messages``).

``python docs/i18n.py`` extracts every page's messages (Sphinx's gettext builder, offline) and
merges them into each existing catalogue ``docs/locale/zh_CN/LC_MESSAGES/<page>.po``: a new
paragraph arrives untranslated, a changed one is marked fuzzy (the build then shows it in
English until someone translates it again), a removed one is dropped. ``python docs/i18n.py
docs/topics/api`` also starts the catalogue of that page. Sphinx compiles the catalogues into
``.mo`` files itself when it builds (they are not committed).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "docs" / "locale" / "zh_CN" / "LC_MESSAGES"
TEMPLATES = ROOT / "docs" / "_build" / "gettext"


def main(new_pages: list[str]) -> None:
    subprocess.run(  # noqa: S603 (this interpreter and fixed arguments)
        [sys.executable, "-m", "sphinx", "-b", "gettext", "-q", "-c", "docs", ".", str(TEMPLATES)],
        cwd=ROOT,
        check=True,
    )
    wanted = {page.removesuffix(".rst") for page in new_pages}
    for template_path in sorted(TEMPLATES.rglob("*.pot")):
        page = template_path.relative_to(TEMPLATES).with_suffix("").as_posix()
        target = LOCALE / f"{page}.po"
        if not target.exists() and page not in wanted:
            continue
        with template_path.open("rb") as handle:
            template = read_po(handle)
        if target.exists():
            with target.open("rb") as handle:
                catalogue = read_po(handle, locale="zh_CN")
        else:
            catalogue = read_po(template_path.open("rb"), locale="zh_CN")
        catalogue.update(template)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            # No line numbers: a paragraph moving down the page changes nothing here.
            write_po(handle, catalogue, width=100, no_location=True, ignore_obsolete=True)
        print(f"{target.relative_to(ROOT)}: {len(catalogue)} messages")


if __name__ == "__main__":
    main(sys.argv[1:])
