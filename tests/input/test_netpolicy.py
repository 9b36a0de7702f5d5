"""netpolicy as tables: how a host is read (every spelling a browser or HTTP library accepts),
which addresses are public, and what check_host says for names (through a resolver given as a
plain function: host -> addresses)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import pytest

from face_idcard import _netpolicy as netpolicy
from face_idcard._netpolicy import DestinationRefused

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("8.8.8.8", V4("8.8.8.8")),
        ("8.8.8.8.", V4("8.8.8.8")),  # a trailing dot
        (" 8.8.8.8 ", V4("8.8.8.8")),
        # Fewer parts: the last one fills the remaining bytes.
        ("1.16777215", V4("1.255.255.255")),
        ("1.2.65535", V4("1.2.255.255")),
        ("2130706433", V4("127.0.0.1")),
        ("1.255.0.1", V4("1.255.0.1")),
        # Hexadecimal (either case of the x), octal, and a bare 0x meaning 0.
        ("0x7f.1", V4("127.0.0.1")),
        ("0X7F.1", V4("127.0.0.1")),
        ("7.0x8.0.1", V4("7.8.0.1")),
        ("0x.0x.0x.1", V4("0.0.0.1")),
        ("0177.0.0.1", V4("127.0.0.1")),
        ("01234567", V4("0.5.57.119")),  # every octal digit
        ("010.0.0.1", V4("8.0.0.1")),
        ("01.0.0.1", V4("1.0.0.1")),
        ("0.0.0.0", V4("0.0.0.0")),
        # IPv6, bracketed or not, with a zone id.
        ("2606:4700::1", V6("2606:4700::1")),
        ("[2606:4700::1]", V6("2606:4700::1")),
        ("fe80::1%eth0", V6("fe80::1")),
        ("[FE80::1%25eth0]", V6("fe80::1")),
        # Names: not an address (the last part is not numeric).
        ("example.com", None),
        ("1.2.3.example", None),
        ("localhost", None),
    ],
)
def test_how_a_host_is_read(host: str, address: object) -> None:
    assert netpolicy.ip_literal(host) == address


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4.0",  # five parts
        "1.2.3.4.5",
        "1.x.3.4",  # a part that is no number, the last one numeric
        "1..3.4",
        "08.0.0.1",  # leading zero: octal, and 8 is no octal digit
        "1.09.0.1",
        "1.256.0.1",  # a leading part over 255
        "256.0.0.1",
        "1.2.3.256",  # the last part over what the remaining bytes hold
        "1.16777216",
        "4294967296",
        "[1.2.3.4",  # one bracket only
        "fe80::zz",  # an IPv6 spelling that is no address
        "[::1",
    ],
)
def test_a_numeric_host_that_is_no_address_is_refused(host: str) -> None:
    with pytest.raises(DestinationRefused) as caught:
        netpolicy.ip_literal(host)
    assert caught.value.reason == "not_public"
    with pytest.raises(DestinationRefused):
        netpolicy.check_host(host, resolver=_no_lookups)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("224.0.0.1", False),  # multicast
        ("240.0.0.1", False),  # reserved
        ("0.0.0.0", False),
        ("2606:4700::1", True),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff0e::1", False),  # global-scope multicast
        # NAT64 carries an IPv4 address: judged by the IPv4 one.
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        # 6to4, IPv4-mapped and Teredo: refused whatever IPv4 address they carry, on every
        # Python (3.13's ipaddress calls 6to4 not global, 3.10 to 3.12 call it global).
        ("2002:808:808::1", False),  # 6to4 of 8.8.8.8
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("::ffff:8.8.8.8", False),
        ("::ffff:127.0.0.1", False),
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", False),  # Teredo, client 8.8.8.8
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert netpolicy.is_public_address(ipaddress.ip_address(address)) is public


class _GlobalByLibrary(ipaddress.IPv6Address):
    """An address ``ipaddress`` calls global and not reserved (as Python 3.10 to 3.12 do
    for 6to4): what the address carries must decide alone."""

    @property
    def is_global(self) -> bool:
        return True

    @property
    def is_reserved(self) -> bool:
        return False


@pytest.mark.parametrize(
    "address",
    [
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "::ffff:808:808",  # IPv4-mapped 8.8.8.8
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo, client 8.8.8.8
    ],
)
def test_ipv4_carrying_forms_are_refused_whatever_ipaddress_says(address: str) -> None:
    """The decision is ours, not the running Python's: the same on 3.10 to 3.13."""
    assert netpolicy.is_public_address(_GlobalByLibrary(address)) is False


def _no_lookups(host: str) -> Iterable[str]:
    raise AssertionError(f"an address literal was resolved: {host!r}")


DNS = {
    "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "internal.example": ["10.1.2.3"],
    "mixed.example": ["93.184.215.14", "127.0.0.1"],
    "scoped.example": ["fe80::1%eth0"],
    "public-scoped.example": ["2606:4700::1%0"],
    "garbage.example": ["not-an-address"],
    "empty.example": [],
}


def _dns(host: str) -> Iterable[str]:
    if host not in DNS:
        raise OSError("name does not resolve")
    return DNS[host]


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("public.example", None),
        ("PUBLIC.example.", None),  # case and a trailing dot do not matter
        ("public-scoped.example", None),
        ("8.8.8.8", None),
        ("[2606:4700::1]", None),
        ("internal.example", "not_public"),
        ("mixed.example", "not_public"),  # ANY address not public
        ("scoped.example", "not_public"),
        ("garbage.example", "not_public"),
        ("empty.example", "unresolvable"),
        ("nowhere.example", "unresolvable"),
        ("localhost", "not_public"),
        ("LOCALHOST.", "not_public"),
        ("api.localhost", "not_public"),
        ("", "not_public"),
        (".", "not_public"),
        ("127.1", "not_public"),
        ("0x7f000001", "not_public"),
        ("[::ffff:127.0.0.1]", "not_public"),
    ],
)
def test_check_host(host: str, reason: str | None) -> None:
    if reason is None:
        assert netpolicy.check_host(host, resolver=_dns) is None
        return
    with pytest.raises(DestinationRefused) as caught:
        netpolicy.check_host(host, resolver=_dns)
    assert caught.value.reason == reason
    # The text is the reason alone: never the host (a url may be personal data).
    assert str(caught.value) == reason
    assert caught.value.args == (reason,)


def test_a_resolver_failing_on_the_name_itself_is_unresolvable() -> None:
    def bad_idna(host: str) -> Iterable[str]:
        raise UnicodeError("label too long")

    with pytest.raises(DestinationRefused) as caught:
        netpolicy.check_host("x" * 70 + ".example", resolver=bad_idna)
    assert caught.value.reason == "unresolvable"


def test_the_system_resolver_returns_addresses_as_text() -> None:
    # A numeric host: getaddrinfo answers without asking any DNS server.
    assert set(netpolicy.system_resolver("127.0.0.1")) == {"127.0.0.1"}
    assert set(netpolicy.system_resolver("::1")) <= {"::1"}
    with pytest.raises(DestinationRefused):
        netpolicy.check_host("127.0.0.1")  # the default resolver is never needed for it
