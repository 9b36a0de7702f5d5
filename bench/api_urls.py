"""The bench-only URLconf: the API as a host mounts it, and the baseline it is compared to.

The baseline is the least a DRF endpoint taking the same photo must do: authenticate the
token, parse the multipart body, run the same image preparation (``validate_image`` with the
backend's limits and the upload limit) and store the prepared file. Everything the API does
beyond that (validation of the other fields, hashing, encryption, the rows, the audit events,
the publish, the representation) is what the ratio measures.
"""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import include, path
from rest_framework import exceptions, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from face_idcard._images import limits_for, read_upload, validate_image
from face_idcard.backends import get_backend


class BaselineUpload(APIView):
    parser_classes = [MultiPartParser]  # noqa: RUF012
    permission_classes = [IsAuthenticated]  # noqa: RUF012

    def post(self, request: Request) -> Response:
        image = request.data.get("image")
        if image is None:
            raise exceptions.ValidationError({"image": "required"})
        limits = limits_for(get_backend().image_limits)
        prepared = validate_image(read_upload(image, limits.max_input_bytes), limits)
        name = default_storage.save(
            "baseline/photo" + prepared.extension, ContentFile(prepared.data)
        )
        return Response({"name": name}, status=status.HTTP_202_ACCEPTED)


def _health(*args: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(b"ok")


urlpatterns = [
    path("api/face-idcard/", include("face_idcard.api.urls")),
    path("baseline/", BaselineUpload.as_view()),
    path("health/", _health),
]
