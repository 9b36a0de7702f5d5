"""face_idcard._netpolicy.validate_url: the photo url of a submission (http or https, no
credentials, spaces or control characters, a length cap) and its destination (public only,
every spelling of an address, names through the configured resolver)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.test import override_settings
from django.utils import translation

from face_idcard._netpolicy import validate_url
from tests.support.validation import error_in_english, error_of, message_in_english, messages

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
    with override_settings(FACE_IDCARD={"URL_MAX_CHARS": 40}):
        error = error_of(lambda: validate_url(url))
        assert error.code == "url_length"
        assert "40" in messages(error)[0]


def test_credentials_message_names_the_rule() -> None:
    error = error_of(lambda: validate_url("https://user:pw@example.com/a.jpg"))
    assert "password" in messages(error)[0]


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
        error = error_in_english(lambda: validate_url(url))
        assert (error.code, message_in_english(error)) == (
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
    error = error_in_english(lambda: validate_url(f"https://example.com/a{char}b.jpg"))
    assert (error.code, message_in_english(error)) == (
        "url_invalid",
        "The image address must not contain spaces or control characters.",
    )


@pytest.mark.parametrize(
    "url", ["https://", "https:///photo.jpg", "http://:80/photo.jpg", "http://?x"]
)
@override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": True})
def test_a_url_without_a_host_says_so(url: str) -> None:
    error = error_in_english(lambda: validate_url(url))
    assert (error.code, message_in_english(error)) == (
        "url_invalid",
        "The image address has no host name.",
    )


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
    error = error_in_english(lambda: validate_url(url))
    assert (error.code, message_in_english(error)) == (
        "url_invalid",
        "Enter a valid image address.",
    )


@pytest.mark.parametrize("url", MALFORMED_URLS)
@override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": False})
def test_malformed_urls_are_invalid_before_any_destination_check(url: str) -> None:
    error = error_in_english(lambda: validate_url(url, resolver=lambda name: ["93.184.215.14"]))
    assert (error.code, message_in_english(error)) == (
        "url_invalid",
        "Enter a valid image address.",
    )


@override_settings(FACE_IDCARD={"URL_ALLOW_PRIVATE": True, "URL_MAX_CHARS": 3000})
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
        ("tests.support.resolver.resolve", "https://intranet.example.com/a.jpg", "url_not_public"),
        ("tests.support.resolver.resolve", "https://photos.example.com/a.jpg", None),
        ("tests.support.resolver.resolve", "https://gone.invalid/a.jpg", "url_unresolvable"),
        (lambda host: ["10.1.2.3"], "https://photos.example.com/a.jpg", "url_not_public"),
        (lambda host: ["93.184.215.14"], "https://photos.example.com/a.jpg", None),
    ],
)
def test_the_url_resolver_setting(setting: object, url: str, code: str | None) -> None:
    with override_settings(FACE_IDCARD={"URL_RESOLVER": setting}):
        if code is None:
            assert validate_url(url) == url
        else:
            assert error_in_english(lambda: validate_url(url)).code == code


def test_the_url_rule_and_the_simulator_import_no_django() -> None:
    """The simulator runs without Django and fetches urls by netpolicy's rule: importing it
    must not pull Django in (validate_url imports Django when it runs)."""
    code = (
        "import sys; import face_idcard._netpolicy, face_idcard.simulator.fetch; "
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"
