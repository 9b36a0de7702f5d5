"""Settings for face_idcard: one ``FACE_IDCARD`` dict in the host site's settings.

Modelled on DRF's ``api_settings``: every key has a default, values are read lazily on first
use (never frozen at import, so ``override_settings`` works) and the cache is dropped when
``FACE_IDCARD`` changes. Credentials may also come from the environment, so they need not be
written into a settings file.

Usage::

    from face_idcard.conf import face_idcard_settings
    face_idcard_settings.THRESHOLD
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "FACE_IDCARD"

#: Keys that fall back to an environment variable ``FACE_IDCARD_<KEY>`` when not in settings.
ENV_KEYS = ("APPID", "SECRET_ID", "SECRET_KEY", "BUCKET", "ENDPOINT", "SIMULATOR_URL")

DEFAULTS: dict[str, Any] = {
    # --- Provider ----------------------------------------------------------------------
    # Backends by alias, like Django's CACHES (see face_idcard.backends.config): each alias a
    # dict with "BACKEND" (a built-in name or a dotted path) and its credentials, "ENDPOINT",
    # "REGION", "THRESHOLD", "REVIEW_BAND", "RATE_LIMIT_PER_SECOND", timeouts. None: the flat
    # keys below make one backend whose alias is the BACKEND value.
    "BACKENDS": None,
    # The alias new attempts use. None: "default" with BACKENDS, else the BACKEND value.
    "DEFAULT_BACKEND": None,
    # Without BACKENDS: which backend the pipeline calls: "legacy" (idcardcompare),
    # "simulator" (the same client pointed at SIMULATOR_URL), or a dotted path.
    "BACKEND": "legacy",
    # Legacy API account (env: FACE_IDCARD_APPID, FACE_IDCARD_SECRET_ID, FACE_IDCARD_SECRET_KEY).
    "APPID": "",
    "SECRET_ID": "",
    "SECRET_KEY": "",
    "BUCKET": "",
    "ENDPOINT": "https://recognition.image.myqcloud.com",
    # Where the "simulator" backend sends its calls; these are the simulator's default account.
    "SIMULATOR_URL": "http://127.0.0.1:8701",
    # Seconds to wait for the TCP connection and for the response.
    "CONNECT_TIMEOUT": 3.05,
    "READ_TIMEOUT": 15.0,
    # Lifetime of each request signature, seconds (Tencent allows up to 90 days; keep it short).
    "SIGNATURE_LIFETIME": 300,
    # Pooled HTTP connections per process to the provider: at least the worker's thread count.
    "HTTP_POOL_MAXSIZE": 10,
    # --- Decision ------------------------------------------------------------------------
    # Similarity (0..100) at or above which a photo matches. None: the backend's default
    # (75 for legacy, per Tencent's recommendation; 70 for FaceID V2).
    "THRESHOLD": None,
    # Scores within this many points of the threshold (either side) go to human review.
    # 0 disables the review band.
    "REVIEW_BAND": 5.0,
    # --- Input ---------------------------------------------------------------------------
    "NAME_MIN_LENGTH": 2,
    "NAME_MAX_LENGTH": 30,
    # Allow Latin letters in names (some foreigners' permanent residence cards); off by default.
    "NAME_ALLOW_LATIN": False,
    "IMAGE_MIN_SIDE": 64,
    "IMAGE_MAX_SIDE": 4096,
    # Decoded pixels above which an image is refused before decoding (decompression bombs).
    "IMAGE_MAX_PIXELS": 40_000_000,
    # Largest upload accepted from a client, bytes, before any re-encoding.
    "UPLOAD_MAX_BYTES": 15 * 1024 * 1024,
    "URL_MAX_LENGTH": 2048,
    # --- Pipeline ------------------------------------------------------------------------
    # Transient failures are retried this many times with exponential backoff and jitter.
    "MAX_RETRIES": 5,
    "RETRY_BACKOFF_BASE": 2.0,
    "RETRY_BACKOFF_MAX": 300.0,
    # A worker's claim on an attempt lapses after this many seconds; the sweeper re-queues it.
    "CLAIM_LEASE_SECONDS": 120,
    # A queued attempt untouched for this long is considered lost and re-queued by the sweeper.
    "QUEUED_STALE_SECONDS": 600,
    # What the sweeper does with an attempt whose worker died during the provider call (the
    # provider may have answered, and charged, after all): "requeue" calls again (the person
    # gets a result; the account may pay twice), "fail" records it as failed with code
    # internal.worker_lost (never a second charge; the person starts a new attempt).
    "LOST_CALL_POLICY": "requeue",
    # Provider requests per second shared by all workers (None: no limit). Uses Django's cache.
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
    "MAX_ATTEMPTS_PER_ID_PER_DAY": 5,
    "MAX_ATTEMPTS_PER_USER_PER_DAY": 10,
    # --- Personal information ---------------------------------------------------------------
    # Fernet keys (urlsafe base64, 32 bytes), newest first. The first encrypts; all decrypt.
    # Required when DEBUG is off (system check face_idcard.E004).
    "PII_ENCRYPTION_KEYS": [],
    # Key for the keyed hash of ID numbers (lookups and limits). Empty: derived from SECRET_KEY.
    "PII_HASH_KEY": "",
    # Django storage alias (Django >= 4.2 STORAGES) for encrypted selfies; never served publicly.
    "SELFIE_STORAGE": "default",
    "SELFIE_UPLOAD_TO": "face_idcard/selfies",
    # Days after the decision before selfies, then the encrypted ID number and name, are purged.
    "SELFIE_RETENTION_DAYS": 7,
    "PII_RETENTION_DAYS": 180,
    # Version of the privacy notice the end user consented to (stored with each attempt).
    "NOTICE_VERSION": "",
    # Mask style for display: "default" hides the county and the birth date
    # (1101**********002X); see face_idcard.masking.
    "ID_MASK": "default",
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
        if attr in user:
            value = user[attr]
        elif attr in ENV_KEYS and os.environ.get(f"FACE_IDCARD_{attr}"):
            value = os.environ[f"FACE_IDCARD_{attr}"]
        else:
            value = self.defaults[attr]
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
