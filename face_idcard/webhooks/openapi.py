"""The webhook payloads for drf-spectacular's OpenAPI ``webhooks`` (the ``[drf]`` extra).

A site documents them in its API schema with::

    SPECTACULAR_SETTINGS = {
        ...,
        "OAS_VERSION": "3.1.0",  # webhooks are an OpenAPI 3.1 object
        "WEBHOOKS": [
            "face_idcard.webhooks.openapi.ATTEMPT_DECIDED",
            "face_idcard.webhooks.openapi.ATTEMPT_REVIEWED",
            "face_idcard.webhooks.openapi.ATTEMPT_REDACTED",
            "face_idcard.webhooks.openapi.PING",
        ],  # the same as face_idcard.webhooks.openapi.WEBHOOKS
    }

Each event is a ``POST`` to the receiver's url with the serializer below as its body (the
shape only: the app writes the JSON itself, :mod:`face_idcard.webhooks.payloads`).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiWebhook, extend_schema
from rest_framework import serializers

from .models import EventType


class AttemptEventDataSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.UUIDField(help_text="The attempt's id: fetch it from the API for more.")
    external_reference = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    decision = serializers.CharField(
        help_text="The reviewer's decision if any, else the machine's."
    )
    machine_decision = serializers.CharField()
    review_decision = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True, help_text="The neutral reason code.")
    backend = serializers.CharField(help_text="The backend alias the attempt ran on.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    redacted_at = serializers.DateTimeField(allow_null=True)
    similarity = serializers.FloatField(
        required=False, help_text="Only with the setting WEBHOOK_INCLUDE_SIMILARITY."
    )


class AttemptEventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    type = serializers.ChoiceField(
        choices=[EventType.DECIDED.value, EventType.REVIEWED.value, EventType.REDACTED.value]
    )
    timestamp = serializers.DateTimeField(help_text="When the event happened (UTC).")
    data = AttemptEventDataSerializer()  # type: ignore[assignment]  # a field, not .data


class PingDataSerializer(serializers.Serializer):  # type: ignore[type-arg]
    endpoint = serializers.UUIDField()


class PingEventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    type = serializers.ChoiceField(choices=[EventType.PING.value])
    timestamp = serializers.DateTimeField()
    data = PingDataSerializer()  # type: ignore[assignment]  # a field, not .data


_ANSWERS = {200: None, 410: None}


def _webhook(event_type: str, summary: str, body: type[serializers.Serializer]) -> OpenApiWebhook:  # type: ignore[type-arg]
    return OpenApiWebhook(
        name=event_type,
        decorator=extend_schema(
            summary=summary,
            # drf-spectacular leaves a webhook's parameters out: the headers are described here.
            description=(
                "Signed per the Standard Webhooks specification: headers webhook-id (the same "
                "on every retry and replay: deduplicate on it), webhook-timestamp (Unix "
                "seconds of this try) and webhook-signature (space-separated v1,<Base64 "
                "HMAC-SHA256>, one per active secret). Answer 2xx quickly; anything else is "
                "retried for about three days. 410 Gone disables the endpoint."
            ),
            request=body,
            responses=_ANSWERS,
        ),
    )


ATTEMPT_DECIDED = _webhook(
    EventType.DECIDED.value, "An attempt was decided", AttemptEventSerializer
)
ATTEMPT_REVIEWED = _webhook(
    EventType.REVIEWED.value, "An attempt was reviewed", AttemptEventSerializer
)
ATTEMPT_REDACTED = _webhook(
    EventType.REDACTED.value, "An attempt's personal information was erased", AttemptEventSerializer
)
PING = _webhook(EventType.PING.value, "A test sent from the admin", PingEventSerializer)

#: For ``SPECTACULAR_SETTINGS["WEBHOOKS"]`` (import strings, one per event type).
WEBHOOKS = [
    f"{__name__}.{name}"
    for name in ("ATTEMPT_DECIDED", "ATTEMPT_REVIEWED", "ATTEMPT_REDACTED", "PING")
]
