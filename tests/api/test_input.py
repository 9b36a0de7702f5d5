"""At least 40 bad inputs, each with its status and stable code, and nothing stored or billed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings

from face_idcard.models import AttemptEvent, IdempotencyKey, VerificationAttempt
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.api_helpers import BASE, NAME, client_for, error_code, photo_file, plain_user
from tests.support.idfactory import make_id
from tests.support.paths import TESTS_DIR

pytestmark = pytest.mark.django_db

PRIVATE = TESTS_DIR / ".private"


def multipart(**overrides: Any) -> tuple[dict[str, Any], str]:
    body: dict[str, Any] = {
        "idcard_number": magic.MATCH,
        "idcard_name": NAME,
        "image": photo_file(),
        "consent": "true",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}, "multipart"


def as_json(**overrides: Any) -> tuple[dict[str, Any], str]:
    body: dict[str, Any] = {
        "idcard_number": magic.MATCH,
        "idcard_name": NAME,
        "url": "https://photos.example.com/face.jpg",
        "consent": True,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}, "json"


def image(data: bytes, name: str = "face.jpg") -> dict[str, Any]:
    return {"image": photo_file(data, name)}


def raw(content: bytes | str, content_type: str) -> Callable[[Any], Any]:
    return lambda client: client.generic("POST", BASE, content, content_type=content_type)


BOUNDARY = "XyZbOuNdArY"


def raw_multipart(parts: list[tuple[str, bytes]], tail: bool = True) -> Callable[[Any], Any]:
    body = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in parts
    )
    if tail:
        body += f"--{BOUNDARY}--\r\n".encode()
    return raw(body, f"multipart/form-data; boundary={BOUNDARY}")


LONG = "张" * 10_000
SQL = "张三'; DROP TABLE face_idcard_verificationattempt; --"
HTML = "<script>alert(1)</script>"

#: (label, request: a body and format, or a callable taking the client; status; code)
CASES: list[tuple[str, Any, int, str]] = [
    ("wrong check character", multipart(idcard_number="110101190001010015"), 400, "invalid"),
    ("future birth date", multipart(idcard_number=make_id(birth="20990101")), 400, "invalid"),
    ("birth before 1900", multipart(idcard_number=make_id(birth="18991231")), 400, "invalid"),
    ("impossible birth date", multipart(idcard_number=make_id(birth="19900230")), 400, "invalid"),
    ("short ID number", multipart(idcard_number="11010119900101"), 400, "invalid"),
    ("letters in ID number", multipart(idcard_number="11010119900101ABCD"), 400, "invalid"),
    ("unknown region", multipart(idcard_number=make_id(address="990101")), 400, "invalid"),
    ("10 KB ID number", multipart(idcard_number="1" * 10_000), 400, "invalid"),
    (
        "zero-width in ID number",
        multipart(idcard_number=magic.MATCH[:6] + "\u200b" + magic.MATCH[6:]),
        400,
        "invalid",
    ),
    ("SQL in ID number", multipart(idcard_number="1' OR '1'='1"), 400, "invalid"),
    ("Latin name", multipart(idcard_name="Zhang San"), 400, "invalid"),
    ("emoji name", multipart(idcard_name="张三😀"), 400, "invalid"),
    ("zero-width in name", multipart(idcard_name="张\u200b三"), 400, "invalid"),
    ("10 KB name", multipart(idcard_name=LONG), 400, "invalid"),
    ("SQL name", multipart(idcard_name=SQL), 400, "invalid"),
    ("HTML name", multipart(idcard_name=HTML), 400, "invalid"),
    ("one-character name", multipart(idcard_name="张"), 400, "invalid"),
    ("NUL in name", multipart(idcard_name="张\x00三"), 400, "invalid"),
    ("missing ID number", multipart(idcard_number=None), 400, "invalid"),
    ("missing name", multipart(idcard_name=None), 400, "invalid"),
    ("missing consent", multipart(consent=None), 400, "invalid"),
    ("consent false", multipart(consent="false"), 400, "invalid"),
    ("missing image and url", multipart(image=None), 400, "image_or_url"),
    ("both image and url", multipart(url="https://photos.example.com/a.jpg"), 400, "image_or_url"),
    ("ftp url", as_json(url="ftp://photos.example.com/a.jpg"), 400, "invalid"),
    ("file url", as_json(url="file:///etc/passwd"), 400, "invalid"),
    ("loopback url", as_json(url="http://127.0.0.1/a.jpg"), 400, "invalid"),
    ("private url", as_json(url="http://10.0.0.8/a.jpg"), 400, "invalid"),
    ("metadata url", as_json(url="http://169.254.169.254/latest"), 400, "invalid"),
    ("url with credentials", as_json(url="https://u:p@photos.example.com/a.jpg"), 400, "invalid"),
    ("10 KB url", as_json(url="https://photos.example.com/" + "a" * 10_000), 400, "invalid"),
    ("GIF photo", multipart(**image(imagefactory.gif(), "face.gif")), 400, "invalid"),
    ("truncated JPEG", multipart(**image(imagefactory.truncated_jpeg())), 400, "invalid"),
    ("pixel bomb", multipart(**image(imagefactory.huge_png_header(), "bomb.png")), 400, "invalid"),
    ("empty photo", multipart(**image(b"")), 400, "invalid"),
    ("text as photo", multipart(**image(b"not an image at all" * 10)), 400, "invalid"),
    ("tiny photo", multipart(**image(imagefactory.jpeg(16, 16))), 400, "invalid"),
    ("unknown notice version", multipart(notice_version="v0-forged"), 400, "invalid"),
    ("10 KB external reference", multipart(external_reference="x" * 10_000), 400, "invalid"),
    ("JSON number as ID", as_json(idcard_number=110101190001010014), 400, "invalid"),
    ("JSON list as name", as_json(idcard_name=["张三"]), 400, "invalid"),
    ("JSON string consent 1", as_json(consent=1), 400, "invalid"),
    ("JSON object as url", as_json(url={"href": "https://x"}), 400, "invalid"),
    (
        "JSON null name",
        as_json(idcard_name=None)
        and (
            {
                "idcard_number": magic.MATCH,
                "idcard_name": None,
                "url": "https://photos.example.com/a.jpg",
                "consent": True,
            },
            "json",
        ),
        400,
        "invalid",
    ),
    ("JSON array body", raw("[1, 2]", "application/json"), 400, "not_object"),
    ("JSON string body", raw('"hello"', "application/json"), 400, "not_object"),
    ("malformed JSON", raw('{"idcard_number": ', "application/json"), 400, "malformed_request"),
    ("JSON NaN", raw('{"idcard_number": NaN}', "application/json"), 400, "malformed_request"),
    (
        "deeply nested JSON",
        raw("[" * 100_000 + "]" * 100_000, "application/json"),
        413,
        "payload_too_large",
    ),
    (
        "JSON duplicate keys",
        raw(
            json.dumps({"idcard_number": magic.MATCH}).rstrip("}")
            + ', "idcard_number": "1", "idcard_name": "张三", "url": "https://photos.example.com/a.jpg", "consent": true}',
            "application/json",
        ),
        400,
        "duplicate_field",
    ),
    (
        "JSON not UTF-8",
        raw(b'{"idcard_name": "\xff\xfe"}', "application/json"),
        400,
        "malformed_request",
    ),
    ("image in JSON", as_json(url=None, image="aGVsbG8="), 400, "invalid"),
    (
        "duplicate multipart field",
        raw_multipart(
            [
                ("idcard_number", magic.MATCH.encode()),
                ("idcard_number", b"110101190001010022"),
                ("idcard_name", NAME.encode()),
                ("consent", b"true"),
            ]
        ),
        400,
        "duplicate_field",
    ),
    (
        "malformed multipart",
        raw(b"--nope\r\ngarbage", f"multipart/form-data; boundary={BOUNDARY}"),
        400,
        "invalid",
    ),
    ("multipart without boundary", raw(b"abc", "multipart/form-data"), 400, "malformed_request"),
    (
        "unterminated multipart",
        raw_multipart([("idcard_number", b"1" * 100)], tail=False),
        400,
        "invalid",
    ),
    (
        "form-urlencoded",
        raw("idcard_number=1", "application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    ),
    ("text/plain", raw("hello", "text/plain"), 415, "unsupported_media_type"),
    ("XML", raw("<a/>", "application/xml"), 415, "unsupported_media_type"),
    ("body over the limit", "oversize", 413, "payload_too_large"),
    (
        "JSON over 64 KB",
        raw(json.dumps({"idcard_name": "x" * 70_000}), "application/json"),
        413,
        "payload_too_large",
    ),
    ("bad Idempotency-Key", "badkey", 400, "invalid"),
]


@pytest.fixture
def audit_counts() -> Callable[[], tuple[int, int, int]]:
    return lambda: (
        VerificationAttempt.objects.count(),
        AttemptEvent.objects.count(),
        IdempotencyKey.objects.count(),
    )


def private_files() -> set[Path]:
    return set(PRIVATE.rglob("*")) if PRIVATE.exists() else set()


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({label for label, *_ in CASES}) == len(CASES)


@pytest.mark.parametrize(("label", "request_", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(
    label: str,
    request_: Any,
    status: int,
    code: str,
    face_settings: Any,
    simulator: Any,
    audit_counts: Callable[[], tuple[int, int, int]],
) -> None:
    cache.clear()
    face_settings(NOTICE_ACCEPTED_VERSIONS=["2026-11"], UPLOAD_MAX_BYTES=1024 * 1024)
    client = client_for(plain_user("owner"))
    before, files = audit_counts(), private_files()
    if request_ == "oversize":
        response = client.post(
            BASE,
            {
                "idcard_number": magic.MATCH,
                "idcard_name": NAME,
                "consent": "true",
                "image": photo_file(b"\xff" * (2 * 1024 * 1024)),
            },
            format="multipart",
        )
    elif request_ == "badkey":
        body, fmt = multipart()
        response = client.post(BASE, body, format=fmt, headers={"Idempotency-Key": "has space"})
    elif callable(request_):
        response = request_(client)
    else:
        body, fmt = request_
        response = client.post(BASE, body, format=fmt)
    assert response.status_code == status, (label, response.content[:500])
    assert response["Content-Type"] == "application/json"
    assert error_code(response) == code, response.json()
    assert audit_counts() == before  # nothing stored
    assert private_files() == files  # no selfie written
    assert simulator.ledger.calls() == []  # nothing billed
    text = response.content.decode()
    assert magic.MATCH not in text and "DROP TABLE" not in text and "<script>" not in text


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None)
def test_upload_over_the_limit_with_a_lying_content_length_is_stopped_while_streaming(
    face_settings: Any,
) -> None:
    """The Content-Length check passes (the body says it is small); the handler stops it."""
    from django.test import RequestFactory

    from face_idcard.api.views import AttemptViewSet

    face_settings(UPLOAD_MAX_BYTES=100_000)
    owner = plain_user("owner")
    payload = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + b"\xff" * 300_000
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    request = RequestFactory().generic(
        "POST", BASE, payload, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )
    request.META["CONTENT_LENGTH"] = "1000"  # a lie: the stream still holds everything
    request.META["wsgi.input"] = __import__("io").BytesIO(payload)
    from rest_framework.test import force_authenticate

    force_authenticate(request, user=owner)
    view = AttemptViewSet.as_view({"post": "create"})
    response = view(request)
    # Django's LimitedStream reads only what Content-Length says: the body ends early and is
    # malformed. Either way nothing is stored and it is not a 500.
    assert response.status_code in (400, 413)
    assert VerificationAttempt.objects.count() == 0


def test_capped_handler_stops_a_file_over_the_limit() -> None:
    from face_idcard.api.errors import PayloadTooLarge
    from face_idcard.api.parsing import CappedUploadHandler

    handler = CappedUploadHandler(None, max_bytes=10)
    handler.new_file("image", "a.jpg", "image/jpeg", None)
    assert handler.receive_data_chunk(b"12345", 0) == b"12345"
    with pytest.raises(PayloadTooLarge):
        handler.receive_data_chunk(b"678901", 5)
