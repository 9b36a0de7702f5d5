"""url mode: download the image like the real service, with a timeout and a size cap.

Only public destinations are fetched (the same :mod:`face_idcard.netpolicy` rule as the
Django side), unless the simulator runs with ``url_allow_private`` for local tests. Every
redirect target is checked the same way before it is followed.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from http.client import HTTPMessage
from typing import IO
from urllib.parse import urlsplit

from .. import netpolicy

__all__ = ["FetchError", "fetch_image"]

#: Redirects followed at most (urllib's own default is 10).
MAX_REDIRECTS = 5


class FetchError(Exception):
    """The image could not be downloaded (the text never contains the url)."""


def _check_destination(url: str, resolver: netpolicy.Resolver | None) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError("only http and https urls are fetched")
    try:
        netpolicy.check_host(parts.hostname or "", resolver=resolver)
    except netpolicy.DestinationRefused as exc:
        raise FetchError(f"the destination is refused ({exc.reason})") from None


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a destination the policy allows."""

    max_redirections = MAX_REDIRECTS

    def __init__(self, allow_private: bool, resolver: netpolicy.Resolver | None) -> None:
        self.allow_private = allow_private
        self.resolver = resolver

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError("a redirect to another scheme is not followed")
        if not self.allow_private:
            _check_destination(newurl, self.resolver)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_image(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    allow_private: bool = False,
    resolver: netpolicy.Resolver | None = None,
) -> bytes:
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError("only http and https urls are fetched")
    if not allow_private:
        _check_destination(url, resolver)
    # No proxies from the environment: the simulator fetches exactly the address it was given.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _CheckedRedirects(allow_private, resolver)
    )
    try:
        with opener.open(url, timeout=timeout) as response:
            if response.status != 200:
                raise FetchError("the image server did not answer 200")
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise FetchError("the image is larger than the limit")
            data: bytes = response.read(max_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError("the image could not be downloaded") from exc
    if len(data) > max_bytes:
        raise FetchError("the image is larger than the limit")
    return data
