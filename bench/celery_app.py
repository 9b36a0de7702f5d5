"""Celery app for the benchmark workers (``celery -A bench.celery_app worker``).

Each task's wall time is recorded so the benchmark can report the overhead of the pipeline
outside the provider call (task time minus the recorded provider latency). With
``FACE_IDCARD_BENCH_TIMINGS_DIR`` set (bench/pipeline.py sets it) each process appends its lines
to a file of its own there: one ``write`` per task, where a Redis RPUSH cost the measured worker
a round trip per task (its client side counted as the pipeline's CPU). Without it, the lines go
to the Redis list ``TIMINGS_KEY`` as before.
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
_TIMINGS_DIR = os.environ.get("FACE_IDCARD_BENCH_TIMINGS_DIR", "")
_timings_fd: dict[int, int] = {}  # pid -> file descriptor (a forked pool child opens its own)


def _write_line(line: str) -> None:
    pid = os.getpid()
    fd = _timings_fd.get(pid)
    if fd is None:
        path = os.path.join(_TIMINGS_DIR, f"{pid}.txt")
        fd = _timings_fd[pid] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(fd, line.encode() + b"\n")


@task_prerun.connect
def _task_started(task_id: str, **kwargs: Any) -> None:
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_finished(task_id: str, args: Any = None, retval: Any = None, **kwargs: Any) -> None:
    global _redis
    started = _started.pop(task_id, None)
    if started is None or not args:
        return
    elapsed_ms = (time.perf_counter() - started) * 1000
    line = f"{args[0]} {retval} {elapsed_ms:.3f}"
    if _TIMINGS_DIR:
        _write_line(line)
        return
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    _redis.rpush(TIMINGS_KEY, line)
