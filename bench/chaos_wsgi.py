"""WSGI entry point of ``bench/chaos.py``'s gunicorn: the example site on
``bench.chaos_settings``, its Celery app (the benchmark's Redis) current before the first
request publishes."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.chaos_settings")

import example_site  # noqa: F401  (the site's Celery app, as its own wsgi would load it)
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
