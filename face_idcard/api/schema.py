"""What the OpenAPI schema (drf-spectacular) adds to its own reading of the API's views.

- Every :class:`~face_idcard.api.serializers.DeclaredCharField` states its
  :class:`~face_idcard.api.serializers.TextRule` (``pattern``, ``minLength``, ``maxLength``,
  ``enum``), read at each generation: the name's rule and the notice versions follow the
  settings.
- A multipart creation has either ``image`` or ``url`` (``oneOf``).
- A created attempt's response links to its retrieval and its cancellation (OpenAPI
  ``links``: drf-spectacular declares none itself), so a generated client can follow it.

The operations have fixed ids (``OPERATION_IDS``): links name them, and a client generated from
the schema keeps its method names wherever the site mounts the API.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema

#: The id of each operation, by the view's action.
OPERATION_IDS = {
    "list": "face_idcard_attempts_list",
    "create": "face_idcard_attempts_create",
    "retrieve": "face_idcard_attempts_retrieve",
    "cancel": "face_idcard_attempts_cancel_create",
    "review": "face_idcard_attempts_review_create",
    "notice": "face_idcard_attempts_notice_retrieve",
}

#: Where the created attempt's id is, in the 202 response (a runtime expression).
CREATED_ID = "$response.body#/id"

#: The links of a created attempt's response: each takes the attempt's id as its path ``id``.
ATTEMPT_LINKS = {
    "GetAttempt": {
        "operationId": OPERATION_IDS["retrieve"],
        "parameters": {"id": CREATED_ID},
        "description": "The attempt just created: poll it until its status is final.",
    },
    "CancelAttempt": {
        "operationId": OPERATION_IDS["cancel"],
        "parameters": {"id": CREATED_ID},
        "description": "Cancel the attempt just created while it is still waiting.",
    },
}


#: A multipart creation has the photo or its url, not both (drf-spectacular states each field
#: alone, both optional).
PHOTO_OR_URL = {"oneOf": [{"required": ["image"]}, {"required": ["url"]}]}


class AttemptSchema(AutoSchema):
    """drf-spectacular's schema of a view, plus the links of the created attempt's response."""

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation and operation.get("operationId") == OPERATION_IDS["create"]:
            accepted = operation.get("responses", {}).get("202")
            if accepted is not None:
                accepted["links"] = {name: dict(link) for name, link in ATTEMPT_LINKS.items()}
            content = operation.get("requestBody", {}).get("content", {})
            form = content.get("multipart/form-data")
            if form is not None and "schema" in form:
                form["schema"] = {"allOf": [form["schema"]], **PHOTO_OR_URL}
        return operation


class DeclaredCharFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """The schema of a ``DeclaredCharField``: its rule, as the field enforces it."""

    target_class = "face_idcard.api.serializers.DeclaredCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        rule = self.target.rule()
        # No minLength here: drf-spectacular sets 1 for a field that refuses blanks, over any
        # value of ours; a rule with a longer minimum says it in its pattern.
        schema: dict[str, Any] = {"type": "string", "maxLength": rule.max_length}
        schema["pattern"] = f"^(?:{rule.pattern})$"
        if rule.choices:
            schema["enum"] = list(rule.choices)
        return schema
