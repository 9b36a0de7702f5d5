"""url mode: download the image like the real service, with a timeout and a size cap.

Only public destinations are fetched (the same :mod:`face_idcard._netpolicy` rule as the
Django side), unless the simulator runs with ``url_allow_private`` for local tests. Every
redirect target is checked the same way before it is followed.

Each host is resolved once, its addresses are checked, and the connection goes to a checked
address (the name still in the ``Host`` header and the TLS SNI and certificate check): a
second resolution by the HTTP library could answer differently (DNS rebinding) and reach an
address nobody checked.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .. import _netpolicy as netpolicy

__all__ = ["FetchError", "fetch_image"]

#: Redirects followed at most (urllib's own default is 10).
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """The image could not be downloaded (the text never contains the url)."""


@dataclass(frozen=True)
class PinnedTarget:
    """A url's parts and the checked addresses its connection may go to (in this order)."""

    scheme: str
    host: str
    port: int
    target: str
    addresses: tuple[str, ...]


def pin_destination(
    url: str, *, allow_private: bool, resolver: netpolicy.Resolver | None
) -> PinnedTarget:
    """Resolve the url's host once and check every address it resolves to (unless
    ``allow_private``); :class:`FetchError` for another scheme or a refused destination."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError("the url is malformed") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError("only http and https urls are fetched")
    host = parts.hostname or ""
    try:
        addresses = netpolicy.resolve_checked(host, resolver=resolver, allow_private=allow_private)
    except netpolicy.DestinationRefused as exc:
        raise FetchError(f"the destination is refused ({exc.reason})") from None
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    default_port = 443 if parts.scheme == "https" else 80
    return PinnedTarget(parts.scheme, host, port or default_port, target, tuple(addresses))


def _connect(addresses: tuple[str, ...], port: int, timeout: float | None) -> socket.socket:
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address.split("%", 1)[0], port), timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Sends ``Host: <name>`` but connects to one of the checked addresses."""

    def __init__(self, pinned: PinnedTarget, timeout: float) -> None:
        super().__init__(pinned.host, pinned.port, timeout=timeout)
        self.pinned_addresses = pinned.addresses

    def connect(self) -> None:
        self.sock = _connect(self.pinned_addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to one of the checked addresses, with the name as SNI and certificate name."""

    def __init__(self, pinned: PinnedTarget, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(pinned.host, pinned.port, timeout=timeout, context=self.tls)
        self.pinned_addresses = pinned.addresses

    def connect(self) -> None:
        sock = _connect(self.pinned_addresses, self.port, self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def _get(pinned: PinnedTarget, *, timeout: float, max_bytes: int) -> tuple[int, str, bytes]:
    """One GET: the status, the Location header ("" if none) and at most ``max_bytes + 1``
    bytes of the body (none for a redirect)."""
    connection_class = _PinnedHTTPSConnection if pinned.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(pinned, timeout)
    try:
        connection.request("GET", pinned.target, headers={"Accept": "image/*"})
        response = connection.getresponse()
        if response.status in _REDIRECT_STATUSES:
            return response.status, response.headers.get("Location") or "", b""
        if response.status != 200:
            return response.status, "", b""
        length = response.headers.get("Content-Length")
        declared = int(length) if length and length.isascii() and length.isdigit() else 0
        if declared > max_bytes:
            raise FetchError("the image is larger than the limit")
        return 200, "", response.read(max_bytes + 1)
    finally:
        connection.close()


def fetch_image(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    allow_private: bool = False,
    resolver: netpolicy.Resolver | None = None,
) -> bytes:
    # No proxies: the simulator fetches exactly the address it checked.
    for _hop in range(MAX_REDIRECTS + 1):
        pinned = pin_destination(url, allow_private=allow_private, resolver=resolver)
        try:
            status, location, data = _get(pinned, timeout=timeout, max_bytes=max_bytes)
        except (OSError, http.client.HTTPException, ValueError, UnicodeError) as exc:
            raise FetchError("the image could not be downloaded") from exc
        if status in _REDIRECT_STATUSES:
            if not location:
                raise FetchError("a redirect without a location")
            url = urljoin(url, location)
            continue  # the next hop is resolved and checked like the first
        if status != 200:
            raise FetchError("the image server did not answer 200")
        if len(data) > max_bytes:
            raise FetchError("the image is larger than the limit")
        return data
    raise FetchError("too many redirects")
