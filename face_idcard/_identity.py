"""Who the person says they are: the resident ID number (with its birth date, and the minimum
age it implies) and the name as printed on the ID card.

Used by every entry point (the REST API, the admin, the onboarding pages, Python calls). Each
``validate_*`` function returns the normalised value or raises
:class:`django.core.exceptions.ValidationError` with a stable ``code`` and a translated message
that says which rule failed. Messages never contain the rejected value: ID numbers and names
are personal data, and validation messages end up in logs and API responses.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

# The ID number's length and the name separator are defined once, in the masking module
# (which the simulator uses without Django).
from ._masking import ID_NUMBER_LENGTH, NAME_SEPARATOR
from .conf import face_idcard_settings

__all__ = [
    "ID_MESSAGES",
    "NAME_MESSAGES",
    "age_on",
    "check_minimum_age",
    "normalize_id_number",
    "normalize_name",
    "validate_id_number",
    "validate_name",
]

# --- ID numbers ----------------------------------------------------------------------------

_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")

ID_MESSAGES: dict[str, Any] = {
    "id_required": _("Enter the ID card number."),
    "id_length": _(
        "The ID card number must have 18 characters (old 15-digit numbers are not accepted)."
    ),
    "id_characters": _(
        "The ID card number may contain only digits, with X allowed as the last character."
    ),
    "id_checksum": _(
        "The ID card number is not valid: its last character does not match the others. "
        "Check for a mistyped digit."
    ),
    "id_birth_date": _("The ID card number does not contain a real date of birth."),
    "id_birth_future": _("The date of birth in the ID card number is in the future."),
    "id_birth_early": _(
        "The date of birth in the ID card number is before %(year)d: check the number."
    ),
    "id_minor": _(
        "The holder of this ID card is younger than %(age)d: a parent or guardian must "
        "consent to the verification."
    ),
    "id_address": _("The ID card number starts with an unknown region code."),
}


def normalize_id_number(value: str) -> str:
    """Remove all whitespace, turn full-width digits and letters into ASCII, upper-case ``x``."""
    # NFKC maps full-width "１２Ｘ" to "12X"; the value is digits and X only, so NFKC cannot
    # damage anything legitimate here (unlike for names).
    text = unicodedata.normalize("NFKC", value)
    return "".join(text.split()).upper()


def validate_id_number(value: str) -> str:
    """Validate an 18-character resident ID number; return it normalised.

    Codes: ``id_required``, ``id_length``, ``id_characters``, ``id_checksum``,
    ``id_birth_date``, ``id_birth_future``, ``id_address``.
    """
    number = normalize_id_number(value or "")
    if not number:
        raise _id_error("id_required")
    if len(number) != ID_NUMBER_LENGTH:
        raise _id_error("id_length")
    if not _ID_SHAPE.fullmatch(number):
        # Checked before stdnum, which reports a wrong last letter as a checksum failure.
        raise _id_error("id_characters")
    if ric.calc_check_digit(number) != number[-1]:
        raise _id_error("id_checksum")
    # stdnum.cn.ric.validate() raises the same InvalidComponent for a bad date and for a bad
    # region, so call its two helpers separately to tell the user which one it is.
    try:
        birth_date = ric.get_birth_date(number)
    except InvalidComponent:
        raise _id_error("id_birth_date") from None
    if birth_date > timezone.localdate():
        raise _id_error("id_birth_future")
    earliest = int(face_idcard_settings.ID_EARLIEST_BIRTH_YEAR)
    if birth_date.year < earliest:
        raise ValidationError(
            ID_MESSAGES["id_birth_early"], code="id_birth_early", params={"year": earliest}
        )
    try:
        ric.get_birth_place(number)
    except InvalidComponent:
        # Unknown code, or a county code that did not exist in the year of birth.
        raise _id_error("id_address") from None
    return number


def _id_error(code: str) -> ValidationError:
    return ValidationError(ID_MESSAGES[code], code=code)


def age_on(birth_date: date, today: date) -> int:
    """Age in full years on ``today`` (someone born on 29 February turns a year older on
    1 March in common years)."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


def check_minimum_age(number: str, *, guardian_consent: bool) -> None:
    """Refuse (code ``id_minor``) a valid ID number whose holder is younger than
    ``MIN_AGE_YEARS``, unless ``guardian_consent`` says a parent or guardian consented."""
    minimum = int(face_idcard_settings.MIN_AGE_YEARS or 0)
    if not minimum or guardian_consent:
        return
    if age_on(ric.get_birth_date(number), timezone.localdate()) < minimum:
        raise ValidationError(ID_MESSAGES["id_minor"], code="id_minor", params={"age": minimum})


# --- Names ---------------------------------------------------------------------------------

#: Characters people type instead of the middle dot. Not 丶 (U+4E36): it is a Han character.
NAME_DOT_LOOKALIKES = frozenset(
    {
        "\u2022",  # • BULLET
        "\uff0e",  # ． FULLWIDTH FULL STOP
        "\u002e",  # . FULL STOP
        "\u30fb",  # ・ KATAKANA MIDDLE DOT
        "\uff65",  # ･ HALFWIDTH KATAKANA MIDDLE DOT
        "\u2027",  # ‧ HYPHENATION POINT
        "\u22c5",  # ⋅ DOT OPERATOR
        "\u2219",  # ∙ BULLET OPERATOR
        "\u0387",  # · GREEK ANO TELEIA (NFC already maps it; kept for clarity)
    }
)
_DOT_TRANSLATION = {ord(ch): NAME_SEPARATOR for ch in NAME_DOT_LOOKALIKES}

# Han ideographs by code point range, so the rule does not depend on the Unicode version of
# the running Python. Rare characters (extensions B and later) do occur in names.
_HAN_RANGES = (
    "\u3007",  # 〇 IDEOGRAPHIC NUMBER ZERO, found in a few given names
    "\u3400-\u4dbf",  # extension A
    "\u4e00-\u9fff",  # unified ideographs
    "\uf900-\ufaff",  # compatibility ideographs (some are not unified and survive NFC)
    "\U00020000-\U0002ebef",  # extensions B-F (and I, below)
    "\U0002ebf0-\U0002ee5f",  # extension I
    "\U0002f800-\U0002fa1f",  # compatibility supplement
    "\U00030000-\U000323af",  # extensions G-H
)
_HAN = "".join(_HAN_RANGES)
_NAME_HAN_ONLY = re.compile(f"[{_HAN}{NAME_SEPARATOR}]+")
_NAME_WITH_LATIN = re.compile(f"[{_HAN}{NAME_SEPARATOR}A-Za-z ]+")
_SPACES_AROUND_DOT = re.compile(rf"\s*{NAME_SEPARATOR}\s*")

NAME_MESSAGES: dict[str, Any] = {
    "name_required": _("Enter the name as printed on the ID card."),
    "name_length": _("The name must have from %(min)d to %(max)d characters."),
    "name_characters": _(
        "The name may contain only Chinese characters and the middle dot “·” between parts."
    ),
    "name_characters_latin": _(
        "The name may contain only Chinese characters, Latin letters, spaces and the middle "
        "dot “·” between parts."
    ),
    "name_dots": _(
        "The middle dot “·” may only stand between two parts of the name, "
        "not at the start or end, and not twice in a row."
    ),
}


def normalize_name(value: str) -> str:
    """NFC, trim, look-alike dots to ``·``, no spaces around the dot, single inner spaces.

    Not NFKC: it would also rewrite characters (compatibility ideographs among them) that the
    ID card registry stores as they are.
    """
    text = unicodedata.normalize("NFC", value).translate(_DOT_TRANSLATION)
    text = " ".join(text.split())  # trims, and any run of whitespace (U+3000 too) -> one space
    return _SPACES_AROUND_DOT.sub(NAME_SEPARATOR, text)


def validate_name(value: str, *, allow_latin: bool | None = None) -> str:
    """Validate a name as printed on the ID card; return it normalised.

    Codes: ``name_required``, ``name_length``, ``name_characters``, ``name_dots``. Latin letters
    and spaces are allowed only with ``allow_latin`` (default: ``NAME_ALLOW_LATIN``); digits never.
    """
    name = normalize_name(value or "")
    if not name:
        raise ValidationError(NAME_MESSAGES["name_required"], code="name_required")
    if allow_latin is None:
        allow_latin = bool(face_idcard_settings.NAME_ALLOW_LATIN)
    pattern = _NAME_WITH_LATIN if allow_latin else _NAME_HAN_ONLY
    if not pattern.fullmatch(name):
        key = "name_characters_latin" if allow_latin else "name_characters"
        raise ValidationError(NAME_MESSAGES[key], code="name_characters")
    if (
        name.startswith(NAME_SEPARATOR)
        or name.endswith(NAME_SEPARATOR)
        or NAME_SEPARATOR * 2 in name
    ):
        raise ValidationError(NAME_MESSAGES["name_dots"], code="name_dots")
    minimum = int(face_idcard_settings.NAME_MIN_CHARS)
    maximum = int(face_idcard_settings.NAME_MAX_CHARS)
    if not minimum <= len(name) <= maximum:
        raise ValidationError(
            NAME_MESSAGES["name_length"],
            code="name_length",
            params={"min": minimum, "max": maximum},
        )
    return name
