"""Input validation shared by every entry point: the REST API, the admin, forms, Python calls.

Each ``validate_*`` function returns the normalised value or raises
:class:`django.core.exceptions.ValidationError` with a stable ``code`` and a translated message
that says which rule failed. Messages never contain the rejected value: ID numbers, names and
URLs are personal data and validation messages end up in logs and API responses.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

from . import netpolicy
from .conf import face_idcard_settings
from .images import ImageLimits, ImageRejected, PreparedImage, prepare_image

__all__ = [
    "check_minimum_age",
    "check_upload_type",
    "image_limits_from_settings",
    "normalize_id_number",
    "normalize_name",
    "read_upload",
    "site_image_limits",
    "validate_consent_time",
    "validate_id_number",
    "validate_image",
    "validate_name",
    "validate_text_length",
    "validate_url",
]

# --- ID numbers ----------------------------------------------------------------------------

ID_NUMBER_LENGTH = 18
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
    ``MINIMUM_AGE``, unless ``guardian_consent`` says a parent or guardian consented."""
    minimum = int(face_idcard_settings.MINIMUM_AGE or 0)
    if not minimum or guardian_consent:
        return
    if age_on(ric.get_birth_date(number), timezone.localdate()) < minimum:
        raise ValidationError(ID_MESSAGES["id_minor"], code="id_minor", params={"age": minimum})


# --- Other fields of a submission -----------------------------------------------------------

FIELD_MESSAGES: dict[str, Any] = {
    "text_type": _("%(field)s must be text."),
    "text_length": _("%(field)s is too long: at most %(max)d characters."),
    "consent_type": _("The consent time must be a date and time."),
    "consent_naive": _("The consent time must include its time zone."),
    "consent_future": _("The consent time is in the future."),
}


def validate_text_length(value: object, *, field: Any, max_length: int) -> str:
    """``value`` if it is a ``str`` of at most ``max_length`` characters.

    Codes: ``text_type``, ``text_length``; ``field`` (a translatable label) names the field.
    """
    if not isinstance(value, str):
        raise ValidationError(
            FIELD_MESSAGES["text_type"], code="text_type", params={"field": field}
        )
    if len(value) > max_length:
        raise ValidationError(
            FIELD_MESSAGES["text_length"],
            code="text_length",
            params={"field": field, "max": max_length},
        )
    return value


def validate_consent_time(value: object, *, now: datetime | None = None) -> datetime:
    """An aware ``datetime`` not later than now plus ``CONSENT_CLOCK_SKEW_SECONDS``.

    Codes: ``consent_type``, ``consent_naive``, ``consent_future``. A naive time is refused
    rather than guessed: in which zone it was meant is exactly what is unknown.
    """
    if not isinstance(value, datetime):
        raise ValidationError(FIELD_MESSAGES["consent_type"], code="consent_type")
    if timezone.is_naive(value):
        raise ValidationError(FIELD_MESSAGES["consent_naive"], code="consent_naive")
    skew = timedelta(seconds=float(face_idcard_settings.CONSENT_CLOCK_SKEW_SECONDS))
    if value > (now or timezone.now()) + skew:
        raise ValidationError(FIELD_MESSAGES["consent_future"], code="consent_future")
    return value


# --- Names ---------------------------------------------------------------------------------

NAME_SEPARATOR = "\u00b7"  # MIDDLE DOT, the separator printed on ID cards
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
    minimum = int(face_idcard_settings.NAME_MIN_LENGTH)
    maximum = int(face_idcard_settings.NAME_MAX_LENGTH)
    if not minimum <= len(name) <= maximum:
        raise ValidationError(
            NAME_MESSAGES["name_length"],
            code="name_length",
            params={"min": minimum, "max": maximum},
        )
    return name


# --- Images --------------------------------------------------------------------------------

IMAGE_MESSAGES: dict[str, Any] = {
    "image_empty": _("The image file is empty."),
    "image_too_large": _("The image file is too large: at most %(max_mb).1f MB."),
    "image_undecodable": _("The image could not be read: the file is damaged or incomplete."),
    "image_format": _("The image must be a file in one of these formats: %(formats)s."),
    "image_animated": _("Animated images are not accepted: send a single photo."),
    "image_bmp_compressed": _("Compressed BMP files are not accepted: send a JPEG or PNG photo."),
    "image_too_many_pixels": _("The image has too many pixels: at most %(max_mp).0f megapixels."),
    "image_too_small": _(
        "The image is too small: its shorter side must be at least %(min_side)d pixels."
    ),
}
_IMAGE_CODES = {
    "empty": "image_empty",
    "too_large_input": "image_too_large",
    "undecodable": "image_undecodable",
    "format": "image_format",
    "animated": "image_animated",
    "too_many_pixels": "image_too_many_pixels",
    "too_small": "image_too_small",
    "bmp_compressed": "image_bmp_compressed",
}


def site_image_limits(provider: ImageLimits | None = None) -> ImageLimits:
    """A provider's image limits narrowed by the site's ``FACE_IDCARD`` image settings.

    The one place where the two meet: every backend's limits and the default ones are built
    here. The provider keeps its body limit and formats; the site decides the rest.
    """
    base = provider if provider is not None else ImageLimits()
    return replace(
        base,
        min_side=int(face_idcard_settings.IMAGE_MIN_SIDE),
        max_side=min(base.max_side, int(face_idcard_settings.IMAGE_MAX_SIDE)),
        max_pixels=int(face_idcard_settings.IMAGE_MAX_PIXELS),
        max_input_bytes=int(face_idcard_settings.UPLOAD_MAX_BYTES),
    )


def image_limits_from_settings() -> ImageLimits:
    """The limits configured in ``FACE_IDCARD`` (the provider's body limit is not a setting)."""
    return site_image_limits()


def check_upload_type(image: object) -> None:
    """``TypeError`` unless ``image`` is bytes or has a ``read`` method (file, UploadedFile).

    Separate from :func:`read_upload` so a caller can refuse a wrong type before any
    other work."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return
    if not callable(getattr(image, "read", None)) or isinstance(image, io.TextIOBase):
        raise TypeError(
            "image must be bytes, a binary file object or an UploadedFile, "
            f"not {type(image).__name__}"
        )


def read_upload(image: object, max_bytes: int) -> bytes:
    """The bytes of a photo given as ``bytes``, a binary file object or an ``UploadedFile``.

    Never reads more than ``max_bytes + 1`` bytes: a larger upload is refused (code
    ``image_too_large``) without being held in memory. Anything else is a ``TypeError``.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        if len(image) > max_bytes:
            raise _too_large(max_bytes)
        return bytes(image)
    if isinstance(image, UploadedFile):
        if image.size is not None and image.size > max_bytes:
            raise _too_large(max_bytes)  # known from the upload handler: nothing to read
        if image.seekable():
            image.seek(0)  # a form may already have read it
    check_upload_type(image)
    data = image.read(max_bytes + 1)  # type: ignore[attr-defined]
    if not isinstance(data, bytes):
        raise TypeError("image must be opened in binary mode: its read() returned no bytes")
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def _too_large(max_bytes: int) -> ValidationError:
    return ValidationError(
        IMAGE_MESSAGES["image_too_large"],
        code="image_too_large",
        params={"max_mb": max_bytes / (1024 * 1024)},
    )


def validate_image(data: bytes, limits: ImageLimits | None = None) -> PreparedImage:
    """Check an uploaded photo and prepare it for the provider (see :mod:`face_idcard.images`).

    Codes: ``image_empty``, ``image_too_large``, ``image_undecodable``, ``image_format``,
    ``image_animated``, ``image_too_many_pixels``, ``image_too_small``.
    """
    limits = limits if limits is not None else image_limits_from_settings()
    try:
        return prepare_image(data, limits)
    except ImageRejected as exc:
        code = _IMAGE_CODES[exc.reason]
        params = {
            "max_mb": limits.max_input_bytes / (1024 * 1024),
            "max_mp": limits.max_pixels / 1_000_000,
            "min_side": limits.min_side,
            "formats": ", ".join(sorted(limits.formats)),
        }
        raise ValidationError(IMAGE_MESSAGES[code], code=code, params=params) from None


# --- URLs ----------------------------------------------------------------------------------

URL_SCHEMES = ("http", "https")
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs"})

URL_MESSAGES: dict[str, Any] = {
    "url_scheme": _("The image address must start with http:// or https://."),
    "url_length": _("The image address is too long: at most %(max)d characters."),
    "url_invalid": _("Enter a valid image address."),
    "url_host": _("The image address has no host name."),
    "url_spaces": _("The image address must not contain spaces or control characters."),
    "url_credentials": _("The image address must not contain a user name or password."),
    "url_not_public": _(
        "The image address must point to a public internet server, not to a local or "
        "private network address."
    ),
    "url_unresolvable": _("The host name of the image address could not be found."),
}


def _url_resolver() -> netpolicy.Resolver | None:
    path = face_idcard_settings.URL_RESOLVER
    if not path:
        return None
    resolver: netpolicy.Resolver = import_string(str(path)) if isinstance(path, str) else path
    return resolver


def _refused(exc: netpolicy.DestinationRefused) -> ValidationError:
    code = "url_unresolvable" if exc.reason == "unresolvable" else "url_not_public"
    return ValidationError(URL_MESSAGES[code], code=code)


def validate_url(value: str, *, resolver: netpolicy.Resolver | None = None) -> str:
    """An ``http``/``https`` address the provider will download the photo from.

    Codes: ``url_scheme``, ``url_length``, ``url_invalid`` (no host, credentials, spaces or
    control characters, malformed), ``url_not_public`` (an address or a name resolving to one
    outside the public internet, unless ``URL_ALLOW_PRIVATE``), ``url_unresolvable``. Names
    are resolved with ``resolver``, else ``URL_RESOLVER``, else the system's resolver.
    Returns the address with surrounding whitespace removed.
    """
    url = (value or "").strip()
    maximum = int(face_idcard_settings.URL_MAX_LENGTH)
    if len(url) > maximum:  # first, so nothing below ever works on a huge string
        raise ValidationError(
            URL_MESSAGES["url_length"], code="url_length", params={"max": maximum}
        )
    if not url:
        raise ValidationError(URL_MESSAGES["url_invalid"], code="url_invalid")
    if any(ch.isspace() or unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in url):
        raise ValidationError(URL_MESSAGES["url_spaces"], code="url_invalid")
    scheme, separator, rest = url.partition(":")
    if not separator or scheme.lower() not in URL_SCHEMES:
        raise ValidationError(URL_MESSAGES["url_scheme"], code="url_scheme")
    if not rest.startswith("//"):
        raise ValidationError(URL_MESSAGES["url_invalid"], code="url_invalid")
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    if "@" in authority:
        # A password in the address would be stored with the attempt and sent to the provider.
        raise ValidationError(URL_MESSAGES["url_credentials"], code="url_invalid")
    if not authority or authority.startswith(":"):
        raise ValidationError(URL_MESSAGES["url_host"], code="url_invalid")
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # an unbalanced "[" in the host
        raise ValidationError(URL_MESSAGES["url_invalid"], code="url_invalid") from None
    check_destination = not face_idcard_settings.URL_ALLOW_PRIVATE
    if check_destination:
        # Address literals first, whatever their spelling: URLValidator refuses some of them
        # with a less helpful message, and lets others (127.1, [::ffff:127.0.0.1]) through.
        try:
            literal = netpolicy.ip_literal(host)
        except netpolicy.DestinationRefused as exc:
            raise _refused(exc) from None
        if literal is not None and not netpolicy.is_public_address(literal):
            raise _refused(netpolicy.DestinationRefused("not_public"))
    structure = URLValidator(schemes=list(URL_SCHEMES))
    # Django >= 5.1 has its own 2048 cap; ours is the setting, already checked above.
    structure.max_length = maximum
    try:
        structure(url)
    except ValidationError:
        raise ValidationError(URL_MESSAGES["url_invalid"], code="url_invalid") from None
    if check_destination:  # last: resolving a name is the slowest check
        try:
            netpolicy.check_host(host, resolver=resolver or _url_resolver())
        except netpolicy.DestinationRefused as exc:
            raise _refused(exc) from None
    return url
