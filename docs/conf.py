"""Sphinx configuration of face_idcard's documentation site.

Sphinx, not MkDocs: Django, DRF, Celery and django-anymail document themselves with Sphinx, so a
Django developer already reads its layout, its cross-references and reStructuredText (the
README's language too), and autodoc reads the services' signatures from the code itself.

The source directory is the repository's root (``sphinx-build -c docs . docs/_build/html``) so
that CHANGELOG.rst is a page of the site as it is, instead of a copy that drifts.
``include_patterns`` keeps everything else out (the READMEs are short and point here).
The build needs no network: no intersphinx, no remote theme, no remote images.

Chinese (``-D language=zh_CN``, ``make docs`` builds both) comes from gettext catalogues,
``docs/locale/zh_CN/LC_MESSAGES/<page>.po``, one per page, not from a second set of pages: a
paragraph nobody has translated yet, or one changed in English since, shows in English (a
translation whose source changed no longer matches) instead of a Chinese page silently saying
what the English one no longer says, which is how the old README.zh-CN.rst drifted. Sphinx
compiles the catalogues itself (babel, no network); ``make docs-messages`` refreshes them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

# The generated reference imports the package, its checks and its API: Django must be set up.
# The tests' settings configure every optional part (the REST API, Celery) without a server.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
import django  # noqa: E402

django.setup()

from face_idcard import __version__  # noqa: E402

project = "face_idcard"
author = "face_idcard contributors"
copyright = "2026, face_idcard contributors"
release = __version__
version = ".".join(__version__.split(".")[:2])

root_doc = "docs/index"
include_patterns = ["CHANGELOG.rst", "docs/**"]
exclude_patterns = ["docs/_build", "docs/_ext", "docs/locale"]

locale_dirs = ["docs/locale/"]
gettext_compact = False
# A translation whose English source changed is dropped (shown in English), never kept stale.
gettext_allow_fuzzy_translations = False

extensions = [
    "sphinx.ext.autodoc",
    "face_idcard_reference",
]
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Celery's Task docstrings use roles of its own docs (:setting:, :sig:) that this site lacks.
autodoc_inherit_docstrings = False
# Signatures name Django's and DRF's types; without intersphinx (no network) they cannot link.
nitpicky = False

html_theme = "alabaster"
html_title = f"face_idcard {release}"
html_static_path: list[str] = []

# Without intersphinx (the build is offline) the standard library's, Django's and DRF's types in
# signatures cannot link; everything of face_idcard's own must (a broken one fails the build).
nitpick_ignore_regex = [
    ("py:class", r"(datetime|uuid|decimal|collections\.abc|typing)(\..*)?"),
    ("py:class", r"(django|rest_framework|celery|kombu|cryptography)\..*"),
    ("py:class", r"UploadedFile|File|HttpRequest|QuerySet|AbstractBaseUser|InvalidToken"),
]
