"""What the pipeline needs from a comparison service, whichever provider runs it.

A backend declares what it needs and accepts (its options, image limits and formats, whether
it takes a url, whether a refused signature can be retried, its default threshold, the keys
of its provider's bodies that carry personal information, its catalogue and billing rule) and
makes the provider call. :meth:`Backend.verify` is the template every call goes through: it
calls the subclass's :meth:`~Backend.call_provider`, turns a transport exception into an
outcome with the backend's own catalogue and scrubs the raw answer, so the caller always gets
a neutral :class:`~face_idcard.outcome.ProviderOutcome`. Generic code reads nothing else.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, final

from django.core.exceptions import ImproperlyConfigured

from .._images import ImageLimits
from ..exceptions import ProviderError
from ..outcome import (
    GENERIC,
    INTERNAL_ERROR,
    TRANSPORT_BAD_RESPONSE,
    Catalogue,
    CodeInfo,
    ErrorClass,
    Liveness,
    LivenessVerdict,
    ProviderOutcome,
)
from ..sensitive import forget_locals_on_error
from ..settings_spec import Declaration

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from .config import BackendSettings

__all__ = ["Backend", "Option", "OptionProblem", "VerificationRequest", "scrub"]

_REMOVED = "[removed]"


@dataclass(frozen=True)
class VerificationRequest:
    """One comparison to make. Its repr shows no personal information.

    ``correlation_id`` identifies the attempt to the provider without saying anything about
    the person.
    """

    idcard_number: str = field(repr=False)
    idcard_name: str = field(repr=False)
    image: bytes | None = field(default=None, repr=False)
    image_content_type: str = "image/jpeg"
    url: str | None = field(default=None, repr=False)
    correlation_id: str = ""

    @property
    def url_mode(self) -> bool:
        return self.url is not None

    def __str__(self) -> str:
        return repr(self)


@dataclass(frozen=True, kw_only=True)
class Option(Declaration):
    """One provider option a backend reads from its alias's entry in ``BACKENDS``.

    Declared like a site-wide setting (:class:`face_idcard.settings_spec.Declaration`: type,
    default, unit, range or choices, secret, doc), so that the system checks and the settings
    reference are generated from it. ``default`` is used when the alias leaves the key out (or
    sets it to ``None`` or ``""``); a ``required`` option without a value is a system check
    Error (face_idcard.E002) and stops the backend from being built; a value of the wrong type
    or out of range is face_idcard.E017. A ``secret`` option's value is never shown: not in
    messages, not in a repr.
    """

    required: bool = False
    check: str = "face_idcard.E017"


class OptionProblem(NamedTuple):
    """A problem a backend finds in its own options, reported by the system checks."""

    #: ``"unloadable"`` (an Error, face_idcard.E017) or ``"below_provider_bar"`` (W008).
    kind: str
    key: str
    #: Says what is wrong without quoting a secret value.
    text: str


def scrub(value: Any, secrets: tuple[str, ...], pii_keys: frozenset[str] = frozenset()) -> Any:
    """``value`` with ``pii_keys`` dropped and any string containing one of ``secrets`` removed."""
    if isinstance(value, dict):
        return {
            key: scrub(item, secrets, pii_keys)
            for key, item in value.items()
            if key not in pii_keys
        }
    if isinstance(value, list):
        return [scrub(item, secrets, pii_keys) for item in value]
    if isinstance(value, str) and any(secret and secret in value for secret in secrets):
        return _REMOVED
    return value


class Backend(abc.ABC):
    """One configured comparison service (one alias of ``BACKENDS``).

    Instances are shared by every thread of a process and rebuilt when settings change.
    A provider's backend declares its class attributes and implements
    :meth:`call_provider`; everything else is common.
    """

    #: The provider family (for staff screens); the alias is per instance.
    provider: ClassVar[str] = ""
    #: Who receives the face: a stable identity of the company the provider call sends the
    #: photo to (two APIs of one company share it), recorded in each consent per alias
    #: (face_idcard._consent). Empty: the provider family stands in.
    recipient: ClassVar[str] = ""
    #: The recipient's name as the privacy notice shows it to the person (translatable).
    recipient_name: ClassVar[StrOrPromise] = ""
    #: The call carries the face over the Internet (a cloud API), which the consent must say
    #: (the 2025 face-recognition measures); False only for a service on the site's own network.
    sends_over_internet: ClassVar[bool] = True
    #: The options an alias of this backend may set besides the generic ones (threshold,
    #: review band, rate limit, timeouts, pool size); any other key is a system check Error.
    options: ClassVar[Mapping[str, Option]] = MappingProxyType({})
    #: Similarity at or above which a photo matches when neither the alias nor the site
    #: sets ``THRESHOLD``.
    default_threshold: ClassVar[float] = 75.0
    #: Capability: the provider can fetch the photo from a url itself. A backend without it
    #: is never sent a url, and a url-download failure is never retried for it.
    accepts_url: ClassVar[bool] = False
    #: Capability: every call is signed afresh, so a call the provider refused as stale or
    #: replayed (:attr:`ErrorClass.RESIGN`) may pass when sent again. Without it, such a
    #: refusal is a configuration problem (nothing a retry changes).
    can_resign: ClassVar[bool] = False
    #: What the provider accepts; photos are prepared to fit before they are stored.
    base_image_limits: ClassVar[ImageLimits] = ImageLimits()
    #: Keys of the provider's request or response bodies that carry personal information:
    #: removed from the raw answer before anyone stores or shows it.
    pii_keys: ClassVar[frozenset[str]] = frozenset()
    #: The provider's codes as data (unknown codes pass through as UNKNOWN).
    catalogue: ClassVar[Catalogue] = GENERIC
    #: How the provider bills, in one sentence (each code's ``billable`` says it per outcome).
    billing_rule: ClassVar[str] = ""
    #: For development and tests only: an Error outside DEBUG unless the site sets
    #: ``ALLOW_DEVELOPMENT_BACKENDS`` (face_idcard.E030).
    development_only: ClassVar[bool] = False
    #: The provider's own quota in calls per second, used when neither the alias nor the site
    #: sets ``RATE_LIMIT_PER_SECOND`` (None: no limit unless one is set).
    default_rate_limit_per_second: ClassVar[int | None] = None
    #: The declared option that holds the provider's address, so that ``check --deploy`` can
    #: refuse a loopback or plain-http endpoint without knowing the provider (None: none).
    endpoint_option: ClassVar[str | None] = None
    #: How many days the provider keeps its own record of a call (what a withdrawal cannot
    #: delete and tells the person); None: the provider does not say.
    provider_keeps_results_days: ClassVar[int | None] = None

    def __init__(self, config: BackendSettings) -> None:
        self.config = config
        self.alias = config.alias
        missing = self.missing_options(config)
        if missing:
            raise ImproperlyConfigured(
                f"face_idcard: backend {self.alias!r} needs {', '.join(missing)} "
                "(system check face_idcard.E002)."
            )
        problems = self.declared_option_problems(config)
        if problems:
            raise ImproperlyConfigured(
                f"face_idcard: backend {self.alias!r}: {problems[0].key} {problems[0].text} "
                "(system check face_idcard.E017)."
            )
        self.image_limits = config.image_limits(self.base_image_limits)
        self.threshold = (
            float(config.threshold) if config.threshold is not None else self.default_threshold
        )
        self.review_band = float(config.review_band)
        self.rate_limit_per_second = (
            config.rate_limit_per_second
            if config.rate_limit_per_second is not None
            else self.default_rate_limit_per_second
        )

    # --- Options -------------------------------------------------------------------------

    @classmethod
    def option_value(cls, config: BackendSettings, key: str) -> Any:
        """The alias's value for the declared option ``key``, else the declared default."""
        declared = cls.options[key]  # a KeyError here is a backend reading an undeclared key
        value = config.options.get(key)
        return declared.default if value is None or value == "" else value

    def option(self, key: str) -> Any:
        """This alias's value of the declared option ``key`` (see :meth:`option_value`)."""
        return self.option_value(self.config, key)

    @classmethod
    def missing_options(cls, config: BackendSettings) -> list[str]:
        """The required options the alias leaves without a value."""
        return [
            key
            for key, declared in cls.options.items()
            if declared.required and cls.option_value(config, key) in (None, "")
        ]

    @classmethod
    def unknown_options(cls, config: BackendSettings) -> list[str]:
        """The keys of the alias's entry this backend does not declare (typos, mostly)."""
        return sorted(set(config.options) - set(cls.options))

    @classmethod
    def recipient_identity(cls) -> str:
        """Who the face goes to, as consents record it: :attr:`recipient`, else the provider
        family, else the class's dotted path (a backend that declares neither still names a
        recipient no other backend shares)."""
        return cls.recipient or cls.provider or f"{cls.__module__}.{cls.__qualname__}"

    @classmethod
    def recipient_display_name(cls) -> str:
        """The recipient's name in the active language, for the privacy notice."""
        return str(cls.recipient_name) or cls.recipient_identity()

    @classmethod
    def describe_options(cls) -> str:
        """The declared options for people: ``"ACCOUNT (required), TOKEN (required, secret),
        ENDPOINT"``. A secret is one to read from a secret store, never to write into the
        settings file."""
        described = []
        for key, declared in cls.options.items():
            flags = [name for name in ("required", "secret") if getattr(declared, name)]
            described.append(f"{key} ({', '.join(flags)})" if flags else key)
        return ", ".join(described)

    @classmethod
    def endpoint_url(cls, config: BackendSettings) -> str | None:
        """The alias's endpoint as a url (a bare host is https), or None when the backend
        declares no endpoint option."""
        if cls.endpoint_option is None:
            return None
        value = str(cls.option_value(config, cls.endpoint_option) or "")
        if not value:
            return None
        return value if "://" in value else "https://" + value

    @classmethod
    def declared_option_problems(cls, config: BackendSettings) -> list[OptionProblem]:
        """The options whose value is not of their declared type, range or choices (an unset
        option, left to its default or reported as missing, is not one). The text never
        quotes the value: it may be a credential."""
        problems = []
        for key, declared in cls.options.items():
            value = cls.option_value(config, key)
            if value is None or value == "" or declared.accepts(value):
                continue
            problems.append(OptionProblem("unusable", key, f"must be {declared.allowed()}"))
        return problems

    @classmethod
    def option_problems(cls, config: BackendSettings) -> list[OptionProblem]:
        """Problems with the values of this alias's options beyond their declared type and
        range (a key that does not load, a threshold below the provider's bar), for the
        system checks."""
        return []

    # --- The call ------------------------------------------------------------------------

    @abc.abstractmethod
    def call_provider(self, request: VerificationRequest) -> ProviderOutcome:
        """Make the provider call and return its answer as an outcome of :attr:`catalogue`.

        May raise a :class:`~face_idcard.exceptions.ProviderError` (a timeout, a dropped
        connection, a body that is not the documented shape): :meth:`verify` turns it into
        an outcome. The raw answer may hold personal information: :meth:`verify` scrubs it.
        """

    @final  # the one boundary: a provider fills in call_provider, never this
    @forget_locals_on_error
    def verify(self, request: VerificationRequest) -> ProviderOutcome:
        """Compare the face with the registry photo of the ID card; always an outcome.

        Transport exceptions become outcomes of this backend's catalogue, an outcome the
        backend's capabilities cannot act on is reclassified (see :attr:`can_resign`), and
        the raw answer loses the keys in :attr:`pii_keys` and any string holding the ID
        number or the name.
        """
        if request.url_mode and not self.accepts_url:
            # Submission refuses urls for such a backend: an attempt stored otherwise is ours.
            return ProviderOutcome.from_code(GENERIC, INTERNAL_ERROR)
        started = time.monotonic()
        try:
            outcome = self.call_provider(request)
        except ProviderError as exc:
            elapsed = exc.elapsed if exc.elapsed is not None else time.monotonic() - started
            return self._with_liveness(
                _billed_as_sent(
                    ProviderOutcome.from_code(
                        self.catalogue,
                        exc.code,
                        error_class=self._actionable(exc.error_class, request),
                        elapsed=elapsed,
                    ),
                    exc,
                )
            )
        if outcome.error_class is ErrorClass.SUCCESS and not outcome.usable:
            # A success without a score (nor a verdict) is not a usable answer: like a garbled
            # response.
            return self._with_liveness(
                ProviderOutcome.from_code(GENERIC, TRANSPORT_BAD_RESPONSE, elapsed=outcome.elapsed)
            )
        error_class = self._actionable(outcome.error_class, request)
        raw = outcome.raw
        if raw is not None:
            raw = scrub(raw, (request.idcard_number, request.idcard_name), self.pii_keys)
        return self._with_liveness(replace(outcome, error_class=error_class, raw=raw))

    def _with_liveness(self, outcome: ProviderOutcome) -> ProviderOutcome:
        """A call that checks liveness itself and said nothing about it: the check failed."""
        if outcome.liveness is not None or not type(self).liveness_builtin(self.config):
            return outcome
        source = f"{self.provider}.{self.liveness_api}" if self.liveness_api else self.provider
        return replace(outcome, liveness=LivenessVerdict(Liveness.UNAVAILABLE, source))

    def _actionable(self, error_class: ErrorClass, request: VerificationRequest) -> ErrorClass:
        """``error_class`` as this backend can act on it: a retry that cannot change the
        answer is not offered."""
        if error_class is ErrorClass.RESIGN and not self.can_resign:
            return ErrorClass.CONFIGURATION
        if error_class is ErrorClass.URL_FETCH and not request.url_mode:
            # A download failure means something only when the provider downloaded.
            return ErrorClass.INPUT
        return error_class

    # --- Liveness --------------------------------------------------------------------------

    #: The API whose answer carries the built-in liveness verdict (the verdict's source).
    liveness_api: ClassVar[str] = ""

    @classmethod
    def liveness_builtin(cls, config: BackendSettings) -> bool:
        """Whether the comparison call itself says whether the photo is live (its outcome's
        ``liveness``), with this alias's options."""
        return False

    @classmethod
    def liveness_precheck(cls, config: BackendSettings) -> bool:
        """Whether this alias can ask a separate liveness check before the comparison
        (:meth:`call_liveness_precheck`)."""
        return False

    #: The pre-check's API (the source of its verdicts).
    precheck_api: ClassVar[str] = ""
    #: The pre-check's own quota in calls per second (None: none), paced apart from the
    #: comparison's under the rate-limit scope :meth:`precheck_scope`.
    precheck_rate_limit_per_second: int | None = None

    def precheck_scope(self) -> str:
        """The rate-limit scope of the pre-check (its quota is not the comparison's)."""
        return f"{self.alias}:liveness"

    def call_liveness_precheck(self, request: VerificationRequest) -> ProviderOutcome:
        """Make the pre-check call: an outcome of :attr:`catalogue` whose ``liveness`` is
        set on success. May raise a ProviderError (see :meth:`precheck`)."""
        raise NotImplementedError

    @final
    @forget_locals_on_error
    def precheck(self, request: VerificationRequest) -> ProviderOutcome:
        """The liveness pre-check; always an outcome, whose ``liveness`` is UNAVAILABLE when
        the check gave no verdict (a transport failure, an error answer)."""
        started = time.monotonic()
        source = f"{self.provider}.{self.precheck_api}"
        try:
            outcome = self.call_liveness_precheck(request)
        except ProviderError as exc:
            elapsed = exc.elapsed if exc.elapsed is not None else time.monotonic() - started
            outcome = _billed_as_sent(
                ProviderOutcome.from_code(self.catalogue, exc.code, elapsed=elapsed), exc
            )
        if outcome.liveness is None or outcome.error_class is not ErrorClass.SUCCESS:
            outcome = replace(
                outcome,
                liveness=LivenessVerdict(
                    Liveness.UNAVAILABLE,
                    outcome.liveness.source if outcome.liveness else source,
                ),
            )
        raw = outcome.raw
        if raw is not None:
            raw = scrub(raw, (request.idcard_number, request.idcard_name), self.pii_keys)
        return replace(outcome, raw=raw)

    def describe(self, code: str) -> CodeInfo:
        """The catalogue's entry for ``code`` (meanings in zh-hans and en, reason, class)."""
        return self.catalogue.lookup(code)

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release pooled connections (called when settings change)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.alias}>"


def _billed_as_sent(outcome: ProviderOutcome, exc: ProviderError) -> ProviderOutcome:
    """What the transport saw settles the billing of an unanswered call: a request that never
    left (refused, connect timeout) costs nothing; one whose answer was lost after it left (a
    read timeout, a reset while waiting) may have been done and billed (``answer_lost``)."""
    if exc.request_sent is None:
        return outcome
    return replace(outcome, billable=None if exc.request_sent else False)
