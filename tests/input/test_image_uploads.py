"""face_idcard._images, the side every entry point calls: ``read_upload`` (bytes, binary file
objects and Django uploads, never more than the limit plus one byte, text refused),
``validate_image`` (each refusal its code, and a message that shows the limit) and
``limits_for`` (a backend's limits narrowed by the site's settings, the upload cap included).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test import override_settings

from face_idcard._images import (
    ImageLimits,
    check_upload_type,
    limits_for,
    read_upload,
    validate_image,
)
from tests.support import imagefactory as factory
from tests.support.validation import error_in_english, error_of, message_in_english, messages

# --- Images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "image_empty"),
        (factory.truncated_jpeg(), "image_undecodable"),
        (factory.gif(), "image_format"),
        (factory.webp(), "image_format"),
        (factory.animated_png(), "image_animated"),
        (factory.huge_png_header(20000, 20000), "image_too_many_pixels"),
        (factory.png(10, 10), "image_too_small"),
    ],
    ids=["empty", "truncated", "gif", "webp", "apng", "bomb", "tiny"],
)
def test_image_codes(data: bytes, code: str) -> None:
    error = error_of(lambda: validate_image(data))
    assert error.code == code
    assert messages(error)[0]


def test_image_limits_come_from_settings() -> None:
    data = factory.png(200, 100)
    assert validate_image(data).width == 200
    with override_settings(FACE_IDCARD={"IMAGE_MIN_SIDE_PIXELS": 150}):
        error = error_of(lambda: validate_image(data))
        assert error.code == "image_too_small"
        assert "150" in messages(error)[0]
    with override_settings(FACE_IDCARD={"UPLOAD_MAX_BYTES": 100}):
        assert error_of(lambda: validate_image(data)).code == "image_too_large"
    with override_settings(FACE_IDCARD={"IMAGE_MAX_PIXELS": 19_999}):
        assert error_of(lambda: validate_image(data)).code == "image_too_many_pixels"
    with override_settings(FACE_IDCARD={"IMAGE_MAX_SIDE_PIXELS": 100, "IMAGE_MIN_SIDE_PIXELS": 40}):
        assert (validate_image(data).width, validate_image(data).height) == (100, 50)


def test_explicit_image_limits_win() -> None:
    error = error_of(lambda: validate_image(factory.png(200, 100), ImageLimits(min_side=101)))
    assert error.code == "image_too_small"


def test_a_webp_refusal_names_the_accepted_formats_not_gif() -> None:
    message = str(error_of(lambda: validate_image(factory.webp())).messages[0])
    assert "GIF" not in message
    assert "BMP, JPEG, PNG" in message
    only_jpeg = ImageLimits(formats=frozenset({"JPEG"}))
    assert "PNG" not in str(error_of(lambda: validate_image(factory.png(), only_jpeg)).messages[0])


# --- limits_for: the one place a backend's limits and the site's meet -----------------------


def test_limits_for_keeps_the_backends_own_and_takes_the_sites() -> None:
    backend = ImageLimits(
        max_bytes=3_000_000,
        formats=frozenset({"JPEG"}),
        min_side=10,
        max_side=2000,
        max_pixels=1,
        max_input_bytes=1,
        max_decoded_bytes=5_000_000,
    )
    settings = {
        "IMAGE_MIN_SIDE_PIXELS": 90,
        "IMAGE_MAX_SIDE_PIXELS": 3000,
        "IMAGE_MAX_PIXELS": 7_000_000,
        "UPLOAD_MAX_BYTES": 8_000_000,
    }
    with override_settings(FACE_IDCARD=settings):
        limits = limits_for(backend)
        # The backend's: what its provider takes, and a longest side the site cannot raise.
        assert (limits.max_bytes, limits.formats) == (3_000_000, frozenset({"JPEG"}))
        assert (limits.max_side, limits.max_decoded_bytes) == (2000, 5_000_000)
        # The site's: the shortest side, the pixel count, the upload cap.
        assert (limits.min_side, limits.max_pixels, limits.max_input_bytes) == (
            90,
            7_000_000,
            8_000_000,
        )
        # A smaller longest side of the site's wins; without a backend, the generic limits.
        with override_settings(FACE_IDCARD={**settings, "IMAGE_MAX_SIDE_PIXELS": 1500}):
            assert limits_for(backend).max_side == 1500
            assert limits_for() == limits_for(ImageLimits())
        # Applying it twice changes nothing (the services narrow a backend's limits again).
        assert limits_for(limits) == limits


def test_the_api_upload_cap_is_the_one_limits_for_builds() -> None:
    from face_idcard.api.parsing import upload_max_bytes

    with override_settings(FACE_IDCARD={"UPLOAD_MAX_BYTES": 123_456}):
        assert upload_max_bytes() == limits_for().max_input_bytes == 123_456


# --- Messages that show the limits -------------------------------------------------------------


# Limits chosen just above a rounding edge of the figure each message shows, so that a limit
# computed with a wrong divisor shows a different figure.
ODD_BYTES = 157_287  # 0.150001 MiB: shown as 0.2
LIMITS = ImageLimits(
    max_input_bytes=ODD_BYTES,
    max_pixels=1_500_000,  # shown as 2 (megapixels)
    min_side=80,
    formats=frozenset({"PNG", "JPEG"}),
)


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (lambda: factory.png(50, 200), "image_too_small", "80"),
        (lambda: factory.gif(), "image_format", "JPEG, PNG."),
        (lambda: factory.png(1501, 1000), "image_too_many_pixels", "at most 2 megapixels."),
        (lambda: b"x" * (ODD_BYTES + 1), "image_too_large", "at most 0.2 MB."),
    ],
    ids=["small", "format", "pixels", "bytes"],
)
def test_image_messages_show_the_limits(data: Callable[[], bytes], code: str, message: str) -> None:
    error = error_in_english(lambda: validate_image(data(), LIMITS))
    assert error.code == code
    assert message in message_in_english(error)


@pytest.mark.parametrize("size", [ODD_BYTES, ODD_BYTES + 1])
def test_an_upload_over_the_limit_shows_the_limit(size: int) -> None:
    if size <= ODD_BYTES:
        assert read_upload(b"x" * size, ODD_BYTES) == b"x" * size
        return
    error = error_in_english(lambda: read_upload(b"x" * size, ODD_BYTES))
    assert "at most 0.2 MB." in message_in_english(error)


# --- read_upload and check_upload_type ----------------------------------------------------------


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
