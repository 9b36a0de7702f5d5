"""Every exception face_idcard raises on purpose, in one module.

Free of Django so provider clients can raise these (messages meant for people are translated
lazily, when read). Exception texts carry a code and its catalogue meaning, never the ID number,
the name, the image, the provider's raw message or a secret: exception texts end up in logs,
Celery results and error trackers.
"""

from __future__ import annotations

from typing import Any

from .outcome import GENERIC, ErrorClass


class _TranslatedMessage:
    """A class attribute that reads as Django's lazily translated text of ``msgid``.

    Keeps this module importable without Django; Django is imported when the text is read.
    """

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        from django.utils.translation import gettext_lazy

        return gettext_lazy(self.msgid)


def _(msgid: str) -> Any:
    """Marks ``msgid`` for makemessages and translates it when read."""
    return _TranslatedMessage(msgid)


class FaceIdcardError(Exception):
    """Base class of every exception this package raises on purpose."""


class MissingSecret(FaceIdcardError, RuntimeError):
    """A secret the settings file reads from the environment is not set.

    Deliberately not ``ImproperlyConfigured``: ``manage.py`` takes that one, raised while the
    settings module is imported, for "no settings yet", sets it aside, and then runs the
    command unconfigured, so ``check`` or ``migrate`` may die of ``AppRegistryNotReady:
    Models aren't loaded yet`` without ever showing the message (seen with Django 4.2, when a
    model check runs first; 5.2 has the same code). Any other exception stops ``manage.py``
    at once, with its message.
    """


class ProviderError(FaceIdcardError):
    """A call to the comparison service did not end in a usable result.

    ``code`` is the provider's code (or a ``transport.*`` pseudo-code) and ``error_class``
    says what to do about it. ``meaning`` is the provider catalogue's English meaning of the
    code (the shared pseudo-codes' meanings are found without it). ``result`` is the parsed
    response where there was one.
    """

    error_class: ErrorClass = ErrorClass.UNKNOWN

    def __init__(
        self,
        code: str,
        *,
        meaning: str = "",
        result: Any = None,
        elapsed: float | None = None,
        detail: str = "",
        request_sent: bool | None = None,
    ) -> None:
        self.code = code
        self.request_sent = request_sent
        self.meaning = meaning or (GENERIC.lookup(code).en if code in GENERIC else "")
        self.result = result
        self.elapsed = elapsed
        # ``detail`` is for our own wording (an exception type, an HTTP status), never for
        # data from the request.
        self.detail = detail
        text = f"[{code}] {self.meaning}" if self.meaning else f"[{code}]"
        if detail:
            text = f"{text} ({detail})"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep pickling (Celery result backends) working with keyword-only arguments.
        return (
            _rebuild,
            (type(self), self.code, self.meaning, self.elapsed, self.detail, self.request_sent),
        )


def _rebuild(
    cls: type[ProviderError],
    code: str,
    meaning: str,
    elapsed: float | None,
    detail: str,
    request_sent: bool | None = None,
) -> ProviderError:
    return cls(code, meaning=meaning, elapsed=elapsed, detail=detail, request_sent=request_sent)


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


# --- The lifecycle ---------------------------------------------------------------------------


class IllegalTransition(FaceIdcardError):
    """The lifecycle does not allow this change (or the attempt is not in a state for it)."""

    def __init__(self, current: str, target: str, *, detail: str = "") -> None:
        self.current = current
        self.target = target
        text = f"illegal transition {current} -> {target}"
        super().__init__(f"{text}: {detail}" if detail else text)


class ConcurrentTransition(IllegalTransition):
    """Someone else changed the attempt first (another worker, the sweeper, a cancel)."""


class AuditLogError(FaceIdcardError):
    """Audit events are append-only: they cannot be changed or deleted."""


# --- The services ----------------------------------------------------------------------------


class AttemptLimitExceeded(FaceIdcardError):
    """Too many attempts for this ID number or this user today.

    The message is the same whichever limit was hit and whether or not the number is known,
    so it cannot be used to find out anything about an ID number.
    """

    message = _("Too many verification attempts. Please try again tomorrow.")

    def __init__(self) -> None:
        super().__init__(str(self.message))


class BackendUnavailable(FaceIdcardError):
    """The backend an attempt would use cannot be built from the settings (an unknown alias,
    missing credentials, an unusable ``ENCRYPTION_PUBLIC_KEY``...: the system checks report
    each as an Error). :func:`~face_idcard.services.submit` raises it before storing anything;
    the API answers 503 ``backend_unavailable``.

    The message is for the end user and says nothing about the configuration; ``alias`` and
    ``detail`` (the configuration error's text, which names the setting, never its value)
    are for operators.
    """

    message = _("Identity verification is not available at the moment. Please try again later.")

    def __init__(self, alias: str, detail: str = "") -> None:
        self.alias = alias
        self.detail = detail
        super().__init__(str(self.message))


class ConsentRequired(FaceIdcardError):
    """The end user has not consented to the processing of their personal information."""

    message = _("Consent to the processing of your personal information is required.")

    def __init__(self) -> None:
        super().__init__(str(self.message))


class LegalHoldActive(FaceIdcardError):
    """The attempt is under legal hold: its personal information must not be erased."""


class PersonalInformationUnavailable(FaceIdcardError):
    """The personal information was purged or redacted."""


# --- Permissions -----------------------------------------------------------------------------


class PermissionRequired(FaceIdcardError):
    """The acting user lacks the app permission a service needs (``permission``, e.g.
    ``"face_idcard.view_pii"``). A view should answer 403; the text names the permission,
    never the attempt's personal information."""

    message = _TranslatedMessage("You do not have permission to do this.")

    def __init__(self, permission: str) -> None:
        self.permission = permission
        super().__init__(f"permission required: {permission}")


class SelfReviewRefused(FaceIdcardError):
    """A reviewer asked to review their own attempt: nobody confirms their own identity (nor,
    under four-eyes, is either reviewer the attempt's own user). A view should answer 403."""

    message = _("You cannot review your own verification.")

    def __init__(self) -> None:
        super().__init__("a reviewer cannot review their own attempt")


# --- Packaged data ---------------------------------------------------------------------------


class CatalogueError(FaceIdcardError, ValueError):
    """A provider's code catalogue file is malformed; the text names the file and the entry."""


# --- Infrastructure --------------------------------------------------------------------------


class CacheUnavailable(FaceIdcardError):
    """Django's cache (the rate limiter's) could not be reached; the text names the cache
    error's type only. Classified as an outage (:mod:`face_idcard.outages`): the API answers
    503, the worker retries."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"cache unavailable ({cause})")


class InfrastructureUnavailable(FaceIdcardError):
    """A run (:func:`face_idcard.services.dispatch.run`) met an outage of the database, the
    cache or the queue. Deliver the attempt again later, with backoff, and pass ``held_claim``
    back to ``run``: the claim that run took, which the next run gives back at once (None
    when it held none). The text names the outage's exception type only."""

    def __init__(self, cause: str, held_claim: Any = None) -> None:
        self.held_claim = held_claim
        super().__init__(f"infrastructure unavailable ({cause})")
