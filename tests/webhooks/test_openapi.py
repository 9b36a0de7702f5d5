"""The webhook payloads in the OpenAPI document (drf-spectacular's ``WEBHOOKS``), matching what
the app sends."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings

from face_idcard.webhooks import openapi, payloads


def test_the_schema_documents_each_event() -> None:
    # drf-spectacular reads SPECTACULAR_SETTINGS once; its own patching stands in for a site's.
    with patched_settings({"OAS_VERSION": "3.1.0", "WEBHOOKS": openapi.WEBHOOKS}):
        schema = SchemaGenerator().get_schema(request=None, public=True)
    assert set(schema["webhooks"]) == {
        "attempt.decided",
        "attempt.reviewed",
        "attempt.redacted",
        "ping",
    }
    decided = schema["webhooks"]["attempt.decided"]["post"]
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert header in decided["description"]
    assert decided["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AttemptEvent"
    }
    data = schema["components"]["schemas"]["AttemptEventData"]["properties"]
    assert set(data) == {*payloads.ATTEMPT_FIELDS, "similarity"}


pytestmark = pytest.mark.django_db
