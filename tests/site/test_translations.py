"""The zh-hans catalogue: complete, no fuzzy entries, compiled, and really used at run time.

The .po file is read with a small parser written here (polib is not a dependency), so these
tests do not trust the gettext machinery they are checking.
"""

from __future__ import annotations

import ast
import gettext
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Field
from django.utils import translation

import face_idcard
from face_idcard import states
from face_idcard._identity import validate_id_number, validate_name
from face_idcard._images import validate_image
from face_idcard._netpolicy import validate_url
from face_idcard.exceptions import AttemptLimitExceeded, ConsentRequired
from face_idcard.models import EVENT_KIND_CHOICES, AttemptEvent, VerificationAttempt
from tests.support import imagefactory as factory

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

APP_DIR = Path(face_idcard.__file__).resolve().parent
LOCALE_DIR = APP_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LOCALE_DIR / "django.po"
MO_PATH = LOCALE_DIR / "django.mo"

# The names the app marks strings with (``from django.utils.translation import gettext_lazy as _``).
MARKERS = frozenset({"_", "gettext", "gettext_lazy", "gettext_noop"})
# Python's %-placeholders (``%(max)d``, ``%(max_mb).1f``, ``%s``) and str.format fields (``{0}``).
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{[^{}]*\}")


def has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@dataclass
class Entry:
    msgid: str = ""
    msgstr: str = ""
    msgctxt: str | None = None
    flags: set[str] = field(default_factory=set)
    line: int = 0


def parse_po(path: Path) -> list[Entry]:
    """Entries of a .po file, header included; obsolete ``#~`` lines are left out.

    Relies on what the gettext tools write: one blank line between entries.
    """
    entries: list[Entry] = []
    line_number = 0
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry = Entry(line=line_number + 1)
        line_number += block.count("\n") + 2
        keyword = ""
        for line in (raw.strip() for raw in block.splitlines()):
            if not line or line.startswith("#~"):
                continue
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
                continue
            if line.startswith("#"):
                continue
            if not line.startswith('"'):
                keyword, _, line = line.partition(" ")
            value = ast.literal_eval(line)
            assert isinstance(value, str), f"{path}:{entry.line}: not a string: {line}"
            if keyword == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + value
            elif keyword == "msgid":
                entry.msgid += value
            elif keyword.startswith("msgstr"):
                entry.msgstr += value
            else:
                raise AssertionError(f"{path}:{entry.line}: unexpected {keyword!r}")
        if keyword:
            entries.append(entry)
    return entries


def catalogue() -> list[Entry]:
    """The translatable entries (no header)."""
    return [entry for entry in parse_po(PO_PATH) if entry.msgid]


def marked_strings() -> dict[str, str]:
    """``msgid → file:line`` for every literal marked for translation in the app's source.

    The same strings ``makemessages`` extracts (it runs xgettext over these files), found with
    the ``ast`` module so the test does not need the gettext tools installed.
    """
    found: dict[str, str] = {}
    for path in sorted(APP_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = node.args[0]
            if name in MARKERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, f"{path.relative_to(APP_DIR)}:{node.lineno}")
    return found


# --- The .po file itself -----------------------------------------------------------------------


def test_parser_reads_the_catalogue() -> None:
    entries = parse_po(PO_PATH)
    header = entries[0]
    assert header.msgid == ""
    assert "Language: zh_Hans" in header.msgstr
    assert "charset=UTF-8" in header.msgstr
    by_id = {entry.msgid: entry for entry in entries[1:]}
    # Multi-line msgids are joined back together.
    assert (
        "The ID card number must have 18 characters (old 15-digit numbers are not accepted)."
        in by_id
    )
    assert len(by_id) == len(entries) - 1, "duplicate msgids"


def test_no_empty_translation() -> None:
    empty = [f"line {entry.line}: {entry.msgid!r}" for entry in catalogue() if not entry.msgstr]
    assert not empty, "untranslated: " + "; ".join(empty)


def test_no_fuzzy_entry() -> None:
    fuzzy = [
        f"line {entry.line}: {entry.msgid!r}"
        for entry in parse_po(PO_PATH)
        if "fuzzy" in entry.flags
    ]
    assert not fuzzy, "fuzzy: " + "; ".join(fuzzy)


def test_every_translation_is_chinese() -> None:
    # English copied into msgstr would pass the "not empty" test; it fails this one.
    not_chinese = [entry.msgid for entry in catalogue() if not has_cjk(entry.msgstr)]
    assert not not_chinese


def test_placeholders_are_kept() -> None:
    for entry in catalogue():
        assert sorted(PLACEHOLDER.findall(entry.msgstr)) == sorted(
            PLACEHOLDER.findall(entry.msgid)
        ), entry.msgid


def test_every_marked_string_is_in_the_catalogue() -> None:
    msgids = {entry.msgid for entry in catalogue()}
    marked = marked_strings()
    # The scan must find the strings we know are marked, or an empty scan would pass.
    assert "Too many verification attempts. Please try again tomorrow." in marked
    assert "verification attempt" in marked
    missing = {msgid: where for msgid, where in marked.items() if msgid not in msgids}
    assert not missing, "run `make messages` after makemessages; missing: " + repr(missing)


def test_compiled_catalogue_matches_the_po_file() -> None:
    # The .mo is committed: a .po edited without recompiling would ship the old translations.
    with MO_PATH.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in catalogue():
        if entry.msgctxt is None:
            shipped = compiled.gettext(entry.msgid)
        else:
            shipped = compiled.pgettext(entry.msgctxt, entry.msgid)
        assert shipped == entry.msgstr, entry.msgid


# --- At run time, through Django ---------------------------------------------------------------


def field_label(name: str) -> StrOrPromise:
    model_field = VerificationAttempt._meta.get_field(name)
    assert isinstance(model_field, Field)
    return model_field.verbose_name


def runtime_labels() -> list[str]:
    """English source texts of the strings users and operators see most."""
    lazy = [
        VerificationAttempt._meta.verbose_name,
        VerificationAttempt._meta.verbose_name_plural,
        AttemptEvent._meta.verbose_name,
        AttemptEvent._meta.verbose_name_plural,
        field_label("legal_hold"),
        field_label("similarity"),
        field_label("threshold"),
        AttemptLimitExceeded.message,
        ConsentRequired.message,
    ]
    for choices in (
        states.STATUS_CHOICES,
        states.DECISION_CHOICES,
        states.REVIEW_DECISION_CHOICES,
        EVENT_KIND_CHOICES,
    ):
        lazy.extend(label for _, label in choices)
    with translation.override("en"):
        return [str(text) for text in lazy]


def test_status_and_decision_choices_cover_every_member() -> None:
    # A new Status/Decision member without a (translated) label would show its raw value.
    assert {value for value, _ in states.STATUS_CHOICES} == set(states.Status.values())
    assert {value for value, _ in states.DECISION_CHOICES} == set(states.Decision.values())
    assert {value for value, _ in states.REVIEW_DECISION_CHOICES} == set(
        states.ReviewDecision.values()
    )


@pytest.mark.parametrize("english", runtime_labels())
def test_label_is_translated_at_run_time(english: str) -> None:
    with translation.override("zh-hans"):
        chinese = translation.gettext(english)
    assert chinese != english
    assert has_cjk(chinese)


def test_lazy_labels_follow_the_active_language() -> None:
    # Labels are lazy: the same object renders in whichever language is active when it is used.
    queued = dict(states.STATUS_CHOICES)[states.Status.QUEUED.value]
    with translation.override("en"):
        assert str(AttemptLimitExceeded.message) == (
            "Too many verification attempts. Please try again tomorrow."
        )
        assert str(queued) == "Queued"
    with translation.override("zh-hans"):
        assert has_cjk(str(AttemptLimitExceeded.message))
        assert has_cjk(str(queued))
        assert has_cjk(str(VerificationAttempt._meta.verbose_name))


# --- Validation messages at run time (identity, images, urls) -----------------------------------


def _first_message(call: Callable[[], object]) -> str:
    with pytest.raises(ValidationError) as caught:
        call()
    return str(caught.value.messages[0])


@pytest.mark.parametrize(
    ("call", "english", "chinese"),
    [
        (lambda: validate_id_number("110110199909090909"), "last character", "校验"),
        (lambda: validate_id_number("110105491231002"), "18 characters", "18"),
        (lambda: validate_name("张三1"), "Chinese characters", "汉字"),
        (lambda: validate_name("·张三"), "middle dot", "间隔号"),
        (lambda: validate_image(factory.gif()), "BMP, JPEG, PNG", "格式之一"),
        (lambda: validate_url("ftp://example.com/a.jpg"), "http://", "http://"),
    ],
)
def test_messages_in_english_and_chinese(
    call: Callable[[], object], english: str, chinese: str
) -> None:
    with translation.override("en"):
        text_en = _first_message(call)
    with translation.override("zh-hans"):
        text_zh = _first_message(call)
    assert english in text_en
    assert chinese in text_zh
    assert text_zh != text_en
    # Mostly Han characters: really translated, not the English text falling through.
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in text_zh) >= 4


def test_app_name_is_translated() -> None:
    from django.apps import apps

    verbose_name = apps.get_app_config("face_idcard").verbose_name
    with translation.override("zh-hans"):
        assert str(verbose_name) == "人脸核身"
