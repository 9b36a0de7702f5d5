"""schemathesis over every operation of the API's OpenAPI schema, in process (WSGI): no 5xx,
every response documented and conforming to the schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api_helpers import client_for, plain_user

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_operation_conforms(face_settings: Any) -> None:
    face_settings(API_CREATE_THROTTLE_RATE=None, NOTICE_VERSIONS=["2026-11"])
    cache.clear()
    owner = plain_user("schemathesis")
    token = client_for(owner)._credentials["HTTP_AUTHORIZATION"]
    app = get_wsgi_application()
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
    operations = list(schema.get_all_operations())
    assert len(operations) >= 5
    failures: list[str] = []
    for result in operations:
        operation = result.ok()
        failure = _run(operation, token)
        if failure:
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)


def _run(operation: Any, token: str) -> str:
    @given(operation.as_strategy())
    @settings(
        max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def check(case: Any) -> None:
        response = case.call(headers={"Authorization": token})
        case.validate_response(response, checks=CHECKS)

    try:
        check()
    except Exception as exc:
        return str(exc)[:3000]
    return ""
