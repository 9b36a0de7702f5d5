"""One exception hierarchy for everything a provider call can end in.

Free of Django so the client can raise these. Exception texts carry the code and the
catalogue's meaning, never the ID number, the name, the image, the provider's raw message or a
secret: exception texts end up in logs, Celery results and error trackers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ErrorClass, lookup

if TYPE_CHECKING:
    from .client import CompareResult


class FaceIdcardError(Exception):
    """Base class of every exception this package raises on purpose."""


class ProviderError(FaceIdcardError):
    """A call to the comparison service did not end in a usable result.

    ``code`` is the catalogue key (provider code or a ``transport.*`` pseudo-code) and
    ``error_class`` says what to do about it. ``result`` is the parsed response where there
    was one.
    """

    error_class: ErrorClass = ErrorClass.UNKNOWN

    def __init__(
        self,
        code: str,
        *,
        result: CompareResult | None = None,
        elapsed: float | None = None,
        detail: str = "",
    ) -> None:
        self.code = code
        self.result = result
        self.elapsed = elapsed
        # ``detail`` is for our own wording (an exception type, an HTTP status), never for
        # data from the request.
        self.detail = detail
        text = f"[{code}] {lookup(code).en}"
        if detail:
            text = f"{text} ({detail})"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep pickling (Celery result backends) working with keyword-only arguments.
        return (_rebuild, (type(self), self.code, self.elapsed, self.detail))


def _rebuild(
    cls: type[ProviderError], code: str, elapsed: float | None, detail: str
) -> ProviderError:
    return cls(code, elapsed=elapsed, detail=detail)


class TransientProviderError(ProviderError):
    """Retry with backoff: timeouts, connection failures, 5xx/non-JSON bodies, 15, 213, …"""

    error_class = ErrorClass.TRANSIENT


class ProviderTransportError(TransientProviderError):
    """No JSON response arrived at all (timeout, refused or dropped connection, non-JSON body)."""


class ProviderTimeout(ProviderTransportError):
    """Connect or read timeout. The provider may or may not have billed the call."""


class ProviderConnectionError(ProviderTransportError):
    """The connection was refused, reset or dropped."""


class ProviderBadResponse(ProviderTransportError):
    """The body was not the documented JSON (for example an HTML 502 page)."""


class ResignRequired(ProviderError):
    """The signature expired or was seen as a replay: sign again and retry once."""

    error_class = ErrorClass.RESIGN


class UrlFetchFailed(ProviderError):
    """The provider could not download the image from the url: at most one retry."""

    error_class = ErrorClass.URL_FETCH


class ProviderConfigurationError(ProviderError):
    """Credentials, account or service configuration. Not the user's fault; alert operators."""

    error_class = ErrorClass.CONFIGURATION


class ProviderRejected(ProviderError):
    """The provider refused the input or the person (name mismatch, no face, …). Final."""

    error_class = ErrorClass.INPUT


class UnknownProviderError(ProviderError):
    """A code the catalogue does not know. Recorded as it came; never retried automatically."""

    error_class = ErrorClass.UNKNOWN


EXCEPTION_FOR_CLASS: dict[ErrorClass, type[ProviderError]] = {
    ErrorClass.TRANSIENT: TransientProviderError,
    ErrorClass.RESIGN: ResignRequired,
    ErrorClass.URL_FETCH: UrlFetchFailed,
    ErrorClass.CONFIGURATION: ProviderConfigurationError,
    ErrorClass.INPUT: ProviderRejected,
    ErrorClass.UNKNOWN: UnknownProviderError,
}
