"""What the API reads and what it shows.

Input: strict types (a number is not a string, ``1`` is not ``true``), the shared validators
for the ID number and the name (cheap, so the field errors come before anything costly); the
services check everything again, the photo and the url included. Output: masked identity
only, never the raw provider response; the similarity only where :func:`may_see_similarity`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import permissions
from .._capture import CaptureSource
from .._consent import configured_versions
from .._identity import (
    _HAN,
    ID_MESSAGES,
    NAME_DOT_LOOKALIKES,
    NAME_MESSAGES,
    validate_id_number,
    validate_name,
)
from .._masking import ID_NUMBER_LENGTH, NAME_SEPARATOR
from .._netpolicy import URL_MESSAGES
from .._reasons import (
    NOT_CONFIRMED_REASON,
    has_identity_detail,
    person_message,
    public_reason,
    public_status,
)
from ..conf import face_idcard_settings
from ..models import VerificationAttempt
from ..outcome import Liveness, Reason
from ..states import Decision, ReviewDecision, Status
from .access import has_app_permission

_NO_CHOICE: dict[str, Any] = {"invalid_choice": _("Not a valid choice.")}
#: The largest page of the list (``page_size``).
MAX_PAGE_SIZE = 100


#: Free text: anything but the NUL character (which DRF refuses in every text field).
NO_NUL = "[^\\u0000]*"


class NoNulValidator(RegexValidator):
    """DRF's refusal of NUL characters as a pattern, so that the schema states it too
    (drf-spectacular turns a ``RegexValidator`` into the field's ``pattern``)."""

    regex = rf"\A{NO_NUL}\Z"
    message = ProhibitNullCharactersValidator.message
    code = ProhibitNullCharactersValidator.code


class StrictCharField(serializers.CharField):
    """Only a string: DRF's own CharField turns ``12`` or ``1.5`` into text. No NUL
    character, and the schema says so."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, ProhibitNullCharactersValidator)
        ] + [NoNulValidator()]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


@dataclass(frozen=True)
class TextRule:
    """What a text field accepts, stated once: the field refuses anything else, and the schema
    declares the same (``pattern``, ``minLength``, ``maxLength``, ``enum``:
    :mod:`face_idcard.api.schema`). ``pattern`` must match the whole value, and reads alike in
    Python and ECMAScript (the schema's dialect): no ``\\s``, ``\\d`` or ``\\w``, whose
    meanings differ."""

    pattern: str
    max_length: int
    min_length: int = 1
    choices: tuple[str, ...] = ()

    def admits(self, value: str) -> bool:
        return (
            self.min_length <= len(value) <= self.max_length
            and re.fullmatch(self.pattern, value) is not None
            and (not self.choices or value in self.choices)
        )


class DeclaredCharField(StrictCharField):
    """A string that its :class:`TextRule` admits, as it was sent (no whitespace trimmed: the
    rule says which spaces are accepted). ``rule`` is called at each validation and each schema
    generation, so it follows the settings. A refused value is explained by ``explain``
    (which raises the field's specific error) where there is one."""

    default_error_messages = {"invalid_form": _("The value is not in the accepted form.")}  # noqa: RUF012

    def __init__(
        self,
        *,
        rule: Callable[[], TextRule],
        explain: Callable[[str], object] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.rule = rule
        self.explain = explain

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not self.rule().admits(value):
            if self.explain is not None:
                self.explain(value)
            self.fail("invalid_form")
        return value


#: The spaces a person may type around an ID number's digits or a name's parts: the ASCII
#: space and the ideographic (full-width) space. Other whitespace is refused.
_SPACES = " \u3000"
_FULLWIDTH_DIGITS = "\uff10-\uff19"


def id_number_rule() -> TextRule:
    """18 characters (digits, then a digit or X), in ASCII or full-width forms, a space at
    most between two of them and at either end: what
    :func:`~face_idcard._identity.normalize_id_number` turns into the 18 characters it
    validates."""
    digit = f"[0-9{_FULLWIDTH_DIGITS}]"
    last = f"[0-9Xx{_FULLWIDTH_DIGITS}\\uff38\\uff58]"
    space = f"[{_SPACES}]?"
    return TextRule(
        pattern=f"{space}(?:{digit}{space}){{17}}{last}{space}",
        max_length=2 * ID_NUMBER_LENGTH + 1,
        min_length=ID_NUMBER_LENGTH,
    )


def _bmp_complement(allowed: str) -> str:
    """A character class body (``\\uXXXX`` ranges) of the BMP characters not in ``allowed``
    (characters and ``a-b`` ranges), surrogates left out. Negated, it admits ``allowed`` and
    every character beyond the BMP alike in Python and in ECMAScript, where a regular
    expression without the ``u`` flag sees such a character as two surrogates: a class that
    names them (Han extension B and later) is invalid there."""
    points: set[int] = set()
    index = 0
    while index < len(allowed):
        if index + 2 < len(allowed) and allowed[index + 1] == "-":
            points.update(range(ord(allowed[index]), ord(allowed[index + 2]) + 1))
            index += 3
        else:
            points.add(ord(allowed[index]))
            index += 1
    refused = [
        point for point in range(0x10000) if point not in points and not 0xD800 <= point <= 0xDFFF
    ]
    ranges: list[list[int]] = []
    for point in refused:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "".join(
        f"\\u{start:04x}" if start == end else f"\\u{start:04x}-\\u{end:04x}"
        for start, end in ranges
    )


@functools.cache
def _name_characters(allow_latin: bool) -> str:
    dots = "".join(sorted(NAME_DOT_LOOKALIKES | {NAME_SEPARATOR}))
    return _bmp_complement(_HAN + dots + _SPACES + ("A-Za-z" if allow_latin else ""))


def name_rule() -> TextRule:
    """Chinese characters, the middle dot (or a look-alike), spaces (Latin letters where
    ``NAME_ALLOW_LATIN``), ``NAME_MIN_CHARS`` to ``NAME_MAX_CHARS`` characters. Any
    character beyond the BMP passes the rule (see :func:`_bmp_complement`); the name's own
    validation then refuses what is not a Chinese character."""
    minimum = int(face_idcard_settings.NAME_MIN_CHARS)
    maximum = int(face_idcard_settings.NAME_MAX_CHARS)
    characters = _name_characters(bool(face_idcard_settings.NAME_ALLOW_LATIN))
    return TextRule(
        # The lengths in the pattern too: the schema's minLength cannot say more than 1.
        pattern=f"[^{characters}]{{{minimum},{maximum}}}",
        min_length=minimum,
        max_length=maximum,
    )


def url_rule() -> TextRule:
    """An http(s) address without spaces or control characters, at most ``URL_MAX_CHARS``."""
    return TextRule(
        pattern="[Hh][Tt][Tt][Pp][Ss]?://[^\\u0000-\\u0020\\u007f-\\u00a0]+",
        max_length=int(face_idcard_settings.URL_MAX_CHARS),
    )


def _explain_id_number(value: str) -> None:
    """The validator's own error, else (a form it normalises, but the API does not take, such
    as a tab or a circled digit) ``id_characters``."""
    validate_id_number(value)
    raise DjangoValidationError(ID_MESSAGES["id_characters"], code="id_characters")


def _explain_name(value: str) -> None:
    validate_name(value)
    rule = name_rule()
    if not rule.min_length <= len(value) <= rule.max_length:
        raise DjangoValidationError(
            NAME_MESSAGES["name_length"],
            code="name_length",
            params={"min": rule.min_length, "max": rule.max_length},
        )
    raise DjangoValidationError(NAME_MESSAGES["name_characters"], code="name_characters")


def _explain_url(value: str) -> None:
    maximum = int(face_idcard_settings.URL_MAX_CHARS)
    if len(value) > maximum:
        raise DjangoValidationError(
            _(URL_MESSAGES["url_length"]), code="url_length", params={"max": maximum}
        )
    if not re.match("[Hh][Tt][Tt][Pp][Ss]?://", value):
        raise DjangoValidationError(_(URL_MESSAGES["url_scheme"]), code="url_scheme")
    raise DjangoValidationError(_(URL_MESSAGES["url_spaces"]), code="url_invalid")


class StrictBooleanField(serializers.BooleanField):
    """``true``/``false`` (JSON) or their form spellings; never a number."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, int | float) and not isinstance(data, bool):
            self.fail("invalid", input="")
        return bool(super().to_internal_value(data))

    default_error_messages = {"invalid": _("Must be true or false.")}  # noqa: RUF012


@extend_schema_field({"type": "boolean", "enum": [True]})
class ConsentField(StrictBooleanField):
    """``consent``: only ``true`` is accepted (the view answers ``false`` with
    ``consent_required``), and the schema says so."""


def allowed_notice_versions() -> list[str]:
    """``NOTICE_ACCEPTED_VERSIONS``, else ``[NOTICE_CURRENT_VERSION]`` when set, else [] (any passes here; the
    consent's notice must still be one the site holds: ``services.submit``)."""
    return configured_versions()


def notice_version_rule() -> TextRule:
    return TextRule(pattern=NO_NUL, max_length=64, choices=tuple(allowed_notice_versions()))


def _explain_notice_version(value: str) -> None:
    if allowed_notice_versions():
        raise serializers.ValidationError(
            _("This privacy notice version is not known."), code="notice_version_unknown"
        )


def external_reference_rule() -> TextRule:
    # Not empty: the field allows a blank value itself (DRF never asks the rule about it), and
    # drf-spectacular states that as a second choice, which must not overlap this one.
    return TextRule(pattern=f"{NO_NUL[:-1]}+", max_length=255)


class AttemptCreateSerializer(serializers.Serializer[Any]):
    """The fields of a new attempt; ``image`` (multipart) or ``url`` (JSON or multipart)."""

    idcard_number = DeclaredCharField(
        rule=id_number_rule,
        explain=_explain_id_number,
        help_text=_("The resident ID card number."),
    )
    idcard_name = DeclaredCharField(
        rule=name_rule, explain=_explain_name, help_text=_("The name on the ID card.")
    )
    image = serializers.FileField(
        required=False, use_url=False, help_text=_("The photo (JPEG or PNG), multipart only.")
    )
    url = DeclaredCharField(
        rule=url_rule,
        explain=_explain_url,
        required=False,
        help_text=_("A public http(s) address of the photo."),
    )
    consent = ConsentField(
        help_text=_("The person consented to the processing; the time recorded is the server's.")
    )
    notice_version = DeclaredCharField(
        rule=notice_version_rule,
        explain=_explain_notice_version,
        required=False,
        help_text=_("The privacy notice version shown."),
    )
    external_reference = DeclaredCharField(
        rule=external_reference_rule,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The host's own reference (not personal information)."),
    )
    guardian_consent = StrictBooleanField(
        required=False, default=False, help_text=_("A guardian consented (minors).")
    )
    # No default: a request without it keeps the Idempotency-Key fingerprint it had before.
    capture_source = serializers.ChoiceField(
        choices=[source.value for source in CaptureSource if source.value],
        required=False,
        help_text=_(
            "How the photo was taken: camera (a frame from a live view), capture_input (a "
            "capture input: the camera app on most phones) or file (a chosen file, refused "
            "where the site allows none). What the client says, recorded for the reviewer."
        ),
    )

    def validate_idcard_number(self, value: str) -> str:
        return validate_id_number(value)

    def validate_idcard_name(self, value: str) -> str:
        return validate_name(value)

    def validate_guardian_consent(self, value: bool) -> bool:
        # The client is usually the minor's own device: its "a guardian consented" proves
        # nothing, so it is refused unless the site says its clients attest it, or the
        # caller holds the permission to attest it (after the site's own guardian flow).
        if value and not face_idcard_settings.API_ACCEPT_GUARDIAN_CONSENT and not self._attests():
            raise serializers.ValidationError(
                _(
                    "A guardian's consent cannot be given here. The guardian must consent "
                    "through the site's own guardian process."
                ),
                code="guardian_consent_not_accepted",
            )
        return value

    def _attests(self) -> bool:
        """The caller holds ``face_idcard.attest_guardian_consent``: its site ran a real
        guardian flow first (the boolean is that caller's word; the evidence is the site's)."""
        request = self.context.get("request")
        return request is not None and has_app_permission(
            request.user, permissions.ATTEST_GUARDIAN_CONSENT
        )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("image" in attrs) == ("url" in attrs):
            raise serializers.ValidationError(
                _("Send either a photo or the address of a photo."), code="image_or_url"
            )
        return attrs


class AttemptCreateJSONSerializer(AttemptCreateSerializer):
    """The JSON form (for the schema): the photo comes by ``url``."""

    image = None  # type: ignore[assignment]
    url = DeclaredCharField(
        rule=url_rule, explain=_explain_url, help_text=_("A public http(s) address of the photo.")
    )


class ReviewSerializer(serializers.Serializer[Any]):
    decision = serializers.ChoiceField(choices=ReviewDecision.values(), error_messages=_NO_CHOICE)
    reason = StrictCharField(max_length=2000)


class QueryIntegerField(serializers.IntegerField):
    """ASCII digits only: ``int()`` would also take ``+5``, ``1_0``, `` 5`` or Arabic-Indic
    digits, which the schema's ``integer`` does not."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not re.fullmatch("[0-9]{1,9}", data):
            self.fail("invalid")
        return int(data)


class ListQuerySerializer(serializers.Serializer[Any]):
    """The list's query parameters, all of them: any other is refused (400), and so is an
    empty value (read from a plain dict: DRF takes an empty form value for an absent one)."""

    status = serializers.ChoiceField(
        choices=Status.values(), required=False, error_messages=_NO_CHOICE
    )
    decision = serializers.ChoiceField(
        choices=Decision.values(), required=False, error_messages=_NO_CHOICE
    )
    external_reference = StrictCharField(required=False, max_length=255)
    cursor = StrictCharField(
        required=False, help_text=_("The pagination cursor (from the next or previous link).")
    )
    page_size = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        help_text=_("Attempts per page (default 20)."),
    )


def may_see_similarity(user: Any) -> bool:
    if face_idcard_settings.API_EXPOSE_SIMILARITY:
        return True
    return bool(getattr(user, "is_authenticated", False)) and bool(
        user.has_perm(permissions.full_name(permissions.REVIEW))
    )


def may_see_reason_detail(user: Any) -> bool:
    """Whether ``user`` is shown the detailed reason and message (:mod:`face_idcard._reasons`):
    staff (``face_idcard.review`` or ``view_pii``), or everyone where the site sets
    ``SHOW_IDENTITY_REASONS_TO_USERS``."""
    if face_idcard_settings.SHOW_IDENTITY_REASONS_TO_USERS:
        return True
    return has_app_permission(user, permissions.REVIEW) or has_app_permission(
        user, permissions.VIEW_PII
    )


def _collapsed(attempt: VerificationAttempt, show_detail: Callable[[], bool]) -> bool:
    # The permission is asked only where the detail would differ.
    return has_identity_detail(attempt) and not show_detail()


def _decision(attempt: VerificationAttempt) -> str:
    return attempt.final_decision


def _reviewed(attempt: VerificationAttempt) -> bool:
    return bool(attempt.review_decision)


def _reason(attempt: VerificationAttempt, show_detail: Callable[[], bool]) -> str | None:
    return public_reason(attempt, detailed=not _collapsed(attempt, show_detail))


def _message(attempt: VerificationAttempt, show_detail: Callable[[], bool]) -> str:
    return person_message(attempt, detailed=not _collapsed(attempt, show_detail))


def _detail_by_setting() -> bool:
    return bool(face_idcard_settings.SHOW_IDENTITY_REASONS_TO_USERS)


def _similarity(attempt: VerificationAttempt, show: Callable[[], bool]) -> float | None:
    if attempt.similarity is None:
        # Nothing to hide: the permission (two queries) is not asked. A new attempt, the
        # 202 of every creation, has no score yet.
        return None
    return attempt.similarity if show() else None


#: Stateless (the format and the time zone are read at each call): shared by every response.
_DATETIME = serializers.DateTimeField()


def represent(
    attempt: VerificationAttempt,
    show_similarity: Callable[[], bool],
    show_detail: Callable[[], bool] = _detail_by_setting,
) -> dict[str, Any]:
    """An attempt as the API shows it: the fields of :class:`AttemptSerializer`, in its order
    and formats, built without instantiating its fields (DRF deep-copies every declared field
    for each serializer: about half a millisecond of CPU a response, bench/api.py).
    ``show_similarity()`` is asked only for an attempt that has a score, ``show_detail()``
    (:func:`may_see_reason_detail`) only for one whose reason or message it changes."""
    finished = attempt.finished_at
    detailed = not _collapsed(attempt, show_detail)
    status, decision = public_status(attempt, detailed=detailed)
    return {
        "id": str(attempt.pk),
        "status": status,
        "decision": decision,
        "reviewed": _reviewed(attempt),
        "reason": public_reason(attempt, detailed=detailed),
        "message": person_message(attempt, detailed=detailed),
        "idcard_number": attempt.idcard_number_masked,
        "idcard_name": attempt.idcard_name_masked,
        "external_reference": attempt.external_reference,
        "notice_version": attempt.notice_version,
        "similarity": _similarity(attempt, show_similarity),
        "liveness": attempt.liveness,
        "waiting_until": _waiting_until(attempt),
        "created_at": _DATETIME.to_representation(attempt.created_at),
        "finished_at": None if finished is None else _DATETIME.to_representation(finished),
    }


#: The statuses in which an attempt can be waiting for its turn at the provider.
_WAITING = frozenset({Status.QUEUED.value, Status.RETRY_WAIT.value})


def _waiting_until(attempt: VerificationAttempt) -> str | None:
    """When an attempt that waits for the provider (its turn under the quota, or a retry
    after a failure) goes again; None when it is not waiting."""
    due = attempt.next_attempt_at
    if attempt.status not in _WAITING or due is None or due <= timezone.now():
        return None
    return str(_DATETIME.to_representation(due))


class AttemptSerializer(serializers.Serializer[VerificationAttempt]):
    """An attempt as the API shows it (read-only): the fields declared here are the schema;
    :func:`represent` renders them (``tests/api/test_representation.py`` holds the two
    together, field by field, against DRF's own rendering of these declarations)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Status.values())
    decision = serializers.SerializerMethodField(
        help_text=_("The reviewer's decision where there is one, else the machine's.")
    )
    reviewed = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    idcard_number = serializers.CharField(source="idcard_number_masked")
    idcard_name = serializers.CharField(source="idcard_name_masked")
    external_reference = serializers.CharField()
    notice_version = serializers.CharField()
    similarity = serializers.SerializerMethodField()
    liveness = serializers.ChoiceField(
        choices=[verdict.value for verdict in Liveness],
        help_text=_("Whether the photo came from a live person (the verdict word only)."),
    )
    waiting_until = serializers.SerializerMethodField(
        help_text=_(
            "While the attempt waits for the provider (its turn under the provider's quota, or "
            "a retry after a failure): when it goes again. Null otherwise."
        )
    )
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, attempt: VerificationAttempt) -> dict[str, Any]:
        return represent(attempt, self._may_show_similarity, self._may_show_detail)

    def _may_show_similarity(self) -> bool:
        """The context's ``show_similarity`` (a callable or a bool), asked once per serializer
        (a list's child serves every row)."""
        if not hasattr(self, "_similarity_shown"):
            show = self.context.get("show_similarity")
            self._similarity_shown = bool(show() if callable(show) else show)
        return self._similarity_shown

    def _may_show_detail(self) -> bool:
        """The context's ``show_reason_detail`` (a callable or a bool; absent: the site's
        setting), asked once per serializer."""
        if not hasattr(self, "_detail_shown"):
            show = self.context.get("show_reason_detail", _detail_by_setting)
            self._detail_shown = bool(show() if callable(show) else show)
        return self._detail_shown

    @extend_schema_field(serializers.ChoiceField(choices=Decision.values()))
    def get_decision(self, attempt: VerificationAttempt) -> str:
        return _decision(attempt)

    @extend_schema_field(serializers.BooleanField())
    def get_reviewed(self, attempt: VerificationAttempt) -> bool:
        return _reviewed(attempt)

    @extend_schema_field(
        serializers.ChoiceField(
            choices=[*(reason.value for reason in Reason), NOT_CONFIRMED_REASON], allow_null=True
        )
    )
    def get_reason(self, attempt: VerificationAttempt) -> str | None:
        return _reason(attempt, self._may_show_detail)

    @extend_schema_field(serializers.CharField())
    def get_message(self, attempt: VerificationAttempt) -> str:
        return _message(attempt, self._may_show_detail)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_waiting_until(self, attempt: VerificationAttempt) -> str | None:
        return _waiting_until(attempt)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_similarity(self, attempt: VerificationAttempt) -> float | None:
        return _similarity(attempt, self._may_show_similarity)


class ErrorItemSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()


# Built with type(): a field named "fields" cannot be declared in a class body (it is the
# serializer's own attribute for its fields).
ErrorDetailSerializer = type(
    "ErrorDetailSerializer",
    (serializers.Serializer,),
    {
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(child=ErrorItemSerializer(many=True), required=False),
        "__module__": __name__,
    },
)


class ErrorSerializer(serializers.Serializer[Any]):
    """The one error body of the API."""

    error = ErrorDetailSerializer()


class NoticeSerializer(serializers.Serializer[Any]):
    """The privacy notice an attempt's consent refers to (``face_idcard._consent.describe``)."""

    version = serializers.CharField()
    sha256 = serializers.CharField(
        help_text=_("SHA-256 of the texts as canonical JSON (keys sorted, UTF-8, no spaces).")
    )
    texts = serializers.DictField(
        child=serializers.CharField(), help_text=_("The full text, by language.")
    )
    recipients = serializers.DictField(
        child=serializers.CharField(),
        help_text=_("Who the face may go to, by backend alias (the recipient's identity)."),
    )
    recipient_names = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text=_("The recipients' names as the text gives them, by language."),
    )
    over_internet = serializers.BooleanField(
        help_text=_("The notice says that the face travels over the Internet.")
    )
    first_used_at = serializers.DateTimeField()
