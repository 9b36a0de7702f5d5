"""Celery app for the benchmark workers (``celery -A bench.celery_app worker``).

Each task's wall time is pushed to a Redis list so the benchmark can report the overhead of
the pipeline outside the provider call (task time minus the recorded provider latency).
"""

from __future__ import annotations

import os
import time
from typing import Any

import django
from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.conf import settings  # noqa: E402

app = Celery("face_idcard_bench")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["face_idcard"])

TIMINGS_KEY = "face_idcard_bench:task_ms"
_started: dict[str, float] = {}
_redis: Any = None


@task_prerun.connect
def _task_started(task_id: str, **kwargs: Any) -> None:
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_finished(task_id: str, args: Any = None, retval: Any = None, **kwargs: Any) -> None:
    global _redis
    started = _started.pop(task_id, None)
    if started is None or not args:
        return
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    elapsed_ms = (time.perf_counter() - started) * 1000
    _redis.rpush(TIMINGS_KEY, f"{args[0]} {retval} {elapsed_ms:.3f}")
