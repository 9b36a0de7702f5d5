"""What the API reads and what it shows.

Input: strict types (a number is not a string, ``1`` is not ``true``), the shared validators
for the ID number and the name (cheap, so the field errors come before anything costly); the
services check everything again, the photo and the url included. Output: masked identity
only, never the raw provider response; the similarity only where :func:`may_see_similarity`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import permissions
from ..conf import face_idcard_settings
from ..identity import validate_id_number, validate_name
from ..models import VerificationAttempt
from ..outcome import Liveness, Reason
from ..reasons import person_message
from ..states import Decision, ReviewDecision, Status

_NO_CHOICE: dict[str, Any] = {"invalid_choice": _("Not a valid choice.")}


class StrictCharField(serializers.CharField):
    """Only a string: DRF's own CharField turns ``12`` or ``1.5`` into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """``true``/``false`` (JSON) or their form spellings; never a number."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, int | float) and not isinstance(data, bool):
            self.fail("invalid", input="")
        return bool(super().to_internal_value(data))

    default_error_messages = {"invalid": _("Must be true or false.")}  # noqa: RUF012


def allowed_notice_versions() -> list[str]:
    """``NOTICE_VERSIONS``, else ``[NOTICE_VERSION]`` when set, else [] (any is accepted)."""
    versions = [str(v) for v in face_idcard_settings.NOTICE_VERSIONS or []]
    if not versions and face_idcard_settings.NOTICE_VERSION:
        versions = [str(face_idcard_settings.NOTICE_VERSION)]
    return versions


class AttemptCreateSerializer(serializers.Serializer[Any]):
    """The fields of a new attempt; ``image`` (multipart) or ``url`` (JSON or multipart)."""

    idcard_number = StrictCharField(max_length=32, help_text=_("The resident ID card number."))
    idcard_name = StrictCharField(max_length=64, help_text=_("The name on the ID card."))
    image = serializers.FileField(
        required=False, use_url=False, help_text=_("The photo (JPEG or PNG), multipart only.")
    )
    url = StrictCharField(
        required=False, max_length=4096, help_text=_("A public http(s) address of the photo.")
    )
    consent = StrictBooleanField(
        help_text=_("The person consented to the processing; the time recorded is the server's.")
    )
    notice_version = StrictCharField(
        required=False, max_length=64, help_text=_("The privacy notice version shown.")
    )
    external_reference = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=255,
        default="",
        help_text=_("The host's own reference (not personal information)."),
    )
    guardian_consent = StrictBooleanField(
        required=False, default=False, help_text=_("A guardian consented (minors).")
    )

    def validate_idcard_number(self, value: str) -> str:
        return validate_id_number(value)

    def validate_idcard_name(self, value: str) -> str:
        return validate_name(value)

    def validate_guardian_consent(self, value: bool) -> bool:
        # The client is usually the minor's own device: its "a guardian consented" proves
        # nothing, so it is refused unless the site says its clients attest it.
        if value and not face_idcard_settings.API_ACCEPT_GUARDIAN_CONSENT:
            raise serializers.ValidationError(
                _(
                    "A guardian's consent cannot be given here. The guardian must consent "
                    "through the site's own guardian process."
                ),
                code="guardian_consent_not_accepted",
            )
        return value

    def validate_notice_version(self, value: str) -> str:
        allowed = allowed_notice_versions()
        if allowed and value not in allowed:
            raise serializers.ValidationError(
                _("This privacy notice version is not known."), code="notice_version_unknown"
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("image" in attrs) == ("url" in attrs):
            raise serializers.ValidationError(
                _("Send either a photo or the address of a photo."), code="image_or_url"
            )
        return attrs


class AttemptCreateJSONSerializer(AttemptCreateSerializer):
    """The JSON form (for the schema): the photo comes by ``url``."""

    image = None  # type: ignore[assignment]
    url = StrictCharField(max_length=4096, help_text=_("A public http(s) address of the photo."))


class ReviewSerializer(serializers.Serializer[Any]):
    decision = serializers.ChoiceField(choices=ReviewDecision.values(), error_messages=_NO_CHOICE)
    reason = StrictCharField(max_length=2000)


class ListQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=Status.values(), required=False, error_messages=_NO_CHOICE
    )
    decision = serializers.ChoiceField(
        choices=Decision.values(), required=False, error_messages=_NO_CHOICE
    )
    external_reference = serializers.CharField(required=False, max_length=255)


def may_see_similarity(user: Any) -> bool:
    if face_idcard_settings.API_EXPOSE_SIMILARITY:
        return True
    return bool(getattr(user, "is_authenticated", False)) and bool(
        user.has_perm(permissions.full_name(permissions.REVIEW))
    )


def _decision(attempt: VerificationAttempt) -> str:
    return attempt.final_decision


def _reviewed(attempt: VerificationAttempt) -> bool:
    return bool(attempt.review_decision)


def _reason(attempt: VerificationAttempt) -> str | None:
    return attempt.reason or None


def _message(attempt: VerificationAttempt) -> str:
    return person_message(attempt)


def _similarity(attempt: VerificationAttempt, show: Callable[[], bool]) -> float | None:
    if attempt.similarity is None:
        # Nothing to hide: the permission (two queries) is not asked. A new attempt, the
        # 202 of every creation, has no score yet.
        return None
    return attempt.similarity if show() else None


#: Stateless (the format and the time zone are read at each call): shared by every response.
_DATETIME = serializers.DateTimeField()


def represent(attempt: VerificationAttempt, show_similarity: Callable[[], bool]) -> dict[str, Any]:
    """An attempt as the API shows it: the fields of :class:`AttemptSerializer`, in its order
    and formats, built without instantiating its fields (DRF deep-copies every declared field
    for each serializer: about half a millisecond of CPU a response, bench/api.py).
    ``show_similarity()`` is asked only for an attempt that has a score."""
    finished = attempt.finished_at
    return {
        "id": str(attempt.pk),
        "status": attempt.status,
        "decision": _decision(attempt),
        "reviewed": _reviewed(attempt),
        "reason": _reason(attempt),
        "message": _message(attempt),
        "idcard_number": attempt.idcard_number_masked,
        "idcard_name": attempt.idcard_name_masked,
        "external_reference": attempt.external_reference,
        "notice_version": attempt.notice_version,
        "similarity": _similarity(attempt, show_similarity),
        "liveness": attempt.liveness,
        "created_at": _DATETIME.to_representation(attempt.created_at),
        "finished_at": None if finished is None else _DATETIME.to_representation(finished),
    }


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
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, attempt: VerificationAttempt) -> dict[str, Any]:
        return represent(attempt, self._may_show_similarity)

    def _may_show_similarity(self) -> bool:
        """The context's ``show_similarity`` (a callable or a bool), asked once per serializer
        (a list's child serves every row)."""
        if not hasattr(self, "_similarity_shown"):
            show = self.context.get("show_similarity")
            self._similarity_shown = bool(show() if callable(show) else show)
        return self._similarity_shown

    @extend_schema_field(serializers.ChoiceField(choices=Decision.values()))
    def get_decision(self, attempt: VerificationAttempt) -> str:
        return _decision(attempt)

    @extend_schema_field(serializers.BooleanField())
    def get_reviewed(self, attempt: VerificationAttempt) -> bool:
        return _reviewed(attempt)

    @extend_schema_field(
        serializers.ChoiceField(choices=[reason.value for reason in Reason], allow_null=True)
    )
    def get_reason(self, attempt: VerificationAttempt) -> str | None:
        return _reason(attempt)

    @extend_schema_field(serializers.CharField())
    def get_message(self, attempt: VerificationAttempt) -> str:
        return _message(attempt)

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
