"""The example site's Celery app: the usual Django layout, with the sweeper and the purge on beat."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")

app = Celery("example_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Re-queues attempts whose worker died or whose message was lost (filesystem transport:
    # a worker killed hard takes the messages it had fetched with it).
    "face-idcard-sweep": {
        "task": "face_idcard.tasks.sweep",
        "schedule": float(os.environ.get("EXAMPLE_SWEEP_EVERY_SECONDS", "60")),
    },
    "face-idcard-purge": {
        "task": "face_idcard.tasks.purge",
        "schedule": crontab(minute=17, hour=3),
    },
    "face-idcard-statistics": {
        "task": "face_idcard.tasks.refresh_statistics",
        "schedule": crontab(minute=7),
    },
}
