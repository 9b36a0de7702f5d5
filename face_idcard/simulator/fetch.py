"""url mode: download the image like the real service, with a timeout and a size cap."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit

__all__ = ["FetchError", "fetch_image"]

# No proxies from the environment: the simulator fetches exactly the address it was given.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FetchError(Exception):
    """The image could not be downloaded (the text never contains the url)."""


def fetch_image(url: str, *, timeout: float, max_bytes: int) -> bytes:
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError("only http and https urls are fetched")
    try:
        with _OPENER.open(url, timeout=timeout) as response:
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
