"""WSGI entry point of the API benchmark's gunicorn server: Django with ``bench.api_settings``
and a Celery app on the filesystem broker, current before the first request publishes."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.api_settings")

import django

django.setup()

from celery import Celery  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

celery_app = Celery("face_idcard_bench_api")
celery_app.config_from_object("django.conf:settings", namespace="CELERY")
celery_app.set_current()
celery_app.set_default()

application = get_wsgi_application()
