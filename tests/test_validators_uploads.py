"""Uploads and the minimum age, as tables (issue 17: what the mutation run found unpinned).

``read_upload`` takes bytes, binary file objects and Django uploads, never reads more than the
limit plus one byte, and refuses text; ``check_minimum_age`` applies ``MINIMUM_AGE`` (none when
unset or 0) unless a guardian consented.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test import override_settings
from django.utils import timezone, translation

from face_idcard.validators import (
    check_minimum_age,
    check_upload_type,
    read_upload,
    validate_consent_time,
    validate_text_length,
)
from tests.test_validators import make_id

LIMIT = 10


class Recording(io.RawIOBase):
    """A binary stream that records how much each read asked for."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.asked: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        return self._data.read(size)


def uploaded(data: bytes, *, size: int | None = None, read_first: bool = False) -> Any:
    upload = SimpleUploadedFile("face.jpg", data, content_type="image/jpeg")
    if size is not None:
        upload.size = size
    if read_first:
        upload.read()  # a form that looked at it already
    return upload


#: (make the upload, expected bytes or error code)
CASES: list[tuple[str, Callable[[bytes], Any]]] = [
    ("bytes", lambda data: data),
    ("bytearray", bytearray),
    ("memoryview", memoryview),
    ("file", io.BytesIO),
    ("upload", uploaded),
    ("upload already read", lambda data: uploaded(data, read_first=True)),
]


@pytest.mark.parametrize(("kind", "make"), CASES, ids=[kind for kind, _ in CASES])
@pytest.mark.parametrize(("size", "fits"), [(1, True), (LIMIT, True), (LIMIT + 1, False)])
def test_read_upload_up_to_the_limit(
    kind: str, make: Callable[[bytes], Any], size: int, fits: bool
) -> None:
    data = bytes(range(size))
    if fits:
        result = read_upload(make(data), LIMIT)
        assert result == data and type(result) is bytes
    else:
        with pytest.raises(ValidationError) as caught:
            read_upload(make(data), LIMIT)
        assert caught.value.code == "image_too_large"


def test_an_upload_whose_declared_size_is_too_large_is_not_read() -> None:
    upload = uploaded(b"small", size=LIMIT + 1)
    upload.file.read = None  # reading it would now fail loudly
    with pytest.raises(ValidationError) as caught:
        read_upload(upload, LIMIT)
    assert caught.value.code == "image_too_large"
    # Its declared size at the limit is read as usual.
    assert read_upload(uploaded(b"x" * LIMIT, size=LIMIT), LIMIT) == b"x" * LIMIT


def test_an_upload_without_a_size_is_read_with_the_cap() -> None:
    upload = TemporaryUploadedFile("face.jpg", "image/jpeg", None, None)
    upload.write(b"y" * (LIMIT + 5))
    upload.size = None
    try:
        with pytest.raises(ValidationError):
            read_upload(upload, LIMIT)
    finally:
        upload.close()


def test_never_more_than_the_limit_plus_one_byte_is_read() -> None:
    stream = Recording(b"z" * 1000)
    with pytest.raises(ValidationError):
        read_upload(stream, LIMIT)
    assert stream.asked == [LIMIT + 1]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("text", "image must be bytes"),
        (io.StringIO("text"), "image must be bytes"),
        (12, "image must be bytes"),
        (None, "image must be bytes"),
        (type("NoBytes", (), {"read": lambda self, size=-1: "text"})(), "binary mode"),
    ],
    ids=["str", "text file", "int", "none", "read returns text"],
)
def test_anything_else_is_a_type_error(image: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        read_upload(image, LIMIT)


@pytest.mark.parametrize(
    ("image", "accepted"),
    [
        (b"x", True),
        (bytearray(b"x"), True),
        (memoryview(b"x"), True),
        (io.BytesIO(b"x"), True),
        (uploaded(b"x"), True),
        (io.StringIO("x"), False),
        ("x", False),
        (object(), False),
        (type("ReadIsNotCallable", (), {"read": b"x"})(), False),
    ],
)
def test_check_upload_type(image: Any, accepted: bool) -> None:
    if accepted:
        check_upload_type(image)
    else:
        with pytest.raises(TypeError, match="not "):
            check_upload_type(image)


# --- the minimum age ---------------------------------------------------------------------------


def born(years_ago: int, days: int = 0) -> str:
    today = timezone.localdate()
    birthday = today.replace(year=today.year - years_ago, day=min(today.day, 28))
    return make_id(birth=(birthday + timedelta(days=days)).strftime("%Y%m%d"))


@pytest.mark.parametrize(
    ("minimum", "years", "days", "guardian", "refused"),
    [
        (None, 0, 0, False, False),  # unset: no minimum at all, a newborn included
        (0, 0, 0, False, False),
        ("", 0, 0, False, False),
        (14, 14, 0, False, False),  # 14 today
        (14, 14, 1, False, True),  # 14 tomorrow
        (14, 14, 1, True, False),  # a guardian consented
        (14, 30, 0, False, False),
        (18, 17, 0, False, True),
        (18, 18, 0, False, False),
        (1, 0, 0, False, True),
        (1, 1, 0, False, False),
    ],
)
def test_minimum_age(minimum: Any, years: int, days: int, guardian: bool, refused: bool) -> None:
    number = born(years, days)
    with override_settings(FACE_IDCARD={"MINIMUM_AGE": minimum}):
        if not refused:
            check_minimum_age(number, guardian_consent=guardian)
            return
        with pytest.raises(ValidationError) as caught, translation.override("en"):
            check_minimum_age(number, guardian_consent=guardian)
    assert caught.value.code == "id_minor"
    with translation.override("en"):
        assert f"younger than {minimum}:" in caught.value.messages[0]


# --- text lengths and consent times -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [("", None), ("a" * 5, None), ("a" * 6, "text_length"), (5, "text_type"), (None, "text_type")],
)
def test_text_length(value: Any, code: str | None) -> None:
    if code is None:
        assert validate_text_length(value, field="Reference", max_length=5) == value
        return
    with pytest.raises(ValidationError) as caught, translation.override("en"):
        validate_text_length(value, field="Reference", max_length=5)
    assert caught.value.code == code
    with translation.override("en"):
        assert "Reference" in caught.value.messages[0]
        if code == "text_length":
            assert "at most 5 characters" in caught.value.messages[0]


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-3600, True), (0, True), (30, True), (31, False)]
)
def test_consent_time_allows_the_clock_skew(offset: float, accepted: bool) -> None:
    now = timezone.now()
    value = now + timedelta(seconds=offset)
    with override_settings(FACE_IDCARD={"CONSENT_CLOCK_SKEW_SECONDS": 30}):
        if accepted:
            assert validate_consent_time(value, now=now) == value
        else:
            with pytest.raises(ValidationError) as caught:
                validate_consent_time(value, now=now)
            assert caught.value.code == "consent_future"
