"""What became of the setting names the development versions used (none was released).

Read by the system checks: a key of an old name is an undeclared key (face_idcard.E019, or
E018 in an alias of ``BACKENDS``) whose hint names its new name, or says where a removed key
went. ``CHANGELOG.rst`` holds the same table for people ("Renamed settings").
"""

from __future__ import annotations

from collections.abc import Mapping

#: Old name -> new name. The new names follow three rules: the unit is always the last word
#: (``_SECONDS``, ``_PIXELS``, ``_CHARS``); MIN and MAX come right after the topic and before
#: what they bound (``IMAGE_MAX_PIXELS``, ``RETRY_MAX_COUNT``); one word for one thing
#: (an account, never "user" beside "account"; no singular/plural twins).
RENAMED: Mapping[str, str] = {
    "CONNECT_TIMEOUT": "CONNECT_TIMEOUT_SECONDS",
    "READ_TIMEOUT": "READ_TIMEOUT_SECONDS",
    "RETRY_BACKOFF_BASE": "RETRY_BACKOFF_BASE_SECONDS",
    "RETRY_BACKOFF_MAX": "RETRY_BACKOFF_MAX_SECONDS",
    "OUTAGE_RETRY_BACKOFF_BASE": "OUTAGE_RETRY_BACKOFF_BASE_SECONDS",
    "OUTAGE_RETRY_BACKOFF_MAX": "OUTAGE_RETRY_BACKOFF_MAX_SECONDS",
    "RATE_LIMIT_MARGIN": "RATE_LIMIT_MARGIN_SECONDS",
    "WEBHOOK_RETRY_SCHEDULE": "WEBHOOK_RETRY_SCHEDULE_SECONDS",
    "SIGNATURE_LIFETIME": "SIGNATURE_LIFETIME_SECONDS",
    "IMAGE_MIN_SIDE": "IMAGE_MIN_SIDE_PIXELS",
    "IMAGE_MAX_SIDE": "IMAGE_MAX_SIDE_PIXELS",
    "NAME_MIN_LENGTH": "NAME_MIN_CHARS",
    "NAME_MAX_LENGTH": "NAME_MAX_CHARS",
    "URL_MAX_LENGTH": "URL_MAX_CHARS",
    "MINIMUM_AGE": "MIN_AGE_YEARS",
    "MAX_RETRIES": "RETRY_MAX_COUNT",
    "MAX_BROKER_COUNTDOWN_SECONDS": "BROKER_MAX_COUNTDOWN_SECONDS",
    "HTTP_POOL_MAXSIZE": "HTTP_POOL_MAX_CONNECTIONS",
    "ABUSE_MISMATCH_BURST": "ABUSE_MAX_MISMATCHES_PER_HOUR",
    "MAX_ATTEMPTS_PER_USER_PER_DAY": "MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY",
    "MAX_ID_NUMBERS_PER_USER_PER_DAY": "MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY",
    "NOTICE_VERSION": "NOTICE_CURRENT_VERSION",
    "NOTICE_VERSIONS": "NOTICE_ACCEPTED_VERSIONS",
}

_PROVIDER_OPTION = "provider options are set in an alias of BACKENDS (DEFAULT_BACKEND names it)."

#: Keys the development versions read that are gone, and what to do instead.
REMOVED: Mapping[str, str] = {
    "BACKEND": _PROVIDER_OPTION,
    "APPID": _PROVIDER_OPTION,
    "SECRET_ID": _PROVIDER_OPTION,
    "SECRET_KEY": _PROVIDER_OPTION,
    "BUCKET": _PROVIDER_OPTION,
    "ENDPOINT": _PROVIDER_OPTION,
    "SIMULATOR_URL": _PROVIDER_OPTION,
    "SIGNATURE_LIFETIME": _PROVIDER_OPTION,
    "ID_MASK": "nothing read it; the masks are fixed.",
}
