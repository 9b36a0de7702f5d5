"""Every setting of face_idcard, declared once.

A declaration says what a key is: its name, type, default, unit, allowed range or choices,
whether its value is a secret, and what it does (one paragraph in English, translated). The
rest is generated from it:

- the defaults of the lazy settings object (:data:`DEFAULTS`, read by :mod:`face_idcard.conf`);
- the system checks of each value's type and range, with the check id the declaration names,
  and the Error for a key nobody declares (:func:`face_idcard.checks.check_settings`);
- the settings reference of the documentation (``docs/_ext/face_idcard_reference.py``).

The keys of an alias of ``BACKENDS`` are declared in two places, each once: the generic keys
every alias may set (``per_alias=True`` below; an alias that leaves one out takes the
site-wide value) and the options of each backend class (``Backend.options``, declared with
:class:`face_idcard.backends.Option`, the same kind of declaration). Rules that tie two keys
together (a lease longer than a provider call, a storage alias that must exist) stay written
by hand in :mod:`face_idcard.checks`.
"""

from __future__ import annotations

import difflib
import numbers
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from ._settings_history import RENAMED

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = [
    "DEFAULTS",
    "SETTINGS",
    "Declaration",
    "Setting",
    "ValueType",
    "closest_name",
    "declared",
]


# --- Types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueType:
    """A kind of value: how people call it and which Python values are of it."""

    name: str
    accepts: Callable[[Any], bool] = field(compare=False)
    #: A list type: a declaration's range applies to each item.
    is_list: bool = False

    def __str__(self) -> str:
        return self.name


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list_of(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list | tuple) and all(test(item) for item in value)


def _is_fernet_key(value: Any) -> bool:
    from cryptography.fernet import Fernet

    try:
        Fernet(value)
    except (ValueError, TypeError):
        return False
    return True


#: DRF's spelling of a rate: a whole number, a slash and a period whose first letter is one of
#: s, m, h, d ("30/min", "10/hour").
_RATE = re.compile(r"\s*\d+\s*/\s*[smhd]\w*\s*")

BOOLEAN = ValueType("boolean", lambda value: isinstance(value, bool))
INTEGER = ValueType("whole number", _is_whole)
NUMBER = ValueType("number", _is_number)
STRING = ValueType("string", lambda value: isinstance(value, str))
#: A string or a whole number (an identifier some consoles show as digits).
IDENTIFIER = ValueType("string or whole number", lambda v: isinstance(v, str) or _is_whole(v))
STRINGS = ValueType("list of strings", _is_list_of(lambda item: isinstance(item, str)), True)
NUMBERS = ValueType("list of numbers", _is_list_of(_is_number), True)
MAPPING = ValueType("dict", lambda value: isinstance(value, Mapping))
LIST = ValueType("list", lambda value: isinstance(value, list | tuple))
RATE = ValueType(
    'rate ("number/period")', lambda value: isinstance(value, str) and bool(_RATE.fullmatch(value))
)
#: A dotted path to import, or the object itself.
IMPORTABLE = ValueType(
    "dotted path or callable", lambda v: (isinstance(v, str) and "." in v) or callable(v)
)
IMPORTABLES = ValueType(
    "list of dotted paths or classes",
    _is_list_of(lambda v: (isinstance(v, str) and "." in v) or isinstance(v, type)),
)
FERNET_KEYS = ValueType("list of Fernet keys, newest first", _is_list_of(_is_fernet_key))
ANY = ValueType("any value", lambda value: True)
SWITCH_OR_AUTO = ValueType(
    'True, False or "auto"', lambda value: isinstance(value, bool) or value == "auto"
)


# --- Declarations --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Declaration:
    """What a key's value may be, and what it is for.

    ``minimum`` and ``maximum`` bound a number (each item of a list type), inclusive unless
    ``minimum_exclusive``; ``choices`` lists the allowed words (compared without case when
    ``fold_case``). ``nullable``: ``None`` is allowed too (the doc says what it means). A
    ``secret`` value is never shown, not in a check message nor in the documentation.
    """

    type: ValueType = ANY
    default: Any = None
    doc: StrOrPromise = ""
    #: What a number counts: "seconds", "bytes" (translated).
    unit: StrOrPromise = ""
    minimum: float | None = None
    maximum: float | None = None
    minimum_exclusive: bool = False
    choices: tuple[str, ...] = ()
    fold_case: bool = False
    nullable: bool = False
    secret: bool = False
    #: The system check id reporting a value of the wrong type or out of range.
    check: str = "face_idcard.E021"

    def allowed(self) -> str:
        """What a value must be, in words: ``"None or a number from 0 to 100"``."""
        if self.choices:
            words = "one of " + ", ".join(repr(choice) for choice in self.choices)
        else:
            words = ("a " if not self.type.name.startswith("a") else "an ") + self.type.name
            bound = self._bounds()
            if bound:
                words += (", each " if self.type.is_list else " ") + bound
            if self.unit:
                words += f" ({self.unit})"
        return f"None or {words}" if self.nullable else words

    def _bounds(self) -> str:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"from {low:g} to {high:g}"
        if low is not None:
            return f"{'>' if self.minimum_exclusive else '>='} {low:g}"
        if high is not None:
            return f"<= {high:g}"
        return ""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is of the declared type, range and choices."""
        if value is None and self.nullable:
            return True
        if self.choices:
            word = str(value).strip().lower() if self.fold_case else value
            return isinstance(value, str) and word in self.choices
        if not self.type.accepts(value):
            return False
        if self.minimum is None and self.maximum is None:
            return True
        items = value if self.type.is_list else [value]
        return all(self._in_range(item) for item in items)

    def _in_range(self, value: Any) -> bool:
        if self.minimum is not None and (
            value <= self.minimum if self.minimum_exclusive else value < self.minimum
        ):
            return False
        return self.maximum is None or value <= self.maximum

    def problem(self, label: str, value: Any) -> str | None:
        """A check message for ``value`` at ``label`` (``FACE_IDCARD['KEY']``), or None when
        the value is allowed. A secret value is never quoted."""
        if self.accepts(value):
            return None
        if self.secret:
            return f"{label} must be {self.allowed()}."
        return f"{label} is {value!r}; it must be {self.allowed()}."


@dataclass(frozen=True, kw_only=True)
class Setting(Declaration):
    """One key of ``FACE_IDCARD``."""

    name: str
    #: The heading it is listed under in the documentation.
    section: StrOrPromise
    #: An alias of ``BACKENDS`` may set it too, overriding this site-wide value.
    per_alias: bool = False


# --- The settings --------------------------------------------------------------------------

SECONDS = _("seconds")
MINUTES = _("minutes")
HOURS = _("hours")
DAYS = _("days")
BYTES = _("bytes")
PIXELS = _("pixels")
CHARACTERS = _("characters")
YEARS = _("years")
CALLS_PER_SECOND = _("calls per second")

BACKENDS_SECTION = _("Backends")
DECISION = _("Decision")
INPUT = _("Input")
PIPELINE = _("Pipeline")
LIMITS = _("Limits against enumeration")
PRIVACY = _("Personal information")
ONBOARDING = _("Onboarding page")
API = _("REST API")
WEBHOOKS = _("Outbound webhooks")

SETTINGS: tuple[Setting, ...] = (
    # --- Backends ------------------------------------------------------------------------
    Setting(
        name="BACKENDS",
        section=BACKENDS_SECTION,
        type=MAPPING,
        default={},
        check="face_idcard.E001",
        doc=_(
            "Backends by alias, like Django's CACHES: each alias a dict with BACKEND (a "
            "built-in name or a dotted path to a Backend subclass), the options its backend "
            "class declares (credentials, endpoint...) and, optionally, the generic keys "
            "marked per alias on this page, which otherwise come from the site-wide keys of "
            "the same name."
        ),
    ),
    Setting(
        name="DEFAULT_BACKEND",
        section=BACKENDS_SECTION,
        type=STRING,
        default="default",
        doc=_("The alias new attempts use."),
    ),
    Setting(
        name="ALLOW_DEVELOPMENT_BACKENDS",
        section=BACKENDS_SECTION,
        type=BOOLEAN,
        default=False,
        doc=_(
            "A development-only backend (the simulator) with DEBUG off is an Error unless this "
            "is True: for a staging site that must never see a real person."
        ),
    ),
    Setting(
        name="ALLOW_LOOPBACK_ENDPOINTS",
        section=BACKENDS_SECTION,
        type=BOOLEAN,
        default=False,
        doc=_(
            "check --deploy refuses a backend endpoint on a loopback address unless this is "
            "True: for a private deployment that reaches its provider through a local proxy, "
            "on purpose."
        ),
    ),
    Setting(
        name="CONNECT_TIMEOUT_SECONDS",
        section=BACKENDS_SECTION,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=3.05,
        per_alias=True,
        check="face_idcard.E007",
        doc=_("Seconds to wait for the TCP connection to the provider."),
    ),
    Setting(
        name="READ_TIMEOUT_SECONDS",
        section=BACKENDS_SECTION,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=15.0,
        per_alias=True,
        check="face_idcard.E007",
        doc=_("Seconds to wait for the provider's response once connected."),
    ),
    Setting(
        name="HTTP_POOL_MAX_CONNECTIONS",
        section=BACKENDS_SECTION,
        type=INTEGER,
        minimum=1,
        default=10,
        per_alias=True,
        check="face_idcard.E010",
        doc=_(
            "Pooled HTTP connections per process to the provider (at least the worker's "
            "thread count)."
        ),
    ),
    Setting(
        name="RATE_LIMIT_PER_SECOND",
        section=BACKENDS_SECTION,
        type=NUMBER,
        unit=CALLS_PER_SECOND,
        minimum=1,
        nullable=True,
        default=None,
        per_alias=True,
        check="face_idcard.E012",
        doc=_(
            "Provider requests per second shared by all workers, per alias (None: no limit, "
            "or the backend's own quota where it declares one). Kept in Django's cache "
            "RATE_LIMIT_CACHE."
        ),
    ),
    # --- Decision ------------------------------------------------------------------------
    Setting(
        name="LIVENESS",
        section=DECISION,
        type=STRING,
        choices=("off", "record", "require"),
        fold_case=True,
        default="off",
        per_alias=True,
        check="face_idcard.E040",
        doc=_(
            'Liveness (whether the photo came from a live person): "off" (nothing asked or '
            'decided on it), "record" (checked where the provider can, stored, never decided '
            'on) or "require" (an attempt without a passing verdict is no match; '
            "LIVENESS_FAILURE says what happens to it). Checked by face_idcard.E040 and "
            "face_idcard.E041."
        ),
    ),
    Setting(
        name="LIVENESS_FAILURE",
        section=DECISION,
        type=STRING,
        choices=("review", "refuse"),
        fold_case=True,
        default="review",
        per_alias=True,
        check="face_idcard.E040",
        doc=_(
            'Under LIVENESS "require", an attempt without a passing verdict goes to '
            '"review" or is "refuse"d (decided no match).'
        ),
    ),
    Setting(
        name="THRESHOLD",
        section=DECISION,
        type=NUMBER,
        minimum=0,
        maximum=100,
        nullable=True,
        default=None,
        per_alias=True,
        check="face_idcard.E003",
        doc=_(
            "Similarity (0 to 100) at or above which a photo matches. None: the default of "
            "each alias's backend class (its provider's recommendation)."
        ),
    ),
    Setting(
        name="REVIEW_BAND",
        section=DECISION,
        type=NUMBER,
        minimum=0,
        maximum=50,
        default=5.0,
        per_alias=True,
        check="face_idcard.E004",
        doc=_(
            "Scores within this many points of the threshold (either side) go to human "
            "review. 0 disables the review band."
        ),
    ),
    Setting(
        name="REVIEW_OVERTURN_NEEDS_SECOND_REVIEWER",
        section=DECISION,
        type=BOOLEAN,
        default=True,
        doc=_(
            'When True, a reviewer who overturns a machine "no match" (to match) only records '
            "a pending first review; a second, different reviewer completes it."
        ),
    ),
    Setting(
        name="REVIEW_AUDIT_SAMPLE_RATE",
        section=DECISION,
        type=NUMBER,
        minimum=0,
        maximum=1,
        default=0.0,
        doc=_(
            "Share (0 to 1) of decided attempts, of every score, also sent to review as an "
            "audit sample: the threshold calibration's unbiased population. 0 disables it."
        ),
    ),
    Setting(
        name="ABUSE_MAX_ID_NUMBERS_PER_ACCOUNT",
        section=DECISION,
        type=INTEGER,
        minimum=0,
        default=3,
        check="face_idcard.E010",
        doc=_(
            "Abuse signals (the statistics page), from the keyed hashes only: an account "
            "trying more than this many distinct ID numbers within ABUSE_WINDOW_HOURS is "
            "flagged."
        ),
    ),
    Setting(
        name="ABUSE_WINDOW_HOURS",
        section=DECISION,
        type=INTEGER,
        unit=HOURS,
        minimum=1,
        default=24,
        check="face_idcard.E010",
        doc=_("Hours over which ABUSE_MAX_ID_NUMBERS_PER_ACCOUNT counts."),
    ),
    Setting(
        name="ABUSE_MAX_MISMATCHES_PER_HOUR",
        section=DECISION,
        type=INTEGER,
        minimum=1,
        default=3,
        check="face_idcard.E010",
        doc=_(
            "An account with this many name/number mismatches within one clock hour is "
            "flagged as an abuse signal."
        ),
    ),
    Setting(
        name="ADMIN_ID_SEARCH_RATE",
        section=DECISION,
        type=RATE,
        nullable=True,
        default="30/hour",
        doc=_(
            'ID number searches a staff user may make in the admin ("number/period"; None: '
            "no limit)."
        ),
    ),
    Setting(
        name="ADMIN_SELFIE_LINK_SECONDS",
        section=DECISION,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=120,
        check="face_idcard.E007",
        doc=_(
            "Seconds the admin's link to a selfie stays valid after the audited reveal that "
            "issued it (for the viewer's own session only): long enough for the page to load "
            "the image."
        ),
    ),
    # --- Input ---------------------------------------------------------------------------
    Setting(
        name="ID_EARLIEST_BIRTH_YEAR",
        section=INPUT,
        type=INTEGER,
        minimum=1800,
        default=1900,
        check="face_idcard.E010",
        doc=_(
            "ID numbers with a birth year before this are refused (no such person is alive: a "
            "typo or a made-up number, and the provider would bill the call)."
        ),
    ),
    Setting(
        name="MIN_AGE_YEARS",
        section=INPUT,
        type=INTEGER,
        unit=YEARS,
        minimum=0,
        maximum=150,
        default=14,
        check="face_idcard.E010",
        doc=_(
            "Age in full years below which submit refuses a person unless the caller states "
            "that a guardian consented (PIPL Art. 31: under 14, the guardian's consent is "
            "required). 0: no minimum age."
        ),
    ),
    Setting(
        name="CONSENT_CLOCK_SKEW_SECONDS",
        section=INPUT,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        default=300,
        doc=_("Seconds a consent time may lie in the future (clocks of the hosts drift apart)."),
    ),
    Setting(
        name="NAME_MIN_CHARS",
        section=INPUT,
        type=INTEGER,
        unit=CHARACTERS,
        minimum=1,
        default=2,
        check="face_idcard.E010",
        doc=_("The shortest name accepted, in characters."),
    ),
    Setting(
        name="NAME_MAX_CHARS",
        section=INPUT,
        type=INTEGER,
        unit=CHARACTERS,
        minimum=1,
        default=30,
        check="face_idcard.E010",
        doc=_("The longest name accepted, in characters."),
    ),
    Setting(
        name="NAME_ALLOW_LATIN",
        section=INPUT,
        type=BOOLEAN,
        default=False,
        doc=_(
            "Allow Latin letters in names (some foreigners' permanent residence cards); off by "
            "default."
        ),
    ),
    Setting(
        name="IMAGE_MIN_SIDE_PIXELS",
        section=INPUT,
        type=INTEGER,
        unit=PIXELS,
        minimum=1,
        default=64,
        check="face_idcard.E010",
        doc=_("Photos with a shorter side below this are refused."),
    ),
    Setting(
        name="IMAGE_MAX_SIDE_PIXELS",
        section=INPUT,
        type=INTEGER,
        unit=PIXELS,
        minimum=1,
        default=4096,
        check="face_idcard.E010",
        doc=_(
            "Photos are scaled down to this longer side at most (or the provider's own limit, "
            "when smaller)."
        ),
    ),
    Setting(
        name="IMAGE_MAX_PIXELS",
        section=INPUT,
        type=INTEGER,
        unit=PIXELS,
        minimum=1,
        default=25_000_000,
        check="face_idcard.E010",
        doc=_(
            "Decoded pixels above which an image is refused before decoding (decompression "
            "bombs); a phone's full-resolution photo (24 MP) fits the default."
        ),
    ),
    Setting(
        name="UPLOAD_MAX_BYTES",
        section=INPUT,
        type=INTEGER,
        unit=BYTES,
        minimum=1,
        default=15 * 1024 * 1024,
        check="face_idcard.E010",
        doc=_("Largest upload accepted from a client, before any re-encoding."),
    ),
    Setting(
        name="URL_MAX_CHARS",
        section=INPUT,
        type=INTEGER,
        unit=CHARACTERS,
        minimum=1,
        default=2048,
        check="face_idcard.E010",
        doc=_("The longest photo url accepted."),
    ),
    Setting(
        name="URL_ALLOW_PRIVATE",
        section=INPUT,
        type=BOOLEAN,
        default=False,
        doc=_(
            "Allow photo urls that point at loopback, private, link-local... addresses (and "
            "names resolving to them). Off: the provider must never be made to fetch from "
            "inside a network. Only for a private deployment whose provider and image server "
            "share such a network."
        ),
    ),
    Setting(
        name="URL_RESOLVER",
        section=INPUT,
        type=IMPORTABLE,
        nullable=True,
        default=None,
        doc=_(
            "Dotted path to a callable host -> iterable of address strings used to resolve url "
            "host names (None: the system resolver). It raises OSError when the name does not "
            "resolve."
        ),
    ),
    Setting(
        name="URL_RESOLVE_TIMEOUT_SECONDS",
        section=INPUT,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=2.0,
        check="face_idcard.E007",
        doc=_(
            "Seconds a url host lookup may take (off the request thread) before the url is "
            "refused as unresolvable: a slow DNS server must not hold a web worker."
        ),
    ),
    Setting(
        name="URL_UNRESOLVABLE_CACHE_SECONDS",
        section=INPUT,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        default=60,
        doc=_(
            "Seconds a name that did not resolve (or not in time) is refused at once, per process."
        ),
    ),
    # --- Pipeline ------------------------------------------------------------------------
    Setting(
        name="RETRY_WINDOW_MINUTES",
        section=PIPELINE,
        type=INTEGER,
        unit=MINUTES,
        minimum=0,
        default=15,
        check="face_idcard.E010",
        doc=_(
            "Transient failures (a provider down, a timeout, a rate-limit answer) are retried "
            "with exponential backoff and jitter for this many minutes after the first one; "
            "so is an attempt waiting for a provider the circuit breaker holds off."
        ),
    ),
    Setting(
        name="RETRY_MAX_COUNT",
        section=PIPELINE,
        type=INTEGER,
        minimum=0,
        nullable=True,
        default=None,
        check="face_idcard.E010",
        doc=_(
            "A cap on the count of transient retries besides the window. None: the window alone."
        ),
    ),
    Setting(
        name="RETRY_BACKOFF_BASE_SECONDS",
        section=PIPELINE,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=2.0,
        check="face_idcard.E007",
        doc=_("The first wait before a transient retry; each next wait doubles."),
    ),
    Setting(
        name="RETRY_BACKOFF_MAX_SECONDS",
        section=PIPELINE,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=300.0,
        check="face_idcard.E007",
        doc=_("The longest wait between two transient retries."),
    ),
    Setting(
        name="OUTAGE_RETRY_BACKOFF_BASE_SECONDS",
        section=PIPELINE,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=1.0,
        check="face_idcard.E007",
        doc=_(
            "A run that meets an outage of the database, the cache or the broker is delivered "
            "again after a backoff with jitter, from this base doubling up to "
            "OUTAGE_RETRY_BACKOFF_MAX_SECONDS, until the outage ends: never counted as a retry nor "
            "recorded as a failure."
        ),
    ),
    Setting(
        name="OUTAGE_RETRY_BACKOFF_MAX_SECONDS",
        section=PIPELINE,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=10.0,
        check="face_idcard.E007",
        doc=_("The longest wait between two deliveries of a run during an outage."),
    ),
    Setting(
        name="BREAKER_FAILURE_THRESHOLD",
        section=PIPELINE,
        type=INTEGER,
        minimum=1,
        default=5,
        check="face_idcard.E010",
        doc=_(
            "The circuit breaker of each alias, shared by all workers through the database: "
            "this many calls in a row finding the provider down open it."
        ),
    ),
    Setting(
        name="BREAKER_PROBE_INTERVAL_SECONDS",
        section=PIPELINE,
        type=INTEGER,
        unit=SECONDS,
        minimum=1,
        default=10,
        check="face_idcard.E010",
        doc=_(
            "While a breaker is open, one call (a probe) goes to the provider every this many "
            "seconds; the other attempts wait (retry_wait, reason provider_unavailable) without "
            "calling, and run again once a probe finds the provider back."
        ),
    ),
    Setting(
        name="CLAIM_LEASE_SECONDS",
        section=PIPELINE,
        type=INTEGER,
        unit=SECONDS,
        minimum=1,
        default=120,
        check="face_idcard.E010",
        doc=_(
            "A worker's claim on an attempt lapses after this many seconds; the sweeper "
            "re-queues it. Longer than a provider call can take (face_idcard.E011)."
        ),
    ),
    Setting(
        name="QUEUED_STALE_SECONDS",
        section=PIPELINE,
        type=INTEGER,
        unit=SECONDS,
        minimum=1,
        default=120,
        check="face_idcard.E010",
        doc=_(
            "A queued attempt untouched for this long (counted from its turn under the rate "
            "limit, if it waits for one) is considered lost and re-queued by the sweeper."
        ),
    ),
    Setting(
        name="LOST_CALL_POLICY",
        section=PIPELINE,
        type=STRING,
        choices=("requeue", "fail"),
        default="requeue",
        check="face_idcard.E009",
        doc=_(
            "What the sweeper does with an attempt whose worker died during the provider call "
            '(the provider may have answered, and charged, after all): "requeue" calls again '
            '(the person gets a result; the account may pay twice), "fail" records it as '
            "failed with code internal.worker_lost (no second call; the lost call may still be "
            "charged, without a result). Either way the lost call is audited as possibly billed."
        ),
    ),
    Setting(
        name="RATE_LIMIT_CACHE",
        section=PIPELINE,
        type=STRING,
        default="default",
        doc=_("The alias in CACHES that keeps the rate limit (face_idcard.E013)."),
    ),
    Setting(
        name="RATE_LIMIT_MARGIN_SECONDS",
        section=PIPELINE,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        nullable=True,
        default=0.1,
        check="face_idcard.E012",
        doc=_(
            "Seconds added to the one-second window the rate limit is kept over: covers clock "
            "skew between hosts (keep them NTP-synchronised) and the varying delay between "
            "taking a permit and the request reaching the provider."
        ),
    ),
    Setting(
        name="BROKER_MAX_COUNTDOWN_SECONDS",
        section=PIPELINE,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=300,
        check="face_idcard.E007",
        doc=_(
            "A rate-limited attempt whose reserved slot is further ahead than this is parked "
            "in the database (and published by the sweeper when due) rather than held by the "
            "broker: well under Redis' visibility timeout (1 h) and RabbitMQ's consumer "
            "timeout (30 min)."
        ),
    ),
    Setting(
        name="CELERY_QUEUE",
        section=PIPELINE,
        type=STRING,
        nullable=True,
        default=None,
        doc=_("Celery queue for the app's tasks (None: Celery's default queue)."),
    ),
    # --- Limits against enumeration ------------------------------------------------------
    Setting(
        name="MAX_ATTEMPTS_PER_ID_PER_DAY",
        section=LIMITS,
        type=INTEGER,
        minimum=0,
        default=5,
        check="face_idcard.E010",
        doc=_(
            "Attempts at one ID number from one account over the last 24 hours (0: no limit). "
            "An account's attempts do not count against another's: a throwaway account cannot "
            "lock a person out."
        ),
    ),
    Setting(
        name="MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY",
        section=LIMITS,
        type=INTEGER,
        minimum=0,
        default=10,
        check="face_idcard.E010",
        doc=_("Attempts one account may make over the last 24 hours (0: no limit)."),
    ),
    Setting(
        name="MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY",
        section=LIMITS,
        type=INTEGER,
        minimum=0,
        default=3,
        check="face_idcard.E010",
        doc=_(
            "Distinct ID numbers one account may try over the last 24 hours (an account "
            "guessing whose number is whose; 0: no limit)."
        ),
    ),
    Setting(
        name="MAX_ACCOUNTS_PER_ID_PER_DAY",
        section=LIMITS,
        type=INTEGER,
        minimum=0,
        default=3,
        check="face_idcard.E010",
        doc=_(
            "Distinct accounts that may try one ID number over the last 24 hours (0: no "
            "limit); the next is refused and recorded as an abuse event. Staff with "
            "face_idcard.reset_limits restart the count."
        ),
    ),
    Setting(
        name="SHOW_IDENTITY_REASONS_TO_USERS",
        section=LIMITS,
        type=BOOLEAN,
        default=False,
        doc=_(
            "Show every user the detailed reason (name_mismatch, id_not_found, low_similarity) "
            "and its message. Off: a user without face_idcard.review or view_pii is told one "
            'collapsed outcome, "identity not confirmed", which says nothing about which part '
            "did not match."
        ),
    ),
    # --- Personal information ------------------------------------------------------------
    Setting(
        name="PII_ENCRYPTION_KEYS",
        section=PRIVACY,
        type=FERNET_KEYS,
        secret=True,
        default=[],
        check="face_idcard.E006",
        doc=_(
            "Fernet keys (urlsafe base64, 32 bytes), newest first. The first encrypts; all "
            "decrypt. Required when DEBUG is off (system check face_idcard.E005)."
        ),
    ),
    Setting(
        name="PII_HASH_KEYS",
        section=PRIVACY,
        type=LIST,
        secret=True,
        default=[],
        check="face_idcard.E016",
        doc=_(
            "Keys for the keyed hash of ID numbers (look-ups and limits), newest first: the "
            "first hashes, all are matched. Each entry a secret string (its id is its "
            'fingerprint) or {"id": "2025a", "key": "..."}. Never derived from '
            "SECRET_KEY; keep them out of the database and its backups. Required when DEBUG is "
            "off (system check face_idcard.E015)."
        ),
    ),
    Setting(
        name="QUIET_HTTP_LOGGERS",
        section=PRIVACY,
        type=BOOLEAN,
        default=True,
        doc=_(
            "Drop DEBUG records of the HTTP libraries and provider SDKs, which may write "
            "request bodies. Read at start-up."
        ),
    ),
    Setting(
        name="SELFIE_STORAGE",
        section=PRIVACY,
        type=STRING,
        default="default",
        doc=_(
            "The alias in STORAGES for encrypted selfies; never one served publicly "
            "(face_idcard.E014, W004)."
        ),
    ),
    Setting(
        name="SELFIE_UPLOAD_TO",
        section=PRIVACY,
        type=STRING,
        default="face_idcard/selfies",
        doc=_("The folder of the selfies in SELFIE_STORAGE."),
    ),
    Setting(
        name="SELFIE_RETENTION_DAYS",
        section=PRIVACY,
        type=INTEGER,
        unit=DAYS,
        minimum=0,
        default=0,
        check="face_idcard.E008",
        doc=_(
            "Days the selfie is kept after the final decision (the review's, where the attempt "
            "goes to review); 0: deleted as soon as the decision is final (the shortest "
            "retention the 2025 face-recognition rules ask for). Attempts without a decision "
            "(failed, rejected, canceled) keep it until the purge after this many days."
        ),
    ),
    Setting(
        name="PII_RETENTION_DAYS",
        section=PRIVACY,
        type=INTEGER,
        unit=DAYS,
        minimum=0,
        default=180,
        check="face_idcard.E008",
        doc=_("Days after the decision before the encrypted ID number and name are purged."),
    ),
    Setting(
        name="NOTICE_CURRENT_VERSION",
        section=PRIVACY,
        type=STRING,
        default="",
        doc=_(
            "Version of the privacy notice the onboarding page shows and submit records by "
            "default. Its text (naming each backend's company and the transfer over the "
            "Internet) is stored with its SHA-256 the first time the version is used and never "
            "changes: set a new version when a backend of another company is added, or its "
            'attempts are refused. Empty: the version is "auto-" and the start of the text\'s '
            "hash (a new text, a new version)."
        ),
    ),
    Setting(
        name="NOTICE_ACCEPTED_VERSIONS",
        section=PRIVACY,
        type=STRINGS,
        default=[],
        doc=_(
            "Privacy notice versions a client may state it showed (the API refuses any other); "
            "the first is the one the page shows. Empty: [NOTICE_CURRENT_VERSION] when that is "
            "set, else any version passes the API's field (submit still refuses one the site "
            "never showed)."
        ),
    ),
    # --- The 2025 face-recognition measures: filing threshold, non-face alternatives ---------
    Setting(
        name="FILING_THRESHOLD",
        section=PRIVACY,
        type=INTEGER,
        default=100_000,
        check="face_idcard.E050",
        doc=_(
            "People whose stored face information obliges the site to file with the provincial "
            "CAC within 30 working days (Article 15 of the 2025 face-recognition measures). "
            "At least 1."
        ),
    ),
    Setting(
        name="FILING_WARNING_FRACTIONS",
        section=PRIVACY,
        type=NUMBERS,
        default=[0.8, 1.0],
        check="face_idcard.E050",
        doc=_(
            "Fractions of FILING_THRESHOLD at which the app warns (system check W050, the "
            "statistics page, the filing_level_reached signal); each above 0."
        ),
    ),
    Setting(
        name="FILING_HOLIDAYS",
        section=PRIVACY,
        type=STRINGS,
        default=[],
        check="face_idcard.E050",
        doc=_(
            'Public holidays ("YYYY-MM-DD") the filing deadline skips: the app knows none and '
            "counts Monday to Friday in China Standard Time. Left empty, the deadline can be a "
            "day or more off around a holiday."
        ),
    ),
    Setting(
        name="FILING_MAKEUP_WORKDAYS",
        section=PRIVACY,
        type=STRINGS,
        default=[],
        check="face_idcard.E050",
        doc=_(
            'Weekend make-up working days ("YYYY-MM-DD", from the State Council\'s yearly '
            "notice) the filing deadline counts."
        ),
    ),
    Setting(
        name="NON_FACE_ALTERNATIVES",
        section=PRIVACY,
        type=STRINGS,
        default=["document_review"],
        check="face_idcard.E052",
        doc=_(
            "How a person who refuses face verification can verify instead (the 2025 measures: "
            'the face must not be the only way). "document_review": photos of the ID card\'s '
            "two sides, decided by staff. Empty: face only (system check W052)."
        ),
    ),
    # --- Onboarding page -----------------------------------------------------------------
    Setting(
        name="ONBOARDING_CONTINUE_URL",
        section=ONBOARDING,
        type=STRING,
        nullable=True,
        default=None,
        doc=_(
            'Where the page\'s "continue" link leads after a match: a path on this site or a '
            "URL name (None: no link). A URL on another host is ignored (never an open "
            "redirect)."
        ),
    ),
    Setting(
        name="ONBOARDING_GUARDIAN_URL",
        section=ONBOARDING,
        type=STRING,
        nullable=True,
        default=None,
        doc=_(
            "Where the page sends a person under MIN_AGE_YEARS for the site's own "
            "guardian-consent process (a path or URL name; None: the page asks them to contact "
            "the site)."
        ),
    ),
    Setting(
        name="ONBOARDING_FILE_UPLOAD",
        section=ONBOARDING,
        type=SWITCH_OR_AUTO,
        default="auto",
        doc=_(
            'Whether the page offers "choose a photo" beside the camera, and the API accepts an '
            'attempt that says it came from a file (capture_source "file"): True, False, or '
            '"auto" (no file where the alias\'s LIVENESS is "require"). The server cannot tell '
            "a camera frame from a file: this refuses only what a client says."
        ),
    ),
    # --- REST API ------------------------------------------------------------------------
    Setting(
        name="API_PERMISSION_CLASSES",
        section=API,
        type=IMPORTABLES,
        nullable=True,
        default=None,
        doc=_(
            "Dotted paths of the DRF permission classes of every API view (None: IsAuthenticated)."
        ),
    ),
    Setting(
        name="API_CREATE_THROTTLE_RATE",
        section=API,
        type=RATE,
        nullable=True,
        default="30/min",
        doc=_(
            'Rate of the "face_idcard_create" throttle scope when REST_FRAMEWORK\'s '
            'DEFAULT_THROTTLE_RATES does not set it (DRF\'s "number/period"; None: no '
            "throttle)."
        ),
    ),
    Setting(
        name="API_EXPOSE_SIMILARITY",
        section=API,
        type=BOOLEAN,
        default=False,
        doc=_(
            "Show the raw similarity score to everyone (it helps an attacker tune a forged "
            "photo). Off: only users with face_idcard.review see it."
        ),
    ),
    Setting(
        name="API_ACCEPT_GUARDIAN_CONSENT",
        section=API,
        type=BOOLEAN,
        default=False,
        doc=_(
            'Accept "guardian_consent" from API clients. Off: a client is usually the child\'s '
            "own device, and a boolean it sends is no evidence that a guardian consented; the "
            "host's own guardian flow passes guardian_consent to services.submit instead. A "
            "user holding face_idcard.attest_guardian_consent may send it whatever this says."
        ),
    ),
    Setting(
        name="API_URL_FAILURE_BUDGET",
        section=API,
        type=RATE,
        nullable=True,
        default="10/hour",
        doc=_(
            'Photo urls refused as not public or unresolvable, per account ("number/period"; '
            "None: no budget): over it, url submissions answer 429 until the window ends."
        ),
    ),
    Setting(
        name="IDEMPOTENCY_TTL_HOURS",
        section=API,
        type=INTEGER,
        unit=HOURS,
        minimum=1,
        default=24,
        check="face_idcard.E010",
        doc=_("Hours an Idempotency-Key is remembered."),
    ),
    Setting(
        name="IDEMPOTENCY_KEY",
        section=API,
        type=STRING,
        secret=True,
        default="",
        doc=_(
            "The HMAC key of idempotency fingerprints. Empty: derived from the newest PII hash key."
        ),
    ),
    # --- Outbound webhooks ---------------------------------------------------------------
    Setting(
        name="WEBHOOK_ALLOW_PRIVATE",
        section=WEBHOOKS,
        type=BOOLEAN,
        default=False,
        doc=_(
            "Allow webhook endpoints on loopback, private, link-local... addresses (and names "
            "resolving to them). Off: a staff user must not make the workers probe an inner "
            "network."
        ),
    ),
    Setting(
        name="WEBHOOK_TIMEOUT_SECONDS",
        section=WEBHOOKS,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=15.0,
        check="face_idcard.E007",
        doc=_(
            "Seconds a receiver has to answer a delivery (the TCP connection: CONNECT_TIMEOUT_SECONDS)."
        ),
    ),
    Setting(
        name="WEBHOOK_RETRY_SCHEDULE_SECONDS",
        section=WEBHOOKS,
        type=NUMBERS,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=[5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
        check="face_idcard.E007",
        doc=_(
            "Seconds after a failed delivery attempt before the next (the first try is at "
            "once); each wait gets up to a tenth of jitter. Past the last, the delivery is "
            "failed."
        ),
    ),
    Setting(
        name="WEBHOOK_DISABLE_AFTER_FAILURES",
        section=WEBHOOKS,
        type=INTEGER,
        minimum=1,
        nullable=True,
        default=100,
        check="face_idcard.E010",
        doc=_(
            "Failed delivery attempts in a row after which an endpoint is disabled (None: never)."
        ),
    ),
    Setting(
        name="WEBHOOK_RESPONSE_MAX_BYTES",
        section=WEBHOOKS,
        type=INTEGER,
        unit=BYTES,
        minimum=1,
        default=4096,
        check="face_idcard.E010",
        doc=_("Bytes of a receiver's answer read at most (the rest is never downloaded)."),
    ),
    Setting(
        name="WEBHOOK_LEASE_SECONDS",
        section=WEBHOOKS,
        type=NUMBER,
        unit=SECONDS,
        minimum=0,
        minimum_exclusive=True,
        default=60,
        check="face_idcard.E007",
        doc=_(
            "Seconds a worker's claim on a delivery lasts; once expired (the worker died), the "
            "periodic task delivers again, with the same webhook-id. Above the timeouts."
        ),
    ),
    Setting(
        name="WEBHOOK_INCLUDE_SIMILARITY",
        section=WEBHOOKS,
        type=BOOLEAN,
        default=False,
        doc=_(
            "Put the similarity score in the payloads (it helps an attacker tune a forged photo)."
        ),
    ),
    Setting(
        name="WEBHOOK_RETENTION_DAYS",
        section=WEBHOOKS,
        type=INTEGER,
        unit=DAYS,
        minimum=0,
        default=30,
        check="face_idcard.E010",
        doc=_("Days delivery rows (and their messages) are kept; purge removes older ones."),
    ),
)

#: Name -> declaration.
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}
#: Name -> default: the lazy settings object's defaults.
DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}
#: The generic keys every alias of BACKENDS may set.
PER_ALIAS: tuple[str, ...] = tuple(setting.name for setting in SETTINGS if setting.per_alias)


def declared(name: str) -> Setting:
    """The declaration of ``name`` (KeyError: nobody declares it)."""
    return BY_NAME[name]


def closest_name(key: str, known: Iterable[str]) -> str | None:
    """What an undeclared ``key`` was probably meant to be: its new name when it was renamed,
    else the closest declared name (difflib), else None."""
    known = list(known)
    renamed = RENAMED.get(key)
    if renamed in known:
        return renamed
    matches = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return matches[0] if matches else None
