"""Settings for face_idcard: one ``FACE_IDCARD`` dict in the host site's settings.

Modelled on DRF's ``api_settings``: every key has a default, values are read lazily on first
use (never frozen at import, so ``override_settings`` works) and the cache is dropped when
``FACE_IDCARD`` changes. Secrets are read from the environment by the settings file itself
(:func:`secret_from_env`), never by the app behind its back.

Usage::

    from face_idcard.conf import face_idcard_settings
    face_idcard_settings.RETRY_WINDOW_MINUTES
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "FACE_IDCARD"

DEFAULTS: dict[str, Any] = {
    # --- Backends ------------------------------------------------------------------------
    # Backends by alias, like Django's CACHES (see face_idcard.backends.config): each alias a
    # dict with "BACKEND" (a built-in name or a dotted path to a Backend subclass), the options
    # its backend class declares (credentials, endpoint ...) and, optionally, the generic keys
    # THRESHOLD, REVIEW_BAND, RATE_LIMIT_PER_SECOND, CONNECT_TIMEOUT, READ_TIMEOUT,
    # HTTP_POOL_MAXSIZE, LIVENESS and LIVENESS_FAILURE, which otherwise come from the site-wide
    # keys of the same name below.
    "BACKENDS": {},
    # The alias new attempts use.
    "DEFAULT_BACKEND": "default",
    # A development-only backend (the simulator) with DEBUG off is an Error unless this is
    # True: for a staging site that must never see a real person.
    "ALLOW_DEVELOPMENT_BACKENDS": False,
    # `check --deploy` refuses a backend endpoint on a loopback address unless this is True:
    # for a private deployment that reaches its provider through a local proxy, on purpose.
    "ALLOW_LOOPBACK_ENDPOINTS": False,
    # Site-wide defaults of the generic per-alias keys:
    # seconds to wait for the TCP connection and for the response,
    "CONNECT_TIMEOUT": 3.05,
    "READ_TIMEOUT": 15.0,
    # pooled HTTP connections per process to the provider (at least the worker's thread count).
    "HTTP_POOL_MAXSIZE": 10,
    # --- Decision ------------------------------------------------------------------------
    # Liveness (whether the photo came from a live person), site-wide defaults of the generic
    # per-alias keys of the same name (docs/liveness.rst): "off" (nothing asked or decided on
    # it), "record" (checked where the provider can, stored, never decided on) or "require"
    # (an attempt without a passing verdict is no match: LIVENESS_FAILURE says whether it goes
    # to "review" or is "refuse"d). Checked by face_idcard.E040/E041.
    "LIVENESS": "off",
    "LIVENESS_FAILURE": "review",
    # Similarity (0..100) at or above which a photo matches. None: the default of each
    # alias's backend class (its provider's recommendation).
    "THRESHOLD": None,
    # Scores within this many points of the threshold (either side) go to human review.
    # 0 disables the review band.
    "REVIEW_BAND": 5.0,
    # When True, a reviewer who overturns a machine "no match" (to match) only records a
    # pending first review; a second, different reviewer completes it (services.review).
    "REVIEW_OVERTURN_NEEDS_SECOND_REVIEWER": True,
    # Share (0..1) of decided attempts, of every score, also sent to review as an audit
    # sample: the threshold calibration's unbiased population. 0 disables it.
    "REVIEW_AUDIT_SAMPLE_RATE": 0.0,
    # Abuse signals (face_idcard.insight.abuse), from the keyed hashes only: an account
    # trying more than this many distinct ID numbers within ABUSE_WINDOW_HOURS ...
    "ABUSE_MAX_ID_NUMBERS_PER_ACCOUNT": 3,
    "ABUSE_WINDOW_HOURS": 24,
    # ... or this many name/number mismatches within one clock hour.
    "ABUSE_MISMATCH_BURST": 3,
    # ID number searches a staff user may make in the admin ("number/period"; None: no limit).
    "ADMIN_ID_SEARCH_RATE": "30/hour",
    # Seconds the admin's link to a selfie stays valid after the audited reveal that issued
    # it (for the viewer's own session only): long enough for the page to load the image.
    "ADMIN_SELFIE_LINK_SECONDS": 120,
    # --- Input ---------------------------------------------------------------------------
    # ID numbers with a birth year before this are refused (no such person is alive; a
    # typo or a made-up number, and the provider would bill the call).
    "ID_EARLIEST_BIRTH_YEAR": 1900,
    # Age in full years below which submit refuses a person unless the caller states that a
    # guardian consented (PIPL Art. 31: under 14, the guardian's consent is required).
    # 0: no minimum age.
    "MINIMUM_AGE": 14,
    # Seconds a consent time may lie in the future (clocks of the hosts drift apart).
    "CONSENT_CLOCK_SKEW_SECONDS": 300,
    "NAME_MIN_LENGTH": 2,
    "NAME_MAX_LENGTH": 30,
    # Allow Latin letters in names (some foreigners' permanent residence cards); off by default.
    "NAME_ALLOW_LATIN": False,
    "IMAGE_MIN_SIDE": 64,
    "IMAGE_MAX_SIDE": 4096,
    # Decoded pixels above which an image is refused before decoding (decompression bombs).
    "IMAGE_MAX_PIXELS": 25_000_000,  # a phone's full-resolution photo (24 MP) fits
    # Largest upload accepted from a client, bytes, before any re-encoding.
    "UPLOAD_MAX_BYTES": 15 * 1024 * 1024,
    "URL_MAX_LENGTH": 2048,
    # Allow photo urls that point at loopback, private, link-local... addresses (and names
    # resolving to them). Off: the provider must never be made to fetch from inside a network.
    # Only for a private deployment whose provider and image server share such a network.
    "URL_ALLOW_PRIVATE": False,
    # Dotted path to a callable host -> iterable of address strings used to resolve url host
    # names (None: the system resolver). Raises OSError when the name does not resolve.
    "URL_RESOLVER": None,
    # Seconds a url host lookup may take (off the request thread) before the url is refused
    # as unresolvable: a slow DNS server must not hold a web worker.
    "URL_RESOLVE_TIMEOUT_SECONDS": 2.0,
    # Seconds a name that did not resolve (or not in time) is refused at once, per process.
    "URL_UNRESOLVABLE_CACHE_SECONDS": 60,
    # --- Pipeline ------------------------------------------------------------------------
    # Transient failures (a provider down, a timeout, a rate-limit answer) are retried with
    # exponential backoff and jitter for this many minutes after the first one; so is an
    # attempt waiting for a provider the circuit breaker holds off (services._retries).
    "RETRY_WINDOW_MINUTES": 15,
    # Before the window existed, the retry budget was this count (default 5). None (now the
    # default): the window alone. A whole number still caps the transient retries as well.
    "MAX_RETRIES": None,
    "RETRY_BACKOFF_BASE": 2.0,
    "RETRY_BACKOFF_MAX": 300.0,
    # A run that meets an outage of the database, the cache or the broker is delivered again
    # after a backoff with jitter, from this base doubling up to this cap (seconds), until the
    # outage ends: never counted as a retry nor recorded as a failure (face_idcard.outages).
    "OUTAGE_RETRY_BACKOFF_BASE": 1.0,
    "OUTAGE_RETRY_BACKOFF_MAX": 10.0,
    # The circuit breaker of each alias, shared by all workers through the database
    # (services._breaker): this many calls in a row finding the provider down open it ...
    "BREAKER_FAILURE_THRESHOLD": 5,
    # ... and while it is open one call (a probe) goes to the provider every this many
    # seconds; the other attempts wait (retry_wait, reason provider_unavailable) without
    # calling, and run again once a probe finds the provider back.
    "BREAKER_PROBE_INTERVAL_SECONDS": 10,
    # A worker's claim on an attempt lapses after this many seconds; the sweeper re-queues it.
    "CLAIM_LEASE_SECONDS": 120,
    # A queued attempt untouched for this long is considered lost and re-queued by the sweeper.
    "QUEUED_STALE_SECONDS": 600,
    # What the sweeper does with an attempt whose worker died during the provider call (the
    # provider may have answered, and charged, after all): "requeue" calls again (the person
    # gets a result; the account may pay twice: measured, 2 of 7 calls in flight, 7 of 1,600
    # attempts under faults), "fail" records it as failed with code internal.worker_lost (no
    # second call; the lost call may still be charged, without a result). Either way the
    # lost call is audited as possibly billed (a possibly_billed event).
    "LOST_CALL_POLICY": "requeue",
    # Provider requests per second shared by all workers, per alias (None: no limit). Uses
    # Django's cache.
    "RATE_LIMIT_PER_SECOND": None,
    "RATE_LIMIT_CACHE": "default",
    # Seconds added to the one-second window the limit is kept over (face_idcard.ratelimit):
    # covers clock skew between hosts (keep them NTP-synchronised) and the varying delay
    # between taking a permit and the request reaching the provider.
    "RATE_LIMIT_MARGIN": 0.1,
    # A rate-limited attempt whose reserved slot is further ahead than this is parked in the
    # database (and published by the sweeper when due) rather than held by the broker: well
    # under Redis' visibility timeout (1 h) and RabbitMQ's consumer timeout (30 min).
    "MAX_BROKER_COUNTDOWN_SECONDS": 300,
    # Celery queue for the task (None: Celery's default queue).
    "CELERY_QUEUE": None,
    # --- Limits against enumeration --------------------------------------------------------
    # Every limit counts over the last 24 hours (0: no limit; face_idcard.services._limits).
    # Attempts at one ID number from one account (an account's attempts do not count against
    # another's: a throwaway account cannot lock a person out).
    "MAX_ATTEMPTS_PER_ID_PER_DAY": 5,
    "MAX_ATTEMPTS_PER_USER_PER_DAY": 10,
    # Distinct ID numbers one account may try (an account guessing whose number is whose).
    "MAX_ID_NUMBERS_PER_USER_PER_DAY": 3,
    # Distinct accounts that may try one ID number; the next is refused and recorded as an
    # abuse event (LimitEvent). Staff with face_idcard.reset_limits restart the count.
    "MAX_ACCOUNTS_PER_ID_PER_DAY": 3,
    # Show every user the detailed reason (name_mismatch, id_not_found, low_similarity) and
    # its message. Off: a user without face_idcard.review or view_pii is told one collapsed
    # outcome, "identity not confirmed", which says nothing about which part did not match.
    "SHOW_IDENTITY_REASONS_TO_USERS": False,
    # --- Personal information ---------------------------------------------------------------
    # Fernet keys (urlsafe base64, 32 bytes), newest first. The first encrypts; all decrypt.
    # Required when DEBUG is off (system check face_idcard.E005).
    "PII_ENCRYPTION_KEYS": [],
    # Keys for the keyed hash of ID numbers (look-ups and limits), newest first: the first
    # hashes, all are matched. Each entry a secret string (its id is its fingerprint) or
    # {"id": "2025a", "key": "..."}. Never derived from SECRET_KEY; keep them out of the
    # database and its backups. Required when DEBUG is off (system check face_idcard.E015).
    "PII_HASH_KEYS": [],
    # Drop DEBUG records of the HTTP libraries and provider SDKs, which may write request
    # bodies (face_idcard.logfilters). Read at start-up.
    "QUIET_HTTP_LOGGERS": True,
    # Django storage alias (Django >= 4.2 STORAGES) for encrypted selfies; never served publicly.
    "SELFIE_STORAGE": "default",
    "SELFIE_UPLOAD_TO": "face_idcard/selfies",
    # Days the selfie is kept after the final decision (the review's, where the attempt goes
    # to review); 0: deleted as soon as the decision is final (the shortest retention the
    # 2025 face-recognition rules ask for). Attempts without a decision (failed, rejected,
    # canceled) keep it until the purge after this many days.
    "SELFIE_RETENTION_DAYS": 0,
    # Days after the decision before the encrypted ID number and name are purged.
    "PII_RETENTION_DAYS": 180,
    # Version of the privacy notice the end user consented to (stored with each attempt).
    "NOTICE_VERSION": "",
    # Privacy notice versions a client may state it showed (the API refuses any other). Empty:
    # [NOTICE_VERSION] when that is set, else any version is accepted.
    "NOTICE_VERSIONS": [],
    # Mask style for display: "default" hides the county and the birth date
    # (1101**********002X); see face_idcard.masking.
    "ID_MASK": "default",
    # --- Onboarding page (face_idcard.onboarding) ------------------------------------------
    # Where the page's "continue" link leads after a match: a path on this site or a URL name
    # (None: no link). A URL on another host is ignored (never an open redirect).
    "ONBOARDING_CONTINUE_URL": None,
    # Where the page sends a person under MINIMUM_AGE for the site's own guardian-consent
    # process (a path or URL name; None: the page asks them to contact the site).
    "ONBOARDING_GUARDIAN_URL": None,
    # Whether the page offers "choose a photo" beside the camera, and the API accepts an
    # attempt that says it came from a file (capture_source "file"): True, False, or "auto"
    # (no file where the alias's LIVENESS is "require"). The server cannot tell a camera frame
    # from a file; this refuses only what a client says (face_idcard.capture).
    "ONBOARDING_FILE_UPLOAD": "auto",
    # --- REST API (face_idcard.api, the [drf] extra) -------------------------------------
    # Dotted paths of the DRF permission classes of every API view (None: IsAuthenticated).
    "API_PERMISSION_CLASSES": None,
    # Rate of the "face_idcard_create" throttle scope when REST_FRAMEWORK's
    # DEFAULT_THROTTLE_RATES does not set it (DRF's "number/period"; None: no throttle).
    "API_CREATE_THROTTLE_RATE": "30/min",
    # Show the raw similarity score to everyone (it helps an attacker tune a forged photo):
    # off, only users with face_idcard.review see it.
    "API_EXPOSE_SIMILARITY": False,
    # Accept "guardian_consent" from API clients. Off: a client is usually the child's own
    # device, and a boolean it sends is no evidence that a guardian consented; the host's own
    # guardian flow passes guardian_consent to services.submit instead.
    # A user holding face_idcard.attest_guardian_consent may send it whatever this says,
    # after the site's own guardian flow (a support desk, a guardian's account).
    "API_ACCEPT_GUARDIAN_CONSENT": False,
    # Photo urls refused as not public or unresolvable, per account ("number/period"; None:
    # no budget): over it, url submissions answer 429 until the window ends.
    "API_URL_FAILURE_BUDGET": "10/hour",
    # Hours an Idempotency-Key is remembered.
    "IDEMPOTENCY_TTL_HOURS": 24,
    # The HMAC key of idempotency fingerprints. "": derived from the newest PII hash key.
    "IDEMPOTENCY_KEY": "",
    # --- Outbound webhooks (face_idcard.webhooks) -------------------------------------------
    # Allow webhook endpoints on loopback, private, link-local... addresses (and names
    # resolving to them). Off: a staff user must not make the workers probe an inner network.
    "WEBHOOK_ALLOW_PRIVATE": False,
    # Seconds a receiver has to answer a delivery (the TCP connection: CONNECT_TIMEOUT).
    "WEBHOOK_TIMEOUT_SECONDS": 15.0,
    # Seconds after a failed delivery attempt before the next (the first try is at once);
    # each wait gets up to a tenth of jitter. Past the last, the delivery is failed.
    "WEBHOOK_RETRY_SCHEDULE": [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
    # Failed delivery attempts in a row after which an endpoint is disabled (None: never).
    "WEBHOOK_DISABLE_AFTER_FAILURES": 100,
    # Bytes of a receiver's answer read at most (the rest is never downloaded).
    "WEBHOOK_RESPONSE_MAX_BYTES": 4096,
    # Seconds a worker's claim on a delivery lasts; once expired (the worker died), the
    # periodic task delivers again, with the same webhook-id. Above the timeouts.
    "WEBHOOK_LEASE_SECONDS": 60,
    # Put the similarity score in the payloads (it helps an attacker tune a forged photo).
    "WEBHOOK_INCLUDE_SIMILARITY": False,
    # Days delivery rows (and their messages) are kept; purge removes older ones.
    "WEBHOOK_RETENTION_DAYS": 30,
}


class FaceIdcardSettings:
    """Attribute access to ``FACE_IDCARD`` with defaults, read on first use and cached.

    Thread-safe against reloads: a value computed from settings that changed meanwhile (a
    worker thread reading while a test overrides FACE_IDCARD) is returned but never cached.
    """

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults if defaults is not None else DEFAULTS
        self._cached: set[str] = set()
        self._user: dict[str, Any] | None = None
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def user_settings(self) -> dict[str, Any]:
        user = self._user
        if user is None:
            generation = self._generation
            value = getattr(django_settings, SETTING_NAME, None) or {}
            if not isinstance(value, dict):
                raise TypeError(f"settings.{SETTING_NAME} must be a dict")
            with self._lock:
                if generation == self._generation:
                    self._user = value
            user = value
        return user

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or attr not in self.defaults:
            raise AttributeError(f"Invalid face_idcard setting: {attr!r}")
        generation = self._generation
        user = self.user_settings
        value = user[attr] if attr in user else self.defaults[attr]
        with self._lock:
            if generation == self._generation:
                self._cached.add(attr)
                setattr(self, attr, value)
        return value

    def unknown_keys(self) -> list[str]:
        return sorted(set(self.user_settings) - set(self.defaults))

    def reload(self) -> None:
        with self._lock:
            self._generation += 1
            for attr in self._cached:
                self.__dict__.pop(attr, None)
            self._cached.clear()
            self._user = None


face_idcard_settings = FaceIdcardSettings(DEFAULTS)


@receiver(setting_changed)
def _reload_face_idcard_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        face_idcard_settings.reload()


#: How to make a value for :func:`secret_from_env`: a Fernet key, which is also a good hash key.
KEYGEN_COMMAND = "python -m face_idcard.crypto"


# Defined with the other public exceptions; importable from here too.
from .exceptions import MissingSecret as MissingSecret  # noqa: E402


def secret_from_env(name: str) -> str:
    """The value of the environment variable ``name``, for a settings file.

    Missing or blank, it raises :class:`MissingSecret` naming the variable and the command that
    generates a value, so a site started without its secrets stops at once with a clear
    message instead of a ``KeyError``. The message never contains a value.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSecret(
            f"The environment variable {name} is not set. Generate a value with "
            f"`{KEYGEN_COMMAND}`, keep it in your secret store (never in the "
            f"repository) and export it as {name} before starting the site."
        )
    return value
