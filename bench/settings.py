"""Django settings for the pipeline benchmarks: PostgreSQL, Redis broker and cache.

Built on the test settings; only what a production-like run needs differs.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403
from tests.settings import FACE_IDCARD as _TEST_FACE_IDCARD

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("FACE_IDCARD_BENCH_DB", "face_idcard_bench"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": 600,
    }
}
REDIS_URL = os.environ.get("FACE_IDCARD_BENCH_REDIS", "redis://127.0.0.1:6379/13")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "face_idcard_bench",
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": os.environ.get("FACE_IDCARD_BENCH_MEDIA", "/tmp/face_idcard_bench")
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SIMULATOR_URL = os.environ.get("FACE_IDCARD_SIMULATOR_URL", "http://127.0.0.1:8701")
FACE_IDCARD = {
    **_TEST_FACE_IDCARD,
    "BACKENDS": {"default": {"BACKEND": "simulator", "ENDPOINT": SIMULATOR_URL}},
    "MAX_ATTEMPTS_PER_ID_PER_DAY": 10**9,
    "MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY": 10**9,
    "READ_TIMEOUT_SECONDS": float(os.environ.get("FACE_IDCARD_BENCH_READ_TIMEOUT", "5")),
    "CONNECT_TIMEOUT_SECONDS": 2.0,
    "RETRY_BACKOFF_BASE_SECONDS": float(os.environ.get("FACE_IDCARD_BENCH_BACKOFF", "0.2")),
    "RETRY_BACKOFF_MAX_SECONDS": 2.0,
    "RETRY_MAX_COUNT": int(os.environ.get("FACE_IDCARD_BENCH_MAX_RETRIES", "8")),
    "CLAIM_LEASE_SECONDS": int(os.environ.get("FACE_IDCARD_BENCH_LEASE", "120")),
    "QUEUED_STALE_SECONDS": int(os.environ.get("FACE_IDCARD_BENCH_STALE", "120")),
    "LOST_CALL_POLICY": os.environ.get("FACE_IDCARD_BENCH_LOST_CALL_POLICY", "requeue"),
    "SELFIE_STORAGE": "default",
    # The account's quota as the app paces it (bench/latency.py: 20); unset, no pacing.
    "RATE_LIMIT_PER_SECOND": (
        int(os.environ["FACE_IDCARD_BENCH_RATE_LIMIT"])
        if os.environ.get("FACE_IDCARD_BENCH_RATE_LIMIT")
        else None
    ),
}
# The simulator is allowed by tests.settings (ALLOW_DEVELOPMENT_BACKENDS).
SILENCED_SYSTEM_CHECKS = ["face_idcard.W004"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
# Without this, Celery's Django fixup closes the database connection before and after every
# task, so each attempt pays for a new PostgreSQL connection (measured: 89 -> 118 attempts/s).
CELERY_DB_REUSE_MAX = 1000

if os.environ.get("BENCH_BACKEND", "legacy") == "faceid":
    # bench/pipeline.py BENCH_BACKEND=faceid: ImageRecognitionV2 through Tencent's SDK.
    from face_idcard.simulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    FACE_IDCARD["BACKENDS"] = {
        "default": {
            "BACKEND": "faceid",
            "SECRET_ID": DEFAULT_SECRET_ID,
            "SECRET_KEY": DEFAULT_SECRET_KEY,
            "ENDPOINT": SIMULATOR_URL,
        }
    }

if os.environ.get("BENCH_LIVENESS") == "1":
    # bench/pipeline.py BENCH_LIVENESS=1: the faceid alias with its DetectAIFakeFaces pre-check
    # before every comparison. The simulator runs without the pre-check's quota and the alias
    # with an open plan, so that the run measures the pipeline, not the pacing at 5 calls/s.
    FACE_IDCARD["LIVENESS"] = "record"
    FACE_IDCARD["BACKENDS"]["default"]["PRECHECK_RATE_LIMIT_PER_SECOND"] = 10_000

if os.environ.get("BENCH_BACKEND", "legacy") == "aliyun":
    # bench/pipeline.py BENCH_BACKEND=aliyun: ContrastFaceVerify through our Cloudauth client.
    from face_idcard.simulator import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    FACE_IDCARD["BACKENDS"] = {
        "default": {
            "BACKEND": "aliyun",
            "ACCESS_KEY_ID": DEFAULT_SECRET_ID,
            "ACCESS_KEY_SECRET": DEFAULT_SECRET_KEY,
            "SCENE_ID": DEFAULT_APPID,
            "ENDPOINT": SIMULATOR_URL,
            # The simulator has no quota here: not the account's 50 calls/s, which would
            # measure the pacing rather than the pipeline. The backend always paces (None is
            # its default of 50), so the limiter's cache round trips stay in the measurement;
            # 10,000/s is a plan whose every slot is open (face_idcard._ratelimit.schedule).
            "RATE_LIMIT_PER_SECOND": 10_000,
        }
    }
