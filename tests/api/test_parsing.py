"""Crafted multipart bodies answer 400 with a clear error in the request's language, never 500.

Django's multipart parser refuses a hostile body with a ``SuspiciousOperation``
(``TooManyFilesSent``, ``SuspiciousMultipartForm``...), which the API maps to 400
``malformed_request``; the API takes one file part, named ``image``, and refuses any other
file part before reading it (400 ``unexpected_file``), and a second one (400
``duplicate_field``). Nothing is stored.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import SuspiciousMultipartForm
from django.http import multipartparser

from face_idcard.models import VerificationAttempt
from face_idcard.simulator import magic
from tests.support.api_helpers import (
    BASE,
    NAME,
    client_for,
    error_code,
    form,
    photo_file,
    plain_user,
)

pytestmark = pytest.mark.django_db

UNREADABLE = {"en": "The request body could not be read.", "zh-hans": "无法读取请求内容。"}
ONE_FILE = {
    "en": "Only one file is accepted: the photo, in the field image.",
    "zh-hans": "只接受一个文件：照片，字段名为 image。",
}
LANGUAGES = ["en", "zh-hans"]


def post(body: dict[str, Any], language: str) -> Any:
    cache.clear()  # the creation throttle counts in the cache, which outlives a test
    client = client_for(plain_user("parsing-user"))
    return client.post(BASE, body, format="multipart", HTTP_ACCEPT_LANGUAGE=language)


def fields() -> dict[str, Any]:
    return {"idcard_number": magic.MATCH, "idcard_name": NAME, "consent": "true"}


def assert_refused(response: Any, code: str, message: str) -> None:
    assert response.status_code == 400, response.content[:200]
    assert error_code(response) == code
    assert response.json()["error"]["message"] == message
    assert VerificationAttempt.objects.count() == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_101_file_parts_answer_400(face_settings: Any, language: str) -> None:
    """Django's own cap (DATA_UPLOAD_MAX_NUMBER_FILES, 100) would raise TooManyFilesSent."""
    body = {**fields(), **{f"file{n}": photo_file() for n in range(101)}}
    assert_refused(post(body, language), "unexpected_file", ONE_FILE[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_many_image_parts_answer_400(face_settings: Any, language: str) -> None:
    body = {**fields(), "image": [photo_file() for _ in range(101)]}
    response = post(body, language)
    assert response.status_code == 400
    assert error_code(response) == "duplicate_field"


@pytest.mark.parametrize("language", LANGUAGES)
def test_too_many_files_sent_answers_400(face_settings: Any, settings: Any, language: str) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 0  # Django refuses the first file part itself
    assert_refused(post(form(), language), "malformed_request", UNREADABLE[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_suspicious_multipart_form_answers_400(
    face_settings: Any, monkeypatch: Any, language: str
) -> None:
    def suspicious(*_: Any, **__: Any) -> Any:
        raise SuspiciousMultipartForm("The multipart parser got stuck")

    monkeypatch.setattr(multipartparser.MultiPartParser, "parse", suspicious)
    assert_refused(post(form(), language), "malformed_request", UNREADABLE[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_file_part_not_named_image_is_refused(face_settings: Any, language: str) -> None:
    body = {**form(), "document": photo_file()}
    assert_refused(post(body, language), "unexpected_file", ONE_FILE[language])


def test_the_photo_as_image_is_still_accepted(face_settings: Any) -> None:
    response = post(form(), "en")
    assert response.status_code == 202
