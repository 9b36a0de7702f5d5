"""Which photo urls are accepted: :func:`validate_url`, and the rule under it, public
destinations only (:func:`check_host`).

The rule is shared by :func:`validate_url` and the simulator's url fetcher, so the two cannot
disagree; the simulator runs without Django, so Django is imported when :func:`validate_url`
runs, never when this module is. A url is fetched by someone else (the provider, or the
simulator standing in for it); pointed at a loopback, private or cloud-metadata address it
would make that fetcher probe a network the attacker cannot reach himself (SSRF).

Hosts are judged the way a browser or an HTTP library would read them, so every spelling of an
address counts: ``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``,
a trailing dot. Names are resolved and refused if ANY address they resolve to is not public.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from django.core.exceptions import ValidationError

__all__ = [
    "URL_MESSAGES",
    "DestinationRefused",
    "Resolver",
    "bounded_resolver",
    "check_host",
    "ip_literal",
    "is_public_address",
    "resolve_checked",
    "system_resolver",
    "validate_url",
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
    return [str(sockaddr[0]) for *_info, sockaddr in answers]


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


def _answers(name: str, resolver: Resolver | None) -> list[str]:
    """What ``resolver`` (else the system's) answers for ``name``; ``unresolvable`` if nothing."""
    try:
        answers = list((resolver or system_resolver)(name))
    except (OSError, UnicodeError):
        raise DestinationRefused("unresolvable") from None
    if not answers:
        raise DestinationRefused("unresolvable")
    return answers


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
    for answer in _answers(name, resolver):
        try:
            resolved = ipaddress.ip_address(answer.split("%", 1)[0])
        except ValueError:
            raise DestinationRefused("not_public") from None
        if not is_public_address(resolved):
            raise DestinationRefused("not_public")


def resolve_checked(
    host: str, *, resolver: Resolver | None = None, allow_private: bool = False
) -> list[str]:
    """The addresses a connection to ``host`` may go to, in the resolver's order: the address
    ``host`` spells, or ``resolver``'s answer for the name, asked once; every one of them
    checked by :func:`check_host` unless ``allow_private``. Raises :class:`DestinationRefused`.

    A caller connects only to these, naming ``host`` in the Host header and TLS: letting the
    HTTP library resolve the name again could get another answer (DNS rebinding) and reach an
    address nobody checked.
    """
    literal = ip_literal(host)
    addresses = [str(literal)] if literal is not None else _answers(host, resolver)
    if not allow_private:
        check_host(host, resolver=lambda _name: addresses)  # the answer just received
    return addresses


# --- Resolution off the request thread, bounded in time --------------------------------------

#: Threads that run url host lookups. A lookup runs in one of them, never on the web worker's
#: thread, so a slow or silent DNS server costs a request at most the timeout; stuck lookups
#: hold at most these threads, and a lookup that waits for a free one times out the same way.
RESOLVER_THREADS = 4
#: Names remembered as unresolvable (the oldest forgotten first).
UNRESOLVABLE_CACHE_SIZE = 1024

_pool_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_unresolvable_lock = threading.Lock()
#: (resolver, name) -> monotonic time until which the name is answered "unresolvable" at once.
_unresolvable: OrderedDict[tuple[Resolver, str], float] = OrderedDict()


def _resolver_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=RESOLVER_THREADS, thread_name_prefix="face_idcard-resolver"
            )
        return _pool


def forget_unresolvable() -> None:
    """Empty the cache of unresolvable names (tests; a site that fixed its DNS)."""
    with _unresolvable_lock:
        _unresolvable.clear()


def bounded_resolver(resolver: Resolver, *, timeout: float, remember_for: float) -> Resolver:
    """``resolver`` run in a worker thread for at most ``timeout`` seconds. A name that does
    not resolve in time, or does not resolve, raises ``OSError`` and is answered so at once for
    ``remember_for`` seconds (in this process): a client repeating a name that hangs the
    resolver costs one lookup, not one per request. Answers that resolve are never cached:
    the address policy is checked against fresh answers each time (DNS rebinding)."""

    def resolve(name: str) -> list[str]:
        key = (resolver, name)
        now = time.monotonic()
        with _unresolvable_lock:
            until = _unresolvable.get(key)
            if until is not None and until > now:
                raise OSError("unresolvable (remembered)")
            _unresolvable.pop(key, None)
        future = _resolver_pool().submit(lambda: list(resolver(name)))
        try:
            return future.result(timeout=timeout)
        except (OSError, UnicodeError, concurrent.futures.TimeoutError):
            future.cancel()  # still queued behind stuck lookups: never run it
            if remember_for > 0:
                with _unresolvable_lock:
                    _unresolvable[key] = time.monotonic() + remember_for
                    while len(_unresolvable) > UNRESOLVABLE_CACHE_SIZE:
                        _unresolvable.popitem(last=False)
            raise OSError("unresolvable") from None

    return resolve


# --- The photo url of a submission ------------------------------------------------------

URL_SCHEMES = ("http", "https")
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs"})


def _(msgid: str) -> str:
    """Marks ``msgid`` for makemessages; :func:`_url_error` translates it (lazily) when it
    raises, so that this module imports no Django."""
    return msgid


URL_MESSAGES: dict[str, str] = {
    "url_scheme": _("The image address must start with http:// or https://."),
    "url_length": _("The image address is too long: at most %(max)d characters."),
    "url_invalid": _("Enter a valid image address."),
    "url_host": _("The image address has no host name."),
    "url_spaces": _("The image address must not contain spaces or control characters."),
    "url_credentials": _("The image address must not contain a user name or password."),
    "url_not_public": _(
        "The image address must point to a public internet server, not to a local or "
        "private network address."
    ),
    "url_unresolvable": _("The host name of the image address could not be found."),
}


def _url_error(key: str, code: str, **params: int) -> ValidationError:
    """The translated ``ValidationError`` of ``URL_MESSAGES[key]``."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext_lazy

    return ValidationError(gettext_lazy(URL_MESSAGES[key]), code=code, params=params or None)


def configured_resolver() -> Resolver | None:
    """The resolver ``URL_RESOLVER`` names (None: the system's)."""
    from django.utils.module_loading import import_string

    from .conf import face_idcard_settings

    path = face_idcard_settings.URL_RESOLVER
    if not path:
        return None
    resolver: Resolver = import_string(str(path)) if isinstance(path, str) else path
    return resolver


def _refused(exc: DestinationRefused) -> ValidationError:
    code = "url_unresolvable" if exc.reason == "unresolvable" else "url_not_public"
    return _url_error(code, code)


def validate_url(
    value: str, *, resolver: Resolver | None = None, allow_private: bool | None = None
) -> str:
    """An ``http``/``https`` address the provider will download the photo from.

    Codes: ``url_scheme``, ``url_length``, ``url_invalid`` (no host, credentials, spaces or
    control characters, malformed), ``url_not_public`` (an address or a name resolving to one
    outside the public internet, unless ``URL_ALLOW_PRIVATE``), ``url_unresolvable``. Names
    are resolved with ``resolver``, else ``URL_RESOLVER``, else the system's resolver, within
    ``URL_RESOLVE_TIMEOUT_SECONDS``; a name that did not resolve is refused at once for
    ``URL_UNRESOLVABLE_CACHE_SECONDS`` (:func:`bounded_resolver`).
    ``allow_private`` (None: ``URL_ALLOW_PRIVATE``) lets another kind of address (a webhook
    endpoint's) follow its own setting. Returns the address with surrounding whitespace removed.
    """
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    from .conf import face_idcard_settings

    url = (value or "").strip()
    maximum = int(face_idcard_settings.URL_MAX_CHARS)
    if len(url) > maximum:  # first, so nothing below ever works on a huge string
        raise _url_error("url_length", "url_length", max=maximum)
    if not url:
        raise _url_error("url_invalid", "url_invalid")
    if any(ch.isspace() or unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in url):
        raise _url_error("url_spaces", "url_invalid")
    scheme, separator, rest = url.partition(":")
    if not separator or scheme.lower() not in URL_SCHEMES:
        raise _url_error("url_scheme", "url_scheme")
    if not rest.startswith("//"):
        raise _url_error("url_invalid", "url_invalid")
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    if "@" in authority:
        # A password in the address would be stored with the attempt and sent to the provider.
        raise _url_error("url_credentials", "url_invalid")
    if not authority or authority.startswith(":"):
        raise _url_error("url_host", "url_invalid")
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # an unbalanced "[" in the host
        raise _url_error("url_invalid", "url_invalid") from None
    if allow_private is None:
        allow_private = bool(face_idcard_settings.URL_ALLOW_PRIVATE)
    check_destination = not allow_private
    if check_destination:
        # Address literals first, whatever their spelling: URLValidator refuses some of them
        # with a less helpful message, and lets others (127.1, [::ffff:127.0.0.1]) through.
        try:
            literal = ip_literal(host)
        except DestinationRefused as exc:
            raise _refused(exc) from None
        if literal is not None and not is_public_address(literal):
            raise _refused(DestinationRefused("not_public"))
    structure = URLValidator(schemes=list(URL_SCHEMES))
    # Django >= 5.1 has its own 2048 cap; ours is the setting, already checked above.
    structure.max_length = maximum
    try:
        structure(url)
    except ValidationError:
        raise _url_error("url_invalid", "url_invalid") from None
    if check_destination:  # last: resolving a name is the slowest check
        bounded = bounded_resolver(
            resolver or configured_resolver() or system_resolver,
            timeout=float(face_idcard_settings.URL_RESOLVE_TIMEOUT_SECONDS),
            remember_for=float(face_idcard_settings.URL_UNRESOLVABLE_CACHE_SECONDS),
        )
        try:
            check_host(host, resolver=bounded)
        except DestinationRefused as exc:
            raise _refused(exc) from None
    return url
