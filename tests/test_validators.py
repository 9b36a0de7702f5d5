"""face_idcard.validators: the rules shared by the API, the admin and Python callers."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone, translation

from face_idcard.images import ImageLimits
from face_idcard.validators import (
    normalize_id_number,
    normalize_name,
    validate_id_number,
    validate_image,
    validate_name,
    validate_url,
)
from tests import imagefactory as factory

# Written out from PROTOCOLS.md §4, independently of stdnum and of the code under test.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def make_id(address: str = "110105", birth: str = "19900101", sequence: str = "001") -> str:
    """A number with a correct check character, for cases that must pass the checksum."""
    first17 = address + birth + sequence
    assert len(first17) == 17
    return first17 + check_char(first17)


def error_of(call: Callable[[], object]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value


def messages(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


# --- ID numbers ------------------------------------------------------------------------------


def test_generator_agrees_with_published_examples() -> None:
    assert make_id("110105", "19491231", "002") == "11010519491231002X"
    assert make_id("360426", "19910101", "007") == "360426199101010071"


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("360426199101010071", "360426199101010071"),
        ("11010519491231002x", "11010519491231002X"),  # lowercase x
        (" 110105 19491231 002X ", "11010519491231002X"),  # spaces
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),  # full-width
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("\u3000360426199101010071\t", "360426199101010071"),  # ideographic space, tab
        (make_id(birth="20000229"), make_id(birth="20000229")),  # leap day, leap year
        (make_id(birth="19000101", address="110105"), make_id(birth="19000101")),
    ],
)
def test_valid_id_numbers(value: str, normalised: str) -> None:
    assert validate_id_number(value) == normalised


def _tomorrow() -> str:
    return (timezone.localdate() + datetime.timedelta(days=1)).strftime("%Y%m%d")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "id_required"),
        ("   ", "id_required"),
        ("110105491231002", "id_length"),  # old 15-digit number
        ("11010519491231002", "id_length"),
        ("11010519491231002XX", "id_length"),
        ("1101051949123100AX", "id_characters"),
        ("11010519491231002A", "id_characters"),
        ("X10105194912310020", "id_characters"),
        ("110110199909090909", "id_checksum"),  # placeholder in Tencent's docs
        ("11204416541220243X", "id_checksum"),  # placeholder in Tencent's docs
        ("11010519491231002Y".replace("Y", "1"), "id_checksum"),
        ("360426199101010072", "id_checksum"),
        (make_id(birth="19900230"), "id_birth_date"),  # Feb 30
        (make_id(birth="19000229"), "id_birth_date"),  # 1900 is not a leap year
        (make_id(birth="19990229"), "id_birth_date"),
        (make_id(birth="19901301"), "id_birth_date"),  # month 13
        (make_id(birth="19900100"), "id_birth_date"),  # day 0
        (make_id(birth="20991231"), "id_birth_future"),
        (make_id(address="999999"), "id_address"),
        (make_id(address="000000"), "id_address"),
    ],
)
def test_invalid_id_numbers(value: str, code: str) -> None:
    error = error_of(lambda: validate_id_number(value))
    assert error.code == code
    text = " ".join(messages(error))
    assert text
    if value.strip():
        assert value not in text
        assert normalize_id_number(value) not in text
        assert normalize_id_number(value)[6:14] not in text  # not even the birth date


def test_birth_tomorrow_is_future_today_is_not() -> None:
    assert error_of(lambda: validate_id_number(make_id(birth=_tomorrow()))).code == (
        "id_birth_future"
    )
    today = timezone.localdate().strftime("%Y%m%d")
    assert validate_id_number(make_id(birth=today)) == make_id(birth=today)


def test_each_id_rule_has_its_own_message() -> None:
    cases = [
        "",
        "110105491231002",
        "11010519491231002A",
        "110110199909090909",
        make_id(birth="19900230"),
        make_id(birth="20991231"),
        make_id(address="999999"),
    ]
    texts = [messages(error_of(lambda v=v: validate_id_number(v)))[0] for v in cases]
    assert len(set(texts)) == len(cases)


# --- Names -----------------------------------------------------------------------------------

LOOKALIKE_DOTS = ["\u2022", "\uff0e", ".", "\u30fb", "\uff65", "\u2027", "\u22c5"]


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("张三", "张三"),
        ("  欧阳娜娜 ", "欧阳娜娜"),
        ("\u3000王小明\u3000", "王小明"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽 · 买买提", "阿依古丽·买买提"),
        ("𪚥王", "𪚥王"),  # extension B character
        ("李〇", "李〇"),
    ]
    + [(f"阿依古丽{dot}买买提", "阿依古丽\u00b7买买提") for dot in LOOKALIKE_DOTS],
)
def test_valid_names(value: str, normalised: str) -> None:
    assert validate_name(value) == normalised
    assert normalize_name(value) == normalised


def test_nfc_not_nfkc() -> None:
    # A compatibility ideograph has a canonical mapping: NFC already gives the unified one.
    assert normalize_name("张\uf900") == "张\u8c48"
    # Combining sequences are composed.
    assert normalize_name("Jose\u0301") == "Jos\u00e9"
    # Compatibility-only mappings (NFKC) are not applied: full-width Latin, Kangxi radicals.
    assert normalize_name("ｚｈａｎｇ") == "ｚｈａｎｇ"
    assert normalize_name("王\u2f00") == "王\u2f00"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "name_required"),
        ("   ", "name_required"),
        ("张", "name_length"),
        ("张" * 31, "name_length"),
        ("·张三", "name_dots"),
        ("张三·", "name_dots"),
        ("阿依古丽··买买提", "name_dots"),
        ("阿依古丽.•买买提", "name_dots"),  # two different look-alikes make a double dot
        ("张三1", "name_characters"),
        ("张三１", "name_characters"),
        ("ZHANG San", "name_characters"),  # Latin refused by default
        ("张 三", "name_characters"),
        ("张三!", "name_characters"),
        ("丶", "name_length"),  # a Han character, not a dot: fails only on length
    ],
)
def test_invalid_names(value: str, code: str) -> None:
    error = error_of(lambda: validate_name(value))
    assert error.code == code
    text = " ".join(messages(error))
    if value.strip():
        assert value.strip() not in text


def test_latin_names_when_allowed() -> None:
    assert validate_name(" John  SMITH ", allow_latin=True) == "John SMITH"
    with override_settings(FACE_IDCARD={"NAME_ALLOW_LATIN": True}):
        assert validate_name("ZHANG San") == "ZHANG San"
        # The explicit argument wins over the setting.
        assert error_of(lambda: validate_name("ZHANG San", allow_latin=False)).code == (
            "name_characters"
        )
        # Digits are never allowed.
        assert error_of(lambda: validate_name("John 2")).code == "name_characters"


def test_name_length_from_settings() -> None:
    with override_settings(FACE_IDCARD={"NAME_MIN_LENGTH": 3, "NAME_MAX_LENGTH": 4}):
        assert error_of(lambda: validate_name("张三")).code == "name_length"
        assert validate_name("张三丰") == "张三丰"
        error = error_of(lambda: validate_name("阿依古丽·买买提"))
        assert error.code == "name_length"
        assert "3" in messages(error)[0] and "4" in messages(error)[0]


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
    with override_settings(FACE_IDCARD={"IMAGE_MIN_SIDE": 150}):
        error = error_of(lambda: validate_image(data))
        assert error.code == "image_too_small"
        assert "150" in messages(error)[0]
    with override_settings(FACE_IDCARD={"UPLOAD_MAX_BYTES": 100}):
        assert error_of(lambda: validate_image(data)).code == "image_too_large"
    with override_settings(FACE_IDCARD={"IMAGE_MAX_PIXELS": 19_999}):
        assert error_of(lambda: validate_image(data)).code == "image_too_many_pixels"
    with override_settings(FACE_IDCARD={"IMAGE_MAX_SIDE": 100, "IMAGE_MIN_SIDE": 40}):
        assert (validate_image(data).width, validate_image(data).height) == (100, 50)


def test_explicit_image_limits_win() -> None:
    error = error_of(lambda: validate_image(factory.png(200, 100), ImageLimits(min_side=101)))
    assert error.code == "image_too_small"


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "http://example.com/a.jpg",
        "https://example.com/photos/a.jpg?sig=abc&t=1#x",
        "HTTPS://cdn.example.com:8443/a.jpg",
        "https://93.184.215.14/a.jpg",
        "https://[2606:4700::6810:84e5]/a.jpg",
        "https://v6.example.com/a.jpg",
    ],
)
def test_valid_urls(value: str) -> None:
    assert validate_url(f"  {value} ") == value


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("ftp://example.com/a.jpg", "url_scheme"),
        ("javascript:alert(1)", "url_scheme"),
        ("file:///etc/passwd", "url_scheme"),
        ("data:image/png;base64,AAAA", "url_scheme"),
        ("example.com/a.jpg", "url_scheme"),
        ("", "url_invalid"),
        ("http://", "url_invalid"),
        ("http:///a.jpg", "url_invalid"),
        ("https://:443/a.jpg", "url_invalid"),
        ("http:example.com/a.jpg", "url_invalid"),
        ("https://user:secret@example.com/a.jpg", "url_invalid"),
        ("https://user@example.com/a.jpg", "url_invalid"),
        ("https://exa mple.com/a.jpg", "url_invalid"),
        ("https://example.com/a b.jpg", "url_invalid"),
        ("https://ex\nample.com/a.jpg", "url_invalid"),
        ("https://example.com/\x00a.jpg", "url_invalid"),
        ("https://example.com/\u200ba.jpg", "url_invalid"),
        ("https://exa_mple..com/a.jpg", "url_invalid"),
        ("https://example.com/" + "a" * 2100, "url_length"),
    ],
)
def test_invalid_urls(value: str, code: str) -> None:
    error = error_of(lambda: validate_url(value))
    assert error.code == code
    text = " ".join(messages(error))
    if value.strip():
        assert value.strip() not in text
    assert "secret" not in text


def test_url_length_from_settings() -> None:
    url = "https://example.com/" + "a" * 30
    assert validate_url(url) == url
    with override_settings(FACE_IDCARD={"URL_MAX_LENGTH": 40}):
        error = error_of(lambda: validate_url(url))
        assert error.code == "url_length"
        assert "40" in messages(error)[0]


def test_credentials_message_names_the_rule() -> None:
    error = error_of(lambda: validate_url("https://user:pw@example.com/a.jpg"))
    assert "password" in messages(error)[0]


# --- Translations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "english", "chinese"),
    [
        (lambda: validate_id_number("110110199909090909"), "last character", "校验"),
        (lambda: validate_id_number("110105491231002"), "18 characters", "18"),
        (lambda: validate_name("张三1"), "Chinese characters", "汉字"),
        (lambda: validate_name("·张三"), "middle dot", "间隔号"),
        (lambda: validate_image(factory.gif()), "BMP, JPEG, PNG", "格式之一"),
        (lambda: validate_url("ftp://example.com/a.jpg"), "http://", "http://"),
    ],
)
def test_messages_in_english_and_chinese(
    call: Callable[[], object], english: str, chinese: str
) -> None:
    with translation.override("en"):
        text_en = messages(error_of(call))[0]
    with translation.override("zh-hans"):
        text_zh = messages(error_of(call))[0]
    assert english in text_en
    assert chinese in text_zh
    assert text_zh != text_en
    # Mostly Han characters: really translated, not the English text falling through.
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in text_zh) >= 4


def test_app_name_is_translated() -> None:
    from django.apps import apps

    verbose_name = apps.get_app_config("face_idcard").verbose_name
    with translation.override("zh-hans"):
        assert str(verbose_name) == "人脸核身"


#: Every spelling of a destination outside the public internet that a fetcher would connect to.
NOT_PUBLIC_HOSTS = [
    "127.0.0.1",
    "127.1",  # short form
    "2130706433",  # one integer
    "0x7f000001",
    "0x7f.0.0.1",  # hex part
    "0177.0.0.1",  # octal part
    "127.0.0.1.",  # trailing dot
    "localhost",
    "LOCALHOST",
    "app.localhost",
    "0.0.0.0",
    "0",
    "[::]",
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:7f00:1]",
    "[::ffff:a9fe:a9fe]",  # mapped 169.254.169.254
    "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
    "[2002:c0a8:101::]",  # 6to4 of 192.168.1.1
    "[fe80::1%25eth0]",
    "169.254.169.254",  # cloud metadata
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",  # shared address space (CGNAT)
    "[fd00::1]",  # unique local
    "[fc00::1]",
    "224.0.0.1",  # multicast
    "[ff02::1]",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "1.2.3.999",  # numeric but no address: refused, never resolved as a name
    "intranet.example.com",  # names resolving to such addresses
    "metadata.example.com",
    "mapped.example.com",
    "rebind.example.com",  # one public and one private address
]


@pytest.mark.parametrize("host", NOT_PUBLIC_HOSTS)
def test_urls_to_non_public_destinations_are_refused(host: str) -> None:
    error = error_of(lambda: validate_url(f"https://{host}:8443/a.jpg"))
    assert error.code == "url_not_public"
    assert host not in str(error.messages)


def test_a_name_that_does_not_resolve_has_its_own_message() -> None:
    error = error_of(lambda: validate_url("https://photos.example.invalid/a.jpg"))
    assert error.code == "url_unresolvable"
    assert "could not be found" in str(error.messages[0])


def test_the_resolver_is_injectable_and_wins_over_the_setting() -> None:
    asked: list[str] = []

    def resolver(host: str) -> list[str]:
        asked.append(host)
        return ["10.0.0.7"]

    error = error_of(lambda: validate_url("https://CDN.Example.com./a.jpg", resolver=resolver))
    assert (error.code, asked) == ("url_not_public", ["cdn.example.com"])
    # An address literal is never resolved.
    assert validate_url("https://8.8.8.8/a.jpg", resolver=resolver) == "https://8.8.8.8/a.jpg"
    assert asked == ["cdn.example.com"]


def test_a_resolver_that_fails_oddly_means_unresolvable() -> None:
    def broken(host: str) -> list[str]:
        raise UnicodeError("label too long")

    error = error_of(lambda: validate_url("https://example.com/a.jpg", resolver=broken))
    assert error.code == "url_unresolvable"


def test_private_destinations_allowed_by_the_setting_without_resolving() -> None:
    def no_dns(host: str) -> list[str]:
        raise AssertionError("resolved although private destinations are allowed")

    with override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": True}):
        for host in ("127.0.0.1", "[::1]", "intranet.example.com", "photos.internal"):
            url = f"http://{host}:8080/a.jpg"
            assert validate_url(url, resolver=no_dns) == url


def test_url_refusals_are_translated() -> None:
    with translation.override("zh-hans"):
        private = error_of(lambda: validate_url("http://10.0.0.1/a.jpg"))
        unknown = error_of(lambda: validate_url("http://a.example.invalid/a.jpg"))
        assert "公" in str(private.messages[0])
        assert "找不到" in str(unknown.messages[0])


def test_a_webp_refusal_names_the_accepted_formats_not_gif() -> None:
    message = str(error_of(lambda: validate_image(factory.webp())).messages[0])
    assert "GIF" not in message
    assert "BMP, JPEG, PNG" in message
    only_jpeg = ImageLimits(formats=frozenset({"JPEG"}))
    assert "PNG" not in str(error_of(lambda: validate_image(factory.png(), only_jpeg)).messages[0])
