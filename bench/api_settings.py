"""Django settings for the API benchmark's gunicorn server (``bench/api.py``).

The benchmark settings (PostgreSQL, the simulator backend) with: the benchmark's own
database, the bench-only URLconf (the API beside a minimal baseline view), the kombu
filesystem transport as broker (no shared Redis database to flush, and no worker needed: the
messages only pile up in a temporary folder), a per-process cache, the app's default daily
limits (see FACE_IDCARD below) and a creation throttle no run reaches.
"""

from __future__ import annotations

import os

from bench.settings import *  # noqa: F403
from bench.settings import DATABASES as _BENCH_DATABASES
from bench.settings import FACE_IDCARD as _BENCH_FACE_IDCARD
from bench.settings import REST_FRAMEWORK as _BENCH_REST_FRAMEWORK

DATABASES = {
    "default": {
        **_BENCH_DATABASES["default"],
        "NAME": os.environ.get("FACE_IDCARD_BENCH_API_DB", "face_idcard_bench_api"),
    }
}
ROOT_URLCONF = "bench.api_urls"
BROKER_FOLDER = os.environ.get("FACE_IDCARD_BENCH_API_BROKER", "/tmp/face_idcard_bench_api/broker")
CELERY_BROKER_URL = "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "data_folder_in": BROKER_FOLDER,
    "data_folder_out": BROKER_FOLDER,
    "control_folder": BROKER_FOLDER + "/control",
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": os.environ.get(
                "FACE_IDCARD_BENCH_API_MEDIA", "/tmp/face_idcard_bench_api/media"
            )
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FACE_IDCARD = {
    key: value
    for key, value in _BENCH_FACE_IDCARD.items()
    # The app's default daily limits (5 an ID number, 10 a user) are in force: bench/api.py
    # sends each request with a distinct ID number and users in turn, none near its limit.
    # FACE_IDCARD_BENCH_LIMITS=raised keeps the other benchmarks' (10**9, none reached).
    if os.environ.get("FACE_IDCARD_BENCH_LIMITS") == "raised"
    or key not in ("MAX_ATTEMPTS_PER_ID_PER_DAY", "MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY")
}
# Still a throttle (its cache round trip is part of the cost), but one no run reaches.
FACE_IDCARD["API_CREATE_THROTTLE_RATE"] = "1000000/min"
REST_FRAMEWORK = {
    **_BENCH_REST_FRAMEWORK,
    # Token only: the baseline and the API authenticate the same way, with no CSRF check.
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
}
