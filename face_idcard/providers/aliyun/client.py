"""A small client for Cloudauth's ``ContrastFaceVerify``: one signed POST, one parsed answer.

Why not the official SDK at run time: its tree (``alibabacloud-tea-openapi`` with a pinned
``cryptography``, ``darabonba-core`` with aiohttp and websocket-client,
``alibabacloud-credentials``) is heavy for one call, and its users report import breakage
from a ``Tea``/``tea`` module collision and version skew inside the tree. The SDK is the
tests' conformance peer instead (it calls the simulator this client is tested against).

What is sent, as the SDK sends it: ``POST /`` with ``Model`` in the query string and every
other field as an ``application/x-www-form-urlencoded`` body, signed with ACS3-HMAC-SHA256
(:mod:`.signing`) over ``host``, ``content-type`` and the ``x-acs-*`` headers. The answer is
read with a size cap and connect/read timeouts, never retried here: whether to retry is the
caller's, by the code's class.

Free of Django. Privacy: the name, the ID number, the photo and the secret never go into a
log line, an exception text or a repr.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

from ... import exceptions
from ...outcome import TRANSPORT_BAD_RESPONSE, TRANSPORT_CONNECTION, TRANSPORT_TIMEOUT
from ...sensitive import forget_locals_on_error
from ..transport import request_sent
from . import signing

__all__ = ["ACTION", "DEFAULT_ENDPOINT", "VERSION", "CloudauthAnswer", "CloudauthClient"]

logger = logging.getLogger("face_idcard.providers.aliyun")

ACTION = "ContrastFaceVerify"
VERSION = "2019-03-07"
DEFAULT_ENDPOINT = "https://cloudauth.aliyuncs.com"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
#: The documented answer is well under 2 KB; a body beyond this is not Cloudauth's, and
#: reading no more keeps a broken or hostile endpoint from making a worker buffer without end.
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class CloudauthAnswer:
    """One JSON answer: the API's (``Code``, ``ResultObject``) or the gateway's (``Code``)."""

    http_status: int
    code: str
    request_id: str
    #: The provider's own message: staff screens only (we do not control what it echoes).
    message: str = field(repr=False)
    passed: str = ""
    sub_code: str = ""
    certify_id: str = ""
    #: ``ResultObject.MaterialInfo``, parsed from its JSON string ({} when absent or unusable).
    material: Mapping[str, Any] = field(default_factory=dict, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, hash=False, compare=False)
    elapsed: float = 0.0

    @property
    def face(self) -> Mapping[str, Any]:
        front = self.material.get("facialPictureFront")
        return front if isinstance(front, Mapping) else {}

    @property
    def verify_score(self) -> float | None:
        return _number(self.face.get("verifyScore"))

    @property
    def quality_score(self) -> float | None:
        return _number(self.face.get("qualityScore"))

    @property
    def face_attack(self) -> str:
        value = self.material.get("faceAttack")
        return value if isinstance(value, str) else ""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return value if isinstance(value, str) else str(value)


class _TooLarge(Exception):
    pass


def _read_capped(response: requests.Response) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=16 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _NoAuth(requests.auth.AuthBase):
    """Keeps requests from adding credentials of ``~/.netrc`` over our signed headers."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def _validate_timeouts(connect: float, read: float) -> tuple[float, float]:
    for value in (connect, read):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("timeouts must be positive numbers of seconds")
        if not (value > 0 and math.isfinite(value)):
            # No timeout would let one stuck call hold a worker for ever.
            raise ValueError("timeouts must be positive numbers of seconds")
    return float(connect), float(read)


class CloudauthClient:
    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        connect_timeout: float = 3.05,
        read_timeout: float = 15.0,
        pool_maxsize: int = 10,
    ) -> None:
        if not access_key_id or not access_key_secret:
            raise ValueError("ACCESS_KEY_ID and ACCESS_KEY_SECRET are required")
        url = endpoint if "://" in endpoint else "https://" + endpoint
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("ENDPOINT must be a host or an http(s) url")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.timeout = _validate_timeouts(connect_timeout, read_timeout)
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self._session = requests.Session()
        # No automatic retries: a POST that reached Cloudauth may have been billed.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_maxsize, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r})"

    def close(self) -> None:
        self._session.close()

    @forget_locals_on_error
    def contrast_face_verify(
        self, fields: Mapping[str, str], *, model: str | None = None
    ) -> CloudauthAnswer:
        """Send one call; a :class:`CloudauthAnswer` for every JSON answer, whatever its code
        or HTTP status, else a :class:`~face_idcard.exceptions.ProviderTransportError`."""
        query = [("Model", model)] if model else []
        body = urlencode(list(fields.items())).encode("ascii")
        headers = signing.sign(
            access_key_id=self.access_key_id,
            access_key_secret=self._secret,
            method="POST",
            host=self.host,
            uri="/",
            query=query,
            body=body,
            action=ACTION,
            version=VERSION,
            content_type=FORM_CONTENT_TYPE,
        )
        url = self.endpoint + "/"
        if query:
            url += "?" + signing.canonical_query(query)
        started = time.perf_counter()
        failure: requests.RequestException | None = None
        too_large = False
        status, content = 0, b""
        try:
            with self._session.post(
                url,
                data=body,
                headers=headers,
                auth=_NoAuth(),
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                status = response.status_code
                try:
                    content = _read_capped(response)
                except _TooLarge:
                    too_large = True
        except requests.RequestException as exc:
            failure = exc
        elapsed = time.perf_counter() - started
        if too_large:
            raise exceptions.ProviderBadResponse(
                TRANSPORT_BAD_RESPONSE,
                elapsed=elapsed,
                detail=f"HTTP {status}, body over {MAX_RESPONSE_BYTES} bytes",
            )
        if failure is not None:
            # Outside the except block: the requests exception holds the prepared request
            # (body and headers) and must not be chained.
            error = _transport_error(failure, elapsed)
            del failure
            raise error
        answer = _parse(status, content, elapsed)
        logger.debug(
            "ContrastFaceVerify code=%s sub_code=%s http_status=%s elapsed=%.3f",
            answer.code,
            answer.sub_code,
            status,
            elapsed,
        )
        return answer


def _transport_error(exc: requests.RequestException, elapsed: float) -> exceptions.ProviderError:
    detail = type(exc).__name__
    sent = request_sent(exc)
    # ConnectTimeout is also a ConnectionError, and requests reports a read timeout while
    # reading the body as a ConnectionError wrapping urllib3's ReadTimeoutError.
    if isinstance(exc, requests.Timeout) or any(
        isinstance(arg, ReadTimeoutError) for arg in exc.args
    ):
        return exceptions.ProviderTimeout(
            TRANSPORT_TIMEOUT, elapsed=elapsed, detail=detail, request_sent=sent
        )
    return exceptions.ProviderConnectionError(
        TRANSPORT_CONNECTION, elapsed=elapsed, detail=detail, request_sent=sent
    )


def _parse(status: int, content: bytes, elapsed: float) -> CloudauthAnswer:
    try:
        payload = json.loads(content)
    except (ValueError, RecursionError):
        payload = None
    code = payload.get("Code") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(code, str | int) or isinstance(code, bool):
        raise exceptions.ProviderBadResponse(
            TRANSPORT_BAD_RESPONSE, elapsed=elapsed, detail=f"HTTP {status}"
        )
    result = payload.get("ResultObject")
    result = result if isinstance(result, dict) else {}
    material: Any = result.get("MaterialInfo")
    if isinstance(material, str):
        try:
            material = json.loads(material)
        except (ValueError, RecursionError):
            material = {}
    return CloudauthAnswer(
        http_status=status,
        code=str(code).strip(),
        request_id=_text(payload.get("RequestId")),
        message=_text(payload.get("Message")),
        passed=_text(result.get("Passed")),
        sub_code=_text(result.get("SubCode")).strip(),
        certify_id=_text(result.get("CertifyId")),
        material=material if isinstance(material, dict) else {},
        raw=payload,
        elapsed=elapsed,
    )
