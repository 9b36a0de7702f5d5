"""``ImageRecognitionV2`` through Tencent's official SDK (``FaceidClient``), and nothing else.

The SDK builds, signs (TC3-HMAC-SHA256) and sends the request; this wrapper configures it
(credentials, endpoint, region, timeouts, pool), sends one call and reports what came back:
a :class:`FaceIdAnswer` for every ``{"Response": ...}`` body, business result or API error,
or one of our transport exceptions when no usable body arrived. It never retries (the SDK's
retryer stays off: the pipeline owns retries). Free of Django.

Privacy: the SDK logs the whole request body (ID number, name, image) at DEBUG on the
``tencentcloud_sdk_common`` logger; a filter drops that logger's records below INFO as soon
as this module is imported. SDK exception texts (which may hold a response body or a url) and
chained exceptions (which hold the prepared request) never reach our exceptions.

Size cap: the SDK would read the whole response body into memory. The session's adapter
(:class:`CappedHTTPAdapter`) reads at most :data:`MAX_RESPONSE_BYTES` of it, decoded (a small
gzip body that inflates counts at its inflated size), and drops the connection past that: the
call is a bad response, as for the legacy client.
"""

from __future__ import annotations

import json
import math
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest, Response
from requests import Timeout as RequestsTimeout
from requests.adapters import HTTPAdapter
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.faceid.v20180301 import faceid_client
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

from ... import exceptions
from ...outcome import (
    INTERNAL_ERROR,
    TRANSPORT_BAD_RESPONSE,
    TRANSPORT_CONNECTION,
    TRANSPORT_TIMEOUT,
)
from ..transport import request_sent

__all__ = [
    "ACTION",
    "MAX_RESPONSE_BYTES",
    "PRECHECK_ACTION",
    "SDK_LOGGER",
    "CappedHTTPAdapter",
    "FaceIdAnswer",
    "FaceIdClient",
    "ResponseTooLarge",
    "parse_endpoint",
]

ACTION = "ImageRecognitionV2"
#: The AI face shield (liveness pre-check on one image): its own quota and bill.
PRECHECK_ACTION = "DetectAIFakeFaces"
#: The logger the SDK writes request and response bodies to (``abstract_client.LOGGER_NAME``).
SDK_LOGGER = "tencentcloud_sdk_common"
DEFAULT_ENDPOINT = "faceid.tencentcloudapi.com"

#: Codes the SDK makes up itself (no body from Tencent behind them).
_SDK_TRANSPORT = {"ClientNetworkError"}
_SDK_STATUS = {"ServerNetworkError"}
#: A code as Tencent spells them: quoted in our exception texts, so nothing else may pass.
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,127}")
#: An ImageRecognitionV2 answer is a few hundred bytes. A larger body is not the API's; reading
#: no more than this (decoded) keeps a broken or hostile endpoint, or a proxy, from making a
#: worker buffer without bound. The same cap as the legacy client's.
MAX_RESPONSE_BYTES = 64 * 1024
_CHUNK_BYTES = 16 * 1024


class ResponseTooLarge(Exception):
    """The body went past the cap; the connection was closed, not given back to the pool.

    Raised from the adapter, inside the SDK's call: the SDK wraps it as ClientNetworkError
    with this text (a fixed one: nothing of the body)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"response body over {limit} bytes")


class _CappedBody:
    """The response's ``raw`` body, read through a count: past ``limit`` decoded bytes the
    connection is closed (the unread rest must not meet the next request) and
    :class:`ResponseTooLarge` raised. Only ``read`` is offered, so ``requests`` reads through
    it (``Response.iter_content`` falls back to ``raw.read`` when there is no ``stream``);
    everything else is the original body's."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self._size = 0

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        # Decoded (gzip, deflate): a compressed body's size says nothing about what it becomes.
        chunk: bytes = self._raw.read(min(amt or _CHUNK_BYTES, _CHUNK_BYTES), decode_content=True)
        self._size += len(chunk)
        if self._size > self._limit:
            self._raw.close()
            raise ResponseTooLarge(self._limit)
        return chunk

    def __getattr__(self, name: str) -> Any:
        # Everything else of the body (version, reason, headers, close, release_conn ...)
        # as it was, for the SDK's response log and for requests; never a way around read.
        if name in ("stream", "read_chunked"):
            raise AttributeError(name)
        return getattr(self._raw, name)


class CappedHTTPAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose responses read at most ``max_bytes`` of body, decoded.

    The SDK asks for ``stream=True`` and then reads ``response.content``: the content is read
    (here, before the response is handed back, so that the SDK's call is where a refusal
    surfaces) through :class:`_CappedBody`, set as the response's documented ``raw`` body.
    When ``Content-Length`` announces more than the cap, nothing is read at all. Past the cap
    the connection is closed and :class:`ResponseTooLarge` raised.
    """

    def __init__(self, *args: Any, max_bytes: int = MAX_RESPONSE_BYTES, **kwargs: Any) -> None:
        self.max_bytes = max_bytes
        super().__init__(*args, **kwargs)

    def send(  # type: ignore[override]
        self, request: PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> Response:
        response = super().send(request, stream=True, **kwargs)
        limit = self.max_bytes
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise ResponseTooLarge(limit)
            response.raw = _CappedBody(response.raw, limit)
            response.content  # noqa: B018 - read now, through the cap (requests keeps it)
        except BaseException:
            response.close()
            raise
        return response


# The SDK's logger is kept from writing bodies by face_idcard.logfilters (installed by the
# app's ready(), QUIET_HTTP_LOGGERS): one filter for every HTTP logger, this one included.


def parse_endpoint(value: str) -> tuple[str, str]:
    """``(host[:port], protocol)`` from an ENDPOINT option: a url (``http://127.0.0.1:8701``)
    or a bare host (``faceid.tencentcloudapi.com``, https)."""
    text = (value or "").strip()
    if not text:
        return DEFAULT_ENDPOINT, "https"
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "ENDPOINT must be a host or an http(s) url such as https://" + DEFAULT_ENDPOINT
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        # The SDK always posts to "/": a path here would be silently dropped.
        raise ValueError("ENDPOINT must be a host (and port) only, without a path")
    return parts.netloc, parts.scheme


@dataclass(frozen=True)
class FaceIdAnswer:
    """One ``{"Response": ...}`` body: a business result or an ``Error``."""

    #: The ``Response`` object as received.
    response: dict[str, Any] = field(repr=False)
    #: The whole parsed body (for the attempt's stored response, after scrubbing).
    raw: dict[str, Any] = field(repr=False, hash=False, compare=False)
    elapsed: float = 0.0

    @property
    def request_id(self) -> str:
        value = self.response.get("RequestId")
        return value if isinstance(value, str) else ""

    @property
    def error_code(self) -> str | None:
        """``Error.Code`` when the body is an API error (``""`` when that code is unusable)."""
        error = self.response.get("Error")
        if error is None:
            return None
        code = error.get("Code") if isinstance(error, dict) else None
        return code if isinstance(code, str) and _CODE.fullmatch(code) else ""

    @property
    def error_message(self) -> str:
        error = self.response.get("Error")
        message = error.get("Message") if isinstance(error, dict) else None
        return message if isinstance(message, str) else ""

    @property
    def result(self) -> str | None:
        value = self.response.get("Result")
        return value if isinstance(value, str) and _CODE.fullmatch(value) else None

    @property
    def description(self) -> str:
        value = self.response.get("Description")
        return value if isinstance(value, str) else ""

    @property
    def sim(self) -> float | None:
        """``Sim`` as a finite number from 0 to 100, else None."""
        value = self.response.get("Sim")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        number = float(value)
        return number if math.isfinite(number) and 0.0 <= number <= 100.0 else None


def _timed_out(exc: BaseException) -> bool:
    """Whether a timeout is anywhere in the chain the SDK wrapped (it keeps only a text)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current, RequestsTimeout | ReadTimeoutError | ConnectTimeoutError | socket.timeout
        ):
            return True
        if any(isinstance(arg, ReadTimeoutError | ConnectTimeoutError) for arg in current.args):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transport_error(exc: BaseException, elapsed: float) -> exceptions.ProviderError:
    """Our exception for a call without a usable body. Only type names survive."""
    code = exc.code if isinstance(exc, TencentCloudSDKException) else type(exc).__name__
    detail = str(code) if isinstance(code, str) and _CODE.fullmatch(code) else type(exc).__name__
    too_large = _too_large(exc)
    if too_large is not None:
        # Our adapter's cap (the SDK reports it as a ClientNetworkError): a bad response.
        return exceptions.ProviderBadResponse(
            TRANSPORT_BAD_RESPONSE, elapsed=elapsed, detail=f"body over {too_large.limit} bytes"
        )
    if code in _SDK_STATUS:
        # HTTP status other than 200 (an HTML 502 from a gateway, say).
        return exceptions.ProviderBadResponse(
            TRANSPORT_BAD_RESPONSE, elapsed=elapsed, detail=detail
        )
    if code in _SDK_TRANSPORT or _timed_out(exc) or _is_connection_failure(exc):
        sent = request_sent(exc)
        if _timed_out(exc):
            return exceptions.ProviderTimeout(
                TRANSPORT_TIMEOUT, elapsed=elapsed, detail=detail, request_sent=sent
            )
        return exceptions.ProviderConnectionError(
            TRANSPORT_CONNECTION, elapsed=elapsed, detail=detail, request_sent=sent
        )
    if isinstance(exc, ValueError | KeyError | TypeError | IndexError | RecursionError):
        # JSONDecodeError, a body without Response or with a Response of the wrong shape.
        return exceptions.ProviderBadResponse(
            TRANSPORT_BAD_RESPONSE, elapsed=elapsed, detail=detail
        )
    return exceptions.UnknownProviderError(INTERNAL_ERROR, elapsed=elapsed, detail=detail)


def _too_large(exc: BaseException) -> ResponseTooLarge | None:
    """Our cap's exception, anywhere in the chain the SDK wrapped."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ResponseTooLarge):
            return current
        current = current.__cause__ or current.__context__
    return None


def _is_connection_failure(exc: BaseException) -> bool:
    from requests import RequestException

    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RequestException | ConnectionError):
            return True
        current = current.__cause__ or current.__context__
    return False


class FaceIdClient:
    """One configured ``FaceidClient``; safe to share between threads (one pooled session)."""

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        *,
        endpoint: str = "",
        region: str = "",
        connect_timeout: float = 3.05,
        read_timeout: float = 15.0,
        pool_maxsize: int = 10,
        language: str = "zh-CN",
    ) -> None:
        if not secret_id or not secret_key:
            raise ValueError("secret_id and secret_key are required")
        for value in (connect_timeout, read_timeout):
            if isinstance(value, bool) or not value > 0 or not math.isfinite(value):
                raise ValueError("timeouts must be positive numbers of seconds")
        host, protocol = parse_endpoint(endpoint)
        self.endpoint = f"{protocol}://{host}"
        # reqTimeout is one number, given to requests as both the connect and the read
        # timeout; the read timeout is the larger bound. _tune_connection then gives the SDK's
        # session the (connect, read) pair the app is configured with.
        profile = HttpProfile(endpoint=host, protocol=protocol, reqTimeout=read_timeout)
        client_profile = ClientProfile(httpProfile=profile, language=language)
        self._client = faceid_client.FaceidClient(
            credential.Credential(secret_id, secret_key), region, client_profile
        )
        self._secret_id = secret_id
        self.timeout = (float(connect_timeout), float(read_timeout))
        self._tune_connection(pool_maxsize)

    def _tune_connection(self, pool_maxsize: int) -> None:
        """(connect, read) timeouts and a pool as large as the worker's concurrency.

        Reaches into ``ApiRequest.conn`` (a ``ProxyConnection`` with a ``requests.Session``)
        of SDK 3.1: ``conn.timeout`` is a public attribute, but the session is the private
        ``_session``, and the SDK offers no public way to it (``HttpProfile`` takes one timeout,
        a proxy, a CA bundle, keep-alive and ``pre_conn_pool_size``, which mounts the SDK's own
        adapter; nothing takes a session or an adapter), while the response cap and the pool
        size need an adapter of ours. tests/providers/test_faceid_backend.py
        (``test_timeouts_and_endpoint_reach_the_sdk``) and test_faceid_response_cap.py
        (``test_the_sdk_session_is_capped``) fail if a new SDK moves them.
        """
        connection = getattr(getattr(self._client, "request", None), "conn", None)
        if connection is None or not hasattr(connection, "timeout"):
            return
        connection.timeout = self.timeout
        session = getattr(connection, "_session", None)
        if session is not None:
            adapter = CappedHTTPAdapter(
                pool_connections=1, pool_maxsize=pool_maxsize, max_retries=0
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)

    @property
    def session_timeout(self) -> Any:
        connection = getattr(getattr(self._client, "request", None), "conn", None)
        return getattr(connection, "timeout", None)

    def __repr__(self) -> str:
        masked = f"{self._secret_id[:4]}***" if len(self._secret_id) > 8 else "***"
        return f"FaceIdClient(secret_id={masked!r}, endpoint={self.endpoint!r})"

    def close(self) -> None:
        connection = getattr(getattr(self._client, "request", None), "conn", None)
        session = getattr(connection, "_session", None)
        if session is not None:
            session.close()

    def image_recognition_v2(self, params: dict[str, Any]) -> FaceIdAnswer:
        """One call. Raises a :class:`~face_idcard.exceptions.ProviderTransportError` when no
        usable ``{"Response": {...}}`` came back."""
        return self._call(ACTION, params)

    def detect_ai_fake_faces(self, params: dict[str, Any]) -> FaceIdAnswer:
        """One ``DetectAIFakeFaces`` call (the liveness pre-check), as :meth:`image_recognition_v2`."""
        return self._call(PRECHECK_ACTION, params)

    def _call(self, action: str, params: dict[str, Any]) -> FaceIdAnswer:
        started = time.perf_counter()
        failure: BaseException | None = None
        body: Any = None
        try:
            body = self._client.call(action, params)
        except TencentCloudSDKException as exc:
            if exc.code not in _SDK_TRANSPORT | _SDK_STATUS and exc.requestId is not None:
                # The SDK turned an {"Response": {"Error": ...}} body into an exception.
                return _error_answer(exc, time.perf_counter() - started)
            failure = exc
        except Exception as exc:
            failure = exc
        elapsed = time.perf_counter() - started
        if failure is not None:
            # Raised outside the except block: the chained exceptions hold the request.
            error = _transport_error(failure, elapsed)
            del failure
            raise error
        return _parse(body, elapsed)


def _error_answer(exc: TencentCloudSDKException, elapsed: float) -> FaceIdAnswer:
    response = {
        "Error": {"Code": exc.code, "Message": exc.message},
        "RequestId": exc.requestId,
    }
    return FaceIdAnswer(response=response, raw={"Response": response}, elapsed=elapsed)


def _parse(body: Any, elapsed: float) -> FaceIdAnswer:
    try:
        document = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        raise exceptions.ProviderBadResponse(
            TRANSPORT_BAD_RESPONSE, elapsed=elapsed, detail="not JSON"
        ) from None
    response = document.get("Response") if isinstance(document, dict) else None
    if not isinstance(response, dict):
        raise exceptions.ProviderBadResponse(
            TRANSPORT_BAD_RESPONSE, elapsed=elapsed, detail="no Response object"
        )
    return FaceIdAnswer(response=response, raw=document, elapsed=elapsed)
