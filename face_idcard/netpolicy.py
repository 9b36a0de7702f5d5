"""Which hosts a photo url may point at: public destinations only (no Django, no HTTP).

Shared by :func:`face_idcard.validators.validate_url` and the simulator's url fetcher, so the
two cannot disagree. A url is fetched by someone else (the provider, or the simulator standing
in for it); pointed at a loopback, private or cloud-metadata address it would make that fetcher
probe a network the attacker cannot reach himself (SSRF).

Hosts are judged the way a browser or an HTTP library would read them, so every spelling of an
address counts: ``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``,
a trailing dot. Names are resolved and refused if ANY address they resolve to is not public.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable

__all__ = [
    "DestinationRefused",
    "Resolver",
    "check_host",
    "ip_literal",
    "is_public_address",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Takes a host name, returns the addresses it resolves to as strings; raises ``OSError``
#: (``socket.gaierror``) when the name does not resolve.
Resolver = Callable[[str], Iterable[str]]

#: One part of a legacy IPv4 spelling: decimal, octal (leading 0) or hex (0x).
_NUMERIC_PART = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
#: NAT64 (RFC 6052): the IPv4 address is the last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(ValueError):
    """The host may not be fetched. ``reason``: ``not_public`` or ``unresolvable``.

    The text never contains the host (a url may be personal data).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def system_resolver(host: str) -> list[str]:
    """The addresses the system resolver gives for ``host`` (``OSError`` if none)."""
    answers = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [str(sockaddr[0]) for *_, sockaddr in answers]


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as an IPv4 address in the forms ``inet_aton`` and browsers accept.

    None when it is not numeric (a name). Raises ``DestinationRefused`` for a numeric host
    that is no valid address (``1.2.3.999999``): a browser refuses it too, and nothing
    legitimate looks like that.
    """
    parts = host.split(".")
    if not _NUMERIC_PART.fullmatch(parts[-1]):
        return None  # WHATWG: a host is an IPv4 address exactly when its last part is numeric
    if len(parts) > 4 or not all(_NUMERIC_PART.fullmatch(part) for part in parts):
        raise DestinationRefused("not_public")
    values = []
    for part in parts:
        if part[:2].lower() == "0x":
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                raise DestinationRefused("not_public")
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(values)):
        raise DestinationRefused("not_public")
    number = last
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells (brackets, zone ids and legacy forms allowed), or None."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
        except ValueError:
            raise DestinationRefused("not_public") from None
    return _legacy_ipv4(text.removesuffix("."))


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address.

    IPv6 forms that carry an IPv4 address are decided here, never by ``ipaddress``, whose answer
    for them differs between Python versions (3.13 follows IANA's registry and calls 6to4 not
    global; 3.10 to 3.12 call it global): NAT64 is judged by the IPv4 address it carries (it
    is how an IPv6-only network reaches ordinary IPv4 hosts); IPv4-mapped, 6to4 and Teredo
    are refused whatever they carry (no public photo server is reached that way, 6to4 is
    deprecated by RFC 7526, and the relay that decapsulates them may deliver to a private
    IPv4 address).
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if (
            address.ipv4_mapped is not None
            or address.sixtofour is not None
            or address.teredo is not None
        ):
            return False
    return address.is_global and not address.is_multicast and not address.is_reserved


def check_host(host: str, *, resolver: Resolver | None = None) -> None:
    """Raise :class:`DestinationRefused` unless ``host`` is a public destination.

    A name resolving to several addresses must have only public ones: a fetcher may use any.
    """
    address = ip_literal(host)
    if address is not None:
        if not is_public_address(address):
            raise DestinationRefused("not_public")
        return
    name = host.strip().lower().removesuffix(".")
    if not name or name == "localhost" or name.endswith(".localhost"):
        raise DestinationRefused("not_public")  # RFC 6761: always loopback, never asked
    try:
        answers = list((resolver or system_resolver)(name))
    except (OSError, UnicodeError):
        raise DestinationRefused("unresolvable") from None
    if not answers:
        raise DestinationRefused("unresolvable")
    for answer in answers:
        try:
            resolved = ipaddress.ip_address(answer.split("%", 1)[0])
        except ValueError:
            raise DestinationRefused("not_public") from None
        if not is_public_address(resolved):
            raise DestinationRefused("not_public")
