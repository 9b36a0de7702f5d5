"""A worker process killed mid-delivery (SIGKILL while the receiver holds the request): the
delivery stays pending under the dead worker's lease, and once that expires the periodic task
sends it again with the same webhook-id, so a deduplicating receiver handles it exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from face_idcard.webhooks import delivery, outbox
from tests.webhooks.receiver import Receiver, Reply

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]

#: A worker: this test's database and settings, one delivery, in a process of its own.
WORKER = """
import json, os, sys
from django.conf import settings
settings.DATABASES["default"]["NAME"] = os.environ["WORKER_DB_NAME"]
settings.FACE_IDCARD = json.loads(os.environ["WORKER_FACE_IDCARD"])
import django
django.setup()
from face_idcard.webhooks import delivery
print(delivery.deliver(int(sys.argv[1])), flush=True)
"""


def test_a_killed_worker_is_redelivered_once_per_webhook_id(
    receiver: Receiver, make_endpoint: Any, monkeypatch: Any, hook_settings: Any
) -> None:
    hook_settings(WEBHOOK_LEASE_SECONDS=30, WEBHOOK_TIMEOUT_SECONDS=20)
    endpoint, _ = make_endpoint(receiver.url)
    item = outbox.ping(endpoint).deliveries.get()
    receiver.script(Reply(200, delay=15), Reply(200))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "WORKER_DB_NAME": str(connection.settings_dict["NAME"]),
        "WORKER_FACE_IDCARD": json.dumps(settings.FACE_IDCARD),
    }
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(item.pk)], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not receiver.hits() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.hits(), "the worker never reached the receiver"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    item.refresh_from_db()
    assert item.status == "pending" and item.attempts == 1 and item.lease_expires_at

    published: list[int] = []
    monkeypatch.setattr(
        delivery, "publish", lambda pk, countdown=None: published.append(pk) or True
    )
    assert delivery.deliver_due() == 0  # the dead worker's lease still runs
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=True):
        assert delivery.deliver_due() == 1
        assert delivery.deliver(published[0]) == "delivered"
    ids = [hit.headers["webhook-id"] for hit in receiver.hits()]
    assert ids == [item.message_id, item.message_id]  # a deduplicating receiver: once
