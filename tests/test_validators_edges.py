"""Edges of the input validators (issue 17: behaviour the mutation run found unpinned).

Tables of inputs and expected outcomes: lengths at and one beyond each limit, each category of
invisible character, each look-alike of the middle dot, the figures shown in the messages.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import translation

from face_idcard.images import ImageLimits
from face_idcard.validators import validate_image, validate_name, validate_url
from tests import imagefactory as factory


def _error(call: Callable[[], object]) -> ValidationError:
    with pytest.raises(ValidationError) as info, translation.override("en"):
        call()
    return info.value


def _message(error: ValidationError) -> str:
    with translation.override("en"):
        return str(error.messages[0])


@pytest.mark.parametrize(
    ("length", "valid"), [(1, False), (2, True), (3, True), (29, True), (30, True), (31, False)]
)
def test_name_length_at_the_default_limits(length: int, valid: bool) -> None:
    name = "张" * length
    if valid:
        assert validate_name(name) == name
    else:
        error = _error(lambda: validate_name(name))
        assert error.code == "name_length"
        assert _message(error) == "The name must have from 2 to 30 characters."


@pytest.mark.parametrize(
    "dot",
    ["\u00b7", "\u2022", "\uff0e", ".", "\u30fb", "\uff65", "\u2027", "\u22c5", "\u2219", "\u0387"],
)
def test_every_look_alike_dot_becomes_the_middle_dot(dot: str) -> None:
    assert validate_name(f"阿依古丽{dot}买买提") == "阿依古丽\u00b7买买提"


@pytest.mark.parametrize("not_a_dot", ["\u4e36", "-", "_", "\u3002"])
def test_other_marks_are_not_taken_for_the_dot(not_a_dot: str) -> None:
    if not_a_dot == "\u4e36":  # 丶 is a Han character: a valid (if odd) part of a name
        assert validate_name(f"阿{not_a_dot}买") == f"阿{not_a_dot}买"
    else:
        assert _error(lambda: validate_name(f"阿{not_a_dot}买")).code == "name_characters"


def _url_of_length(length: int) -> str:
    head = "https://example.com/"
    return head + "a" * (length - len(head))


@pytest.mark.parametrize(("length", "valid"), [(2047, True), (2048, True), (2049, False)])
@override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": True})
def test_url_length_at_the_default_limit(length: int, valid: bool) -> None:
    url = _url_of_length(length)
    if valid:
        assert validate_url(url) == url
    else:
        error = _error(lambda: validate_url(url))
        assert (error.code, _message(error)) == (
            "url_length",
            "The image address is too long: at most 2048 characters.",
        )


@pytest.mark.parametrize(
    "char",
    [
        "\x00",  # Cc
        "\x7f",  # Cc
        "\u200b",  # Cf ZERO WIDTH SPACE
        "\u202e",  # Cf RIGHT-TO-LEFT OVERRIDE
        "\u2028",  # Zl
        "\u2029",  # Zp
        "\u00a0",  # Zs NO-BREAK SPACE
        "\u3000",  # Zs IDEOGRAPHIC SPACE
        " ",
        "\t",
    ],
)
@override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": True})
def test_invisible_characters_inside_a_url_are_refused(char: str) -> None:
    error = _error(lambda: validate_url(f"https://example.com/a{char}b.jpg"))
    assert (error.code, _message(error)) == (
        "url_invalid",
        "The image address must not contain spaces or control characters.",
    )


@pytest.mark.parametrize(
    "url", ["https://", "https:///photo.jpg", "http://:80/photo.jpg", "http://?x"]
)
@override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": True})
def test_a_url_without_a_host_says_so(url: str) -> None:
    error = _error(lambda: validate_url(url))
    assert (error.code, _message(error)) == ("url_invalid", "The image address has no host name.")


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
    error = _error(lambda: validate_image(data(), LIMITS))
    assert error.code == code
    assert message in _message(error)


@pytest.mark.parametrize("size", [ODD_BYTES, ODD_BYTES + 1])
def test_an_upload_over_the_limit_shows_the_limit(size: int) -> None:
    from face_idcard.validators import read_upload

    if size <= ODD_BYTES:
        assert read_upload(b"x" * size, ODD_BYTES) == b"x" * size
        return
    error = _error(lambda: read_upload(b"x" * size, ODD_BYTES))
    assert "at most 0.2 MB." in _message(error)


MALFORMED_URLS = [
    "https:/example.com/a.jpg",
    "https:example.com/a.jpg",
    "http://[::1/a.jpg",
    # No "//" at all: malformed, not an address without a host.
    "https:/",
    "https:",
]


@pytest.mark.parametrize("url", MALFORMED_URLS)
@override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": True})
def test_malformed_urls_are_invalid(url: str) -> None:
    error = _error(lambda: validate_url(url))
    assert (error.code, _message(error)) == ("url_invalid", "Enter a valid image address.")


@pytest.mark.parametrize("url", MALFORMED_URLS)
@override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": False})
def test_malformed_urls_are_invalid_before_any_destination_check(url: str) -> None:
    error = _error(lambda: validate_url(url, resolver=lambda name: ["93.184.215.14"]))
    assert (error.code, _message(error)) == ("url_invalid", "Enter a valid image address.")


@override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": True, "URL_MAX_LENGTH": 3000})
def test_a_longer_url_limit_is_honoured() -> None:
    url = _url_of_length(2900)
    assert validate_url(url) == url


@pytest.mark.parametrize(
    ("setting", "url", "code"),
    [
        # Unset or empty: the system's resolver (an address literal needs no resolving).
        (None, "https://93.184.215.14/a.jpg", None),
        ("", "https://93.184.215.14/a.jpg", None),
        ("", "https://10.0.0.1/a.jpg", "url_not_public"),
        # A dotted path or a callable: that resolver answers for names.
        ("tests.resolver.resolve", "https://intranet.example.com/a.jpg", "url_not_public"),
        ("tests.resolver.resolve", "https://photos.example.com/a.jpg", None),
        ("tests.resolver.resolve", "https://gone.invalid/a.jpg", "url_unresolvable"),
        (lambda host: ["10.1.2.3"], "https://photos.example.com/a.jpg", "url_not_public"),
        (lambda host: ["93.184.215.14"], "https://photos.example.com/a.jpg", None),
    ],
)
def test_the_url_resolver_setting(setting: object, url: str, code: str | None) -> None:
    with override_settings(FACE_IDCARD={"URL_RESOLVER": setting}):
        if code is None:
            assert validate_url(url) == url
        else:
            assert _error(lambda: validate_url(url)).code == code
