"""Clients and requests for the API tests (tests/api/)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from face_idcard.simulator import magic
from tests.support import imagefactory

BASE = "/api/face-idcard/attempts/"
NAME = "张三"
PHOTO = imagefactory.jpeg(320, 240)


def client_for(user: Any = None) -> APIClient:
    """A client authenticated by a real token (none for ``user=None``)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def plain_user(username: str, **extra: Any) -> Any:
    user, _ = get_user_model().objects.get_or_create(username=username, defaults=extra)
    return user


def photo_file(data: bytes = PHOTO, name: str = "face.jpg") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def form(**overrides: Any) -> dict[str, Any]:
    """A valid multipart body (a fresh photo file each time)."""
    body: dict[str, Any] = {
        "idcard_number": magic.MATCH,
        "idcard_name": NAME,
        "image": photo_file(),
        "consent": "true",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def create(client: APIClient, headers: dict[str, str] | None = None, **overrides: Any) -> Any:
    return client.post(BASE, form(**overrides), format="multipart", headers=headers)


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def field_codes(response: Any) -> dict[str, list[str]]:
    fields = response.json()["error"].get("fields", {})
    return {name: [item["code"] for item in items] for name, items in fields.items()}
