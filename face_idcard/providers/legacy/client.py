"""HTTP client for Tencent's legacy comparison API ``POST /face/idcardcompare``.

Free of Django on purpose: the simulator, scripts and benchmarks use it without settings.
The client sends one request and reports what came back; it never retries. Deciding what to
do about a code (retry, re-sign, alert, give up) is the caller's job, helped by
:attr:`CompareResult.error_class` and :meth:`CompareResult.raise_for_code`.

Privacy: the ID number, the name, the image, the image url (it may be a signed url), the
Authorization header and the SecretKey never go into a log line, an exception text or a repr.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

from ... import exceptions
from ...outcome import ErrorClass
from ...sensitive import forget_locals_on_error
from ..transport import request_sent
from . import codes as errors
from . import signing

__all__ = ["CompareResult", "IdCardCompareClient"]

logger = logging.getLogger("face_idcard.client")

API_PATH = "/face/idcardcompare"
DEFAULT_ENDPOINT = "https://recognition.image.myqcloud.com"
#: (connect, read) seconds. The connect value is just above a TCP retransmission window (3 s).
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 15.0)

_INTEGER_CODE = re.compile(r"[+-]?\d+")
#: The documented response is about 100 bytes. A larger body is not the API's; reading no more
#: than this keeps a broken or hostile endpoint from making a worker buffer without bound.
MAX_RESPONSE_BYTES = 64 * 1024


class _ResponseTooLarge(Exception):
    """The body went past MAX_RESPONSE_BYTES; the connection is dropped, not reused."""


def _read_capped(response: requests.Response, limit: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _ResponseTooLarge
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=16 * 1024):
        size += len(chunk)
        if size > limit:
            raise _ResponseTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class CompareResult:
    """One JSON response of the comparison API, success or provider error code."""

    #: Catalogue key as a string: ``"0"``, ``"-5803"``, ``"15"`` …
    code: str
    #: The provider's own message. For staff screens only: it is never put into an exception
    #: text, and kept out of the repr because we do not control what the provider echoes.
    message: str = field(repr=False)
    similarity: float | None
    session_id: str
    #: The parsed JSON body exactly as received. Left out of the hash (a dict is unhashable).
    raw: dict[str, Any] = field(repr=False, hash=False)
    http_status: int
    #: Seconds of wall time for the HTTP exchange.
    elapsed: float
    #: True when the request was sent in JSON (url) mode.
    url_mode: bool

    @property
    def error_class(self) -> ErrorClass:
        return errors.classify(self.code, url_mode=self.url_mode)

    @property
    def ok(self) -> bool:
        """A usable comparison: code 0 with a similarity to apply the threshold to."""
        return self.code == "0" and self.similarity is not None

    @property
    def is_account_in_arrears(self) -> bool:
        return errors.is_account_in_arrears(self.code, self.message)

    def raise_for_code(self) -> None:
        """Raise the exception for this result's class; return quietly on a usable success."""
        error_class = self.error_class
        if error_class is ErrorClass.SUCCESS:
            if self.similarity is not None:
                return
            # Code 0 without a score is not the documented shape: treat it like any other
            # unusable body (transient) rather than hand the caller a None to compare.
            raise exceptions.ProviderBadResponse(
                errors.TRANSPORT_BAD_RESPONSE,
                result=self,
                elapsed=self.elapsed,
                detail="code 0 without similarity",
            )
        exception_class = exceptions.EXCEPTION_FOR_CLASS[error_class]
        raise exception_class(
            self.code, meaning=errors.lookup(self.code).en, result=self, elapsed=self.elapsed
        )


class _LegacySignatureAuth(requests.auth.AuthBase):
    """Sets our Authorization header as requests' auth hook.

    Passing it as ``auth=`` rather than as a plain header stops requests from replacing the
    header with credentials from ``~/.netrc`` for the endpoint's host.
    """

    def __init__(self, header_value: str) -> None:
        self._header_value = header_value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header_value
        return request

    def __repr__(self) -> str:
        return "<legacy signature>"


def _mask(value: str) -> str:
    """Enough of an identifier to tell accounts apart in a repr, not enough to use it."""
    if len(value) <= 8:
        return "***"
    return f"{value[:4]}***{value[-2:]}"


def _parse_code(value: object) -> str | None:
    """The catalogue key for an integer-ish JSON ``code``, or None if it is not one."""
    if isinstance(value, bool):  # bool is an int subclass; ``true`` is not a code.
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and _INTEGER_CODE.fullmatch(value.strip()):
        return str(int(value.strip()))
    return None


def _parse_similarity(value: object) -> float | None:
    """int, float or numeric string to a finite float; anything else (or missing) to None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _validate_timeout(timeout: float | tuple[float, float]) -> float | tuple[float, float]:
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    if len(values) not in (1, 2) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 and math.isfinite(v)
        for v in values
    ):
        # A missing or zero timeout would let one stuck provider call hold a worker forever.
        raise ValueError("timeout must be a positive number or a (connect, read) pair of them")
    return timeout


def _transport_error(exc: requests.RequestException, elapsed: float) -> exceptions.ProviderError:
    """Our exception for a failed exchange. Only the type name survives: requests' texts
    carry the url and the exception object carries the request with its body."""
    detail = type(exc).__name__
    sent = request_sent(exc)
    if isinstance(exc, requests.Timeout):
        # ConnectTimeout is also a ConnectionError, so timeouts are checked first.
        return exceptions.ProviderTimeout(
            errors.TRANSPORT_TIMEOUT, elapsed=elapsed, detail=detail, request_sent=sent
        )
    if isinstance(exc, requests.ConnectionError) and any(
        isinstance(arg, ReadTimeoutError) for arg in exc.args
    ):
        # requests reports a read timeout while reading the body as a ConnectionError.
        return exceptions.ProviderTimeout(
            errors.TRANSPORT_TIMEOUT, elapsed=elapsed, detail=detail, request_sent=sent
        )
    return exceptions.ProviderConnectionError(
        errors.TRANSPORT_CONNECTION, elapsed=elapsed, detail=detail, request_sent=sent
    )


def _environment_once(session: requests.Session, url: str) -> None:
    """Read the proxy and CA-bundle environment variables once, for the client's life.

    requests otherwise walks the whole process environment on every request (proxies,
    no_proxy, CA bundles, ~/.netrc): about a third of the client's CPU per call, for
    settings a worker never changes. Authentication is our own header, so ~/.netrc is moot.
    """
    proxies = requests.utils.get_environ_proxies(url)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.trust_env = False
    session.proxies.update(proxies)
    if bundle:
        session.verify = bundle


class IdCardCompareClient:
    """Calls ``/face/idcardcompare`` over one pooled HTTP session.

    Safe to share between threads: each call builds its own signature and request, and the
    connection pool hands each thread its own connection.
    """

    def __init__(
        self,
        appid: str,
        secret_id: str,
        secret_key: str,
        bucket: str = "",
        endpoint: str = DEFAULT_ENDPOINT,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        signature_lifetime: int = signing.DEFAULT_LIFETIME_SECONDS,
        session: requests.Session | None = None,
        pool_maxsize: int = 10,
    ) -> None:
        if not appid or not secret_id or not secret_key:
            raise ValueError("appid, secret_id and secret_key are required")
        if not 0 < signature_lifetime <= signing.MAX_LIFETIME_SECONDS:
            raise ValueError("signature_lifetime must be between 1 second and 90 days")
        if pool_maxsize < 1:
            raise ValueError("pool_maxsize must be at least 1")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("endpoint must be an http(s) URL such as " + DEFAULT_ENDPOINT)
        self.appid = appid
        self.bucket = bucket
        self.endpoint = endpoint.rstrip("/")
        self.url = self.endpoint + API_PATH
        self.timeout = _validate_timeout(timeout)
        self.signature_lifetime = signature_lifetime
        self._secret_id = secret_id
        self._secret_key = secret_key
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # No automatic retries: a POST that reached the provider may have been billed,
            # and retry policy belongs to the caller, which knows the error class.
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_maxsize, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _environment_once(session, self.url)
        self._session = session

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(appid={self.appid!r}, secret_id={_mask(self._secret_id)!r}, "
            f"endpoint={self.endpoint!r})"
        )

    def __enter__(self) -> IdCardCompareClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections (only those of a session this client created)."""
        if self._owns_session:
            self._session.close()

    def _sign(self) -> str:
        return signing.sign_legacy(
            appid=self.appid,
            secret_id=self._secret_id,
            secret_key=self._secret_key,
            bucket=self.bucket,
            lifetime=self.signature_lifetime,
        )

    @forget_locals_on_error
    def compare(
        self,
        idcard_number: str,
        idcard_name: str,
        image: bytes | None = None,
        url: str | None = None,
        session_id: str | None = None,
        *,
        image_content_type: str = "image/jpeg",
        image_filename: str = "image.jpg",
    ) -> CompareResult:
        """Compare the face in ``image`` (or at ``url``) with the registry photo of the card.

        Returns a :class:`CompareResult` for every JSON response, whatever its code or HTTP
        status. Raises :class:`~face_idcard.exceptions.ProviderTransportError` subclasses when
        no usable JSON arrived, and ``ValueError`` for missing input. With both ``image`` and
        ``url``, only ``url`` is sent (the provider would ignore the image anyway).
        """
        if not idcard_number or not idcard_number.strip():
            raise ValueError("idcard_number is required")
        if not idcard_name or not idcard_name.strip():
            raise ValueError("idcard_name is required")
        url_mode = url is not None
        if url_mode and not url:
            raise ValueError("url must not be empty")
        if not url_mode and not image:
            raise ValueError("either image bytes or a url is required")

        request_kwargs: dict[str, Any]
        if url is not None:
            body: dict[str, str] = {"appid": self.appid}
            if self.bucket:
                body["bucket"] = self.bucket
            body.update(idcard_number=idcard_number, idcard_name=idcard_name, url=url)
            if session_id:
                body["session_id"] = session_id
            request_kwargs = {
                "data": json.dumps(body, ensure_ascii=False).encode("utf-8"),
                "headers": {"Content-Type": "application/json"},
            }
        else:
            fields: list[tuple[str, str]] = [("appid", self.appid)]
            if self.bucket:
                fields.append(("bucket", self.bucket))
            fields += [("idcard_number", idcard_number), ("idcard_name", idcard_name)]
            if session_id:
                fields.append(("session_id", session_id))
            # requests writes str fields as UTF-8 and chooses the boundary itself, as the
            # API page asks (a hand-set Content-Type would lose the boundary).
            request_kwargs = {
                "data": fields,
                "files": {"image": (image_filename, image, image_content_type)},
            }

        auth = _LegacySignatureAuth(self._sign())
        started = time.perf_counter()
        failure: requests.RequestException | None = None
        too_large = False
        status = 0
        content = b""
        try:
            # Streamed so that the body is read with a cap (see MAX_RESPONSE_BYTES).
            with self._session.post(
                self.url,
                auth=auth,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                **request_kwargs,
            ) as response:
                status = response.status_code
                try:
                    content = _read_capped(response, MAX_RESPONSE_BYTES)
                except _ResponseTooLarge:
                    too_large = True
        except requests.RequestException as exc:
            failure = exc
        elapsed = time.perf_counter() - started
        if too_large:
            logger.debug(
                "idcardcompare oversized body http_status=%s elapsed=%.3f", status, elapsed
            )
            raise exceptions.ProviderBadResponse(
                errors.TRANSPORT_BAD_RESPONSE,
                elapsed=elapsed,
                detail=f"HTTP {status}, body over {MAX_RESPONSE_BYTES} bytes",
            )
        if failure is not None:
            # Raised outside the except block so the requests exception (which holds the
            # prepared request, body and Authorization header included) is not chained.
            error = _transport_error(failure, elapsed)
            del failure
            logger.debug(
                "idcardcompare transport failure code=%s detail=%s elapsed=%.3f url_mode=%s",
                error.code,
                error.detail,
                elapsed,
                url_mode,
            )
            raise error

        result = self._parse(status, content, elapsed=elapsed, url_mode=url_mode)
        logger.debug(
            "idcardcompare code=%s http_status=%s elapsed=%.3f session_id=%s url_mode=%s",
            result.code,
            result.http_status,
            elapsed,
            result.session_id,
            url_mode,
        )
        return result

    @staticmethod
    def _parse(status: int, body: bytes, *, elapsed: float, url_mode: bool) -> CompareResult:
        payload: object = None
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            payload = None
        code = _parse_code(payload.get("code")) if isinstance(payload, dict) else None
        if not isinstance(payload, dict) or code is None:
            logger.debug(
                "idcardcompare unusable body http_status=%s elapsed=%.3f url_mode=%s",
                status,
                elapsed,
                url_mode,
            )
            raise exceptions.ProviderBadResponse(
                errors.TRANSPORT_BAD_RESPONSE, elapsed=elapsed, detail=f"HTTP {status}"
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            data = {}
        return CompareResult(
            code=code,
            message=_text(payload.get("message")),
            similarity=_parse_similarity(data.get("similarity")),
            session_id=_text(data.get("session_id")),
            raw=payload,
            http_status=status,
            elapsed=elapsed,
            url_mode=url_mode,
        )
