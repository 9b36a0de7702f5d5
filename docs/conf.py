"""Sphinx configuration of face_idcard's documentation site.

Sphinx, not MkDocs: Django, DRF, Celery and django-anymail document themselves with Sphinx, so a
Django developer already reads its layout, its cross-references and reStructuredText (the
README's language too), and autodoc reads the services' signatures from the code itself.

The source directory is the repository's root (``sphinx-build -c docs . docs/_build/html``) so
that README.rst and README.zh-CN.rst are pages of the site as they are, images and links
included, instead of copies that drift. ``include_patterns`` keeps everything else out.
The build needs no network: no intersphinx, no remote theme, no remote images.
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
include_patterns = ["README.rst", "README.zh-CN.rst", "CHANGELOG.rst", "docs/**"]
exclude_patterns = ["docs/_build", "docs/_ext"]

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
