"""A small site that installs face_idcard. Development settings: never deploy these.

Secrets come from the environment (``DJANGO_SECRET_KEY``, ``FACE_IDCARD_PII_KEY``,
``FACE_IDCARD_PII_HASH_KEY``). With ``DJANGO_DEBUG`` on (the default, the demo) a missing one
takes a development value that the repository publishes; with it off the site refuses to start
until every one is set (and system check face_idcard.E031 refuses the published values).

Everything comes from the environment, with defaults that need no server: SQLite and kombu's
filesystem transport, both in a ``var/`` folder (``EXAMPLE_VAR_DIR``, default
``example_project/var``). ``DATABASE_URL`` (``postgres://…``, ``mysql://…``) and
``CELERY_BROKER_URL`` (``redis://…``, ``amqp://…``) switch to PostgreSQL or MySQL/MariaDB and
Redis or RabbitMQ.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
#: The database, the broker's folders and the media of the default set-up (git ignores it).
VAR_DIR = Path(os.environ.get("EXAMPLE_VAR_DIR") or BASE_DIR / "var").resolve()
DEBUG = os.environ.get("DJANGO_DEBUG", "1").lower() in ("1", "true", "yes", "on")
#: Secret variables that are unset while DEBUG is off (checked at the end of this file).
_MISSING_SECRETS: list[str] = []


def _secret(variable: str, development_value: str) -> str:
    """The environment's value; in DEBUG only, else the published development value."""
    value = os.environ.get(variable, "")
    if value:
        return value
    if not DEBUG:
        _MISSING_SECRETS.append(variable)
    return development_value


SECRET_KEY = _secret("DJANGO_SECRET_KEY", "example-site-development-only")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "face_idcard",
    "demo",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "example_site.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def _database_from_url(url: str) -> dict[str, object]:
    """``postgres://user:password@host:port/name``, ``mysql://…`` (MySQL or MariaDB, through
    mysqlclient) or ``sqlite:///path`` (DATABASE_URL)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parts.path[1:]) or ":memory:",
        }
    # A server's database: the same fields from the URL whichever engine serves it.
    server = {
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }
    if parts.scheme in ("postgres", "postgresql"):
        return {"ENGINE": "django.db.backends.postgresql", **server}
    if parts.scheme in ("mysql", "mariadb"):
        # Four-byte UTF-8 (names in rare characters); docs/databases.rst says why.
        return {"ENGINE": "django.db.backends.mysql", **server, "OPTIONS": {"charset": "utf8mb4"}}
    raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r}")


DATABASES = {
    "default": _database_from_url(os.environ["DATABASE_URL"])
    if os.environ.get("DATABASE_URL")
    else {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
        # The worker, beat and the web server write at once: wait for the lock, not fail.
        "OPTIONS": {"timeout": 20},
    }
}
# Connections kept for a minute and checked before each reuse, in a request or a face_idcard
# task (whose tasks call close_old_connections() around each one): a database restart, a
# failover or a killed session costs a retry, never a worker restart (docs/databases.rst).
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "media")},
    },
    # Encrypted selfies: a folder that no web server serves (FACE_IDCARD["SELFIE_STORAGE"]).
    "face_idcard": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "private"), "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Celery: CELERY_BROKER_URL (Redis, RabbitMQ), else kombu's filesystem transport in VAR_DIR:
# a real worker process with no broker server. That transport deletes a message when a worker
# fetches it, so a worker killed hard loses what it held; the sweeper (beat, every minute)
# finds those attempts in the database and queues them again.
# (filesystem-atomic: kombu's transport with atomic publishing, see example_site/broker.py.)
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem-atomic://"
if CELERY_BROKER_URL.startswith("filesystem"):
    from . import broker  # noqa: F401  (registers the filesystem-atomic:// transport)

    _BROKER_DIR = VAR_DIR / "broker"
    for _folder in ("queue", "processed"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": float(os.environ.get("EXAMPLE_BROKER_POLLING_INTERVAL", "0.1")),
    }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A message a worker held when Redis went away stays in Redis's unacked set and comes
    # back after the visibility timeout (docs/operations.rst: kombu's own hand-back fails
    # while Redis is down). Longer than a healthy worker holds one: the longest broker
    # countdown (BROKER_MAX_COUNTDOWN_SECONDS, 300) plus the prefetched calls before it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("EXAMPLE_BROKER_VISIBILITY_TIMEOUT", "420")),
        # Look for such messages every this many seconds (kombu's default: every 100 s).
        "unacked_restore_interval": int(os.environ.get("EXAMPLE_BROKER_RESTORE_INTERVAL", "10")),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Celery closes every database connection after every task unless this is set; with it,
# CONN_MAX_AGE and CONN_HEALTH_CHECKS above decide.
CELERY_DB_REUSE_MAX = 1000

LOGIN_URL = "face_idcard_onboarding:login"


def _float_env(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


FACE_IDCARD = {
    # The demo talks to the local simulator; a real site names its provider's backend with its
    # credentials, read with face_idcard.conf.secret_from_env, e.g.
    # {"BACKEND": "legacy", "APPID": ..., "SECRET_ID": ..., "SECRET_KEY": ...}.
    "BACKENDS": {
        "default": {
            "BACKEND": "simulator",
            "ENDPOINT": os.environ.get("FACE_IDCARD_SIMULATOR_URL", "http://127.0.0.1:8701"),
        }
    },
    "SELFIE_STORAGE": "face_idcard",
    # Development only: a real site loads its keys from a secret store.
    "PII_ENCRYPTION_KEYS": [
        _secret("FACE_IDCARD_PII_KEY", "Zm9yLWRlbW8tb25seS1uZXZlci1pbi1wcm9kdWN0aW8=")
    ],
    # The ID number hash key: a secret of its own, never SECRET_KEY (development value here).
    "PII_HASH_KEYS": [
        _secret("FACE_IDCARD_PII_HASH_KEY", "demo-only-hash-key-never-in-production")
    ],
    "NOTICE_CURRENT_VERSION": "demo-2026-11",
    # The provider's quota per second, shared by the workers through the cache (the demo sets
    # it under the simulator's --qps: a burst is deferred, never refused).
    "RATE_LIMIT_PER_SECOND": _float_env("FACE_IDCARD_RATE_LIMIT_PER_SECOND"),
    "MAX_ATTEMPTS_PER_ID_PER_DAY": int(os.environ.get("FACE_IDCARD_MAX_PER_ID_PER_DAY", "5")),
    "MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY": int(
        os.environ.get("FACE_IDCARD_MAX_PER_USER_PER_DAY", "10")
    ),
    "MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY": int(
        os.environ.get("FACE_IDCARD_MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY", "3")
    ),
    "RETRY_BACKOFF_BASE_SECONDS": _float_env("FACE_IDCARD_RETRY_BACKOFF_BASE_SECONDS") or 2.0,
    "RETRY_BACKOFF_MAX_SECONDS": _float_env("FACE_IDCARD_RETRY_BACKOFF_MAX_SECONDS") or 60.0,
    # The sweeper's thresholds and the call's timeouts (tests/site/test_example_site.py shortens
    # them; the lease must outlast a call, system check E011).
    "CONNECT_TIMEOUT_SECONDS": _float_env("FACE_IDCARD_CONNECT_TIMEOUT_SECONDS") or 3.05,
    "READ_TIMEOUT_SECONDS": _float_env("FACE_IDCARD_READ_TIMEOUT_SECONDS") or 15.0,
    "CLAIM_LEASE_SECONDS": int(os.environ.get("FACE_IDCARD_CLAIM_LEASE_SECONDS", "120")),
    "QUEUED_STALE_SECONDS": int(os.environ.get("FACE_IDCARD_QUEUED_STALE_SECONDS", "120")),
    "API_CREATE_THROTTLE_RATE": os.environ.get("FACE_IDCARD_API_CREATE_THROTTLE_RATE", "30/min"),
}

# The rate limiter counts in Django's cache, and every process that calls the provider must
# see one count: Redis when REDIS_URL is set (any number of workers). Without it, a per-process
# memory cache, which is right only with ONE counting process: the demo runs a solo-pool worker
# and, without Redis, no limit in its web server (run_demo.web_environment).
# (The database cache is no substitute: its incr is not atomic.)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
    }
    if os.environ.get("REDIS_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "face_idcard API",
    "VERSION": "1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's JavaScript and CSS from the sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"face_idcard": {"handlers": ["console"], "level": "WARNING"}},
}

if _MISSING_SECRETS:
    # Names only, never a value. Without this, a DEBUG-off start would run on secrets that
    # anyone can read in the repository.
    raise ImproperlyConfigured(
        "example_site: DJANGO_DEBUG is off and these secrets are not set: "
        + ", ".join(_MISSING_SECRETS)
        + ". Set each in the environment (a PII key: `python -m face_idcard.crypto`; the others: "
        "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
        "or run with DJANGO_DEBUG=1 for development."
    )
