"""Settings for the test suite.

SQLite with no server by default (a newcomer's laptop). ``FACE_IDCARD_TEST_DB=postgres`` runs
against PostgreSQL on 127.0.0.1:5432, ``FACE_IDCARD_TEST_DB=mysql`` against MySQL/MariaDB on
127.0.0.1:3306; ``FACE_IDCARD_TEST_BROKER=redis://…`` makes the Celery
tests use that broker instead of the in-memory transport.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "face-idcard-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
USE_I18N = True

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
    "face_idcard",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
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

TEST_DB = os.environ.get("FACE_IDCARD_TEST_DB", "sqlite")
DATABASES: dict[str, dict[str, object]]
if TEST_DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("FACE_IDCARD_PG_NAME", "face_idcard"),
            "USER": os.environ.get("FACE_IDCARD_PG_USER", "postgres"),
            "HOST": os.environ.get("FACE_IDCARD_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("FACE_IDCARD_PG_PORT", "5432"),
            # One test database per test process: concurrent runs on one server would otherwise
            # drop each other's "test_face_idcard" mid-run.
            # tools/mutation.py names its own (one per concurrent child, kept with --reuse-db).
            "TEST": {
                "NAME": os.environ.get(
                    "FACE_IDCARD_PG_TEST_NAME", f"test_face_idcard_{os.getpid()}"
                )
            },
        }
    }
elif TEST_DB == "mysql":
    # MySQL 8 / MariaDB 10.11+ through mysqlclient (root without a password on loopback, as on
    # the CI machine). utf8mb4 and the server's default REPEATABLE READ are what sites run;
    # Django's MySQL backend sets READ COMMITTED unless told otherwise, and the app must hold
    # under either (FACE_IDCARD_MYSQL_ISOLATION picks one).
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("FACE_IDCARD_MYSQL_NAME", "test"),
            "USER": os.environ.get("FACE_IDCARD_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("FACE_IDCARD_MYSQL_PASSWORD", ""),
            "HOST": os.environ.get("FACE_IDCARD_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("FACE_IDCARD_MYSQL_PORT", "3306"),
            "OPTIONS": {
                "charset": "utf8mb4",
                "isolation_level": os.environ.get("FACE_IDCARD_MYSQL_ISOLATION", "read committed"),
            },
            # One test database per test process, as for PostgreSQL.
            "TEST": {
                "NAME": os.environ.get(
                    "FACE_IDCARD_MYSQL_TEST_NAME", f"test_face_idcard_{os.getpid()}"
                ),
                "CHARSET": "utf8mb4",
                "COLLATION": "utf8mb4_unicode_ci",
            },
        }
    }
else:
    # The test database is a file (in RAM where /dev/shm exists), not shared-cache memory: the
    # Celery worker thread writes while the test reads, and shared-cache in-memory SQLite
    # answers "table is locked" at once where a file database waits (busy timeout).
    _TEST_DB_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            # BEGIN IMMEDIATE: a transaction takes the write lock when it begins, waiting for
            # it (busy timeout). A deferred BEGIN that has read and then writes while the
            # worker thread writes gets "database is locked" at once, busy timeout or not
            # (SQLite refuses the upgrade rather than risk a deadlock): seen in CI when a
            # caller's transaction around submit met a late message of an earlier test.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            # tools/mutation.py names its own (one per concurrent child, kept with --reuse-db).
            "TEST": {
                "NAME": os.environ.get(
                    "FACE_IDCARD_SQLITE_TEST_NAME",
                    os.path.join(_TEST_DB_DIR, f"face_idcard_test_{os.getpid()}.sqlite3"),
                )
            },
        }
    }

# Unset or empty: the in-memory transport (.ci/run passes an empty one when Redis is down).
TEST_BROKER = os.environ.get("FACE_IDCARD_TEST_BROKER") or "memory://"


def _redis_neighbour_db(url: str) -> str:
    base, _, db = url.rstrip("/").rpartition("/")
    if base.startswith("redis:") and db.isdigit():
        return f"{base}/{(int(db) - 1) % 16}"
    return url.rstrip("/") + "/1"


CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if TEST_BROKER.startswith("redis://"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Its own Redis database: cache.clear() is FLUSHDB, which must not empty the
            # broker's queues (broker db N, cache db N-1).
            "LOCATION": _redis_neighbour_db(TEST_BROKER),
            # Per test process: concurrent runs share this Redis database.
            "KEY_PREFIX": f"face_idcard_tests_{os.getpid()}",
        }
    }

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(BASE_DIR / ".media")},
    },
    # Encrypted selfies: a private folder, never served (system check face_idcard.W004).
    "face_idcard": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(BASE_DIR / ".private"), "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

FACE_IDCARD = {
    # The simulator at its default address; tests pointing at a running one set its ENDPOINT.
    "BACKENDS": {"default": {"BACKEND": "simulator"}},
    # The suite runs with DEBUG off, as production does, on the simulator: allowed explicitly
    # (else system check face_idcard.E030).
    "ALLOW_DEVELOPMENT_BACKENDS": True,
    "SELFIE_STORAGE": "face_idcard",
    "PII_ENCRYPTION_KEYS": ["3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE="],
    "PII_HASH_KEYS": ["face-idcard-tests-hash-key"],
    "CONNECT_TIMEOUT_SECONDS": 2.0,
    "READ_TIMEOUT_SECONDS": 5.0,
    # No DNS in the suite; the default url policy (public destinations only) stays in force.
    "URL_RESOLVER": "tests.support.resolver.resolve",
    # The suite's tests of purge, re-runs and reveals keep the selfie a week after the decision
    # (the default, 0, deletes it at once: tests/privacy/test_minimal_retention.py).
    "SELFIE_RETENTION_DAYS": 7,
}

# The API (face_idcard.api): token then session authentication, as a host would configure.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "face_idcard",
    "VERSION": "1",
    # File fields as binary in multipart request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
}

# The admin's CSS and JS, served by pytest-django's live_server in the browser tests.
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
