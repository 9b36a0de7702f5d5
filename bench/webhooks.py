"""Outbound webhooks: 10,000 events to a deduplicating receiver on loopback, a tenth of the
deliveries failing once, and the worker's added CPU per decided attempt.

Part 1, delivery: ``BENCH_N`` (10,000) ``attempt.decided`` messages are written through the
outbox (in transactions of 100) for one endpoint on a loopback receiver that answers 500 to
the first try of one message in ten (chosen by its ``webhook-id``) and records every
``webhook-id`` it accepted. ``BENCH_THREADS`` (8) threads run
:func:`face_idcard.webhooks.delivery.deliver` on the due deliveries, as Celery workers would
(the broker is left out: its cost is the pipeline's, measured by ``bench/pipeline.py``), until
none is pending; retries wait 0.05 s instead of the schedule's 5 s. Every event must be
delivered, none accepted twice.

Part 2, CPU: batches of ``BENCH_ATTEMPTS`` (300) attempts run through the pipeline in this
process (``_pipeline.run``, against the simulator), with no endpoint (the baseline) and with
one endpoint (the outbox's message and delivery rows and the Celery publish at commit
included), alternating which goes first, in ``BENCH_ROUNDS`` (3) rounds after a warm-up
batch. Each round's difference of this process's CPU time per attempt is what webhooks add
on the worker; the median of the rounds' is quoted.

    .venv/bin/python bench/webhooks.py     # PostgreSQL and Redis on loopback, as the others

Last line: ``RESULT events=... delivered=... duplicates=... extra_cpu_ms_per_attempt=...``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("FACE_IDCARD_BENCH_DB", "face_idcard_bench_webhooks")

from bench import harness

N = int(os.environ.get("BENCH_N", "10000"))
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
ATTEMPTS = int(os.environ.get("BENCH_ATTEMPTS", "300"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BATCH = 100


class DedupingReceiver:
    """Accepts each webhook-id once (as a receiver should store it); a tenth fail first."""

    def __init__(self) -> None:
        self.accepted: set[str] = set()
        self.duplicates = 0
        self.failed_once: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                msg_id = self.headers["webhook-id"]
                with receiver.lock:
                    fail = (
                        zlib.crc32(msg_id.encode()) % 10 == 0 and msg_id not in receiver.failed_once
                    )
                    if fail:
                        receiver.failed_once.add(msg_id)
                    elif msg_id in receiver.accepted:
                        receiver.duplicates += 1
                    else:
                        receiver.accepted.add(msg_id)
                self.send_response(500 if fail else 200)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def _settings(**overrides: Any) -> Any:
    from django.conf import settings
    from django.test import override_settings

    override = override_settings(FACE_IDCARD={**settings.FACE_IDCARD, **overrides})
    override.enable()
    return override


def _endpoint(url: str) -> Any:
    from face_idcard.webhooks import secrets
    from face_idcard.webhooks.models import WebhookEndpoint

    endpoint = WebhookEndpoint(url=url)
    secrets.store(endpoint, [secrets.generate_secret()])
    endpoint.save()
    return endpoint


def _clear() -> None:
    from face_idcard.webhooks.models import WebhookEndpoint, WebhookMessage

    WebhookMessage.objects.all().delete()
    WebhookEndpoint.objects.all().delete()


def delivery_run() -> tuple[int, int, int]:
    import uuid

    from django.db import transaction
    from django.utils import timezone

    from face_idcard.webhooks import delivery, outbox
    from face_idcard.webhooks.models import WebhookDelivery

    receiver = DedupingReceiver()
    # Each failure's warning is expected here (one event in ten).
    logging.getLogger("face_idcard.webhooks").setLevel(logging.ERROR)
    override = _settings(
        WEBHOOK_ALLOW_PRIVATE=True,
        WEBHOOK_RETRY_SCHEDULE_SECONDS=[0.05, 0.05, 0.05],
        WEBHOOK_DISABLE_AFTER_FAILURES=None,
    )
    # No broker in this part: the threads below take the deliveries.
    real_publish = outbox.publish
    outbox.publish = lambda delivery_id, countdown=None: True  # type: ignore[assignment]
    delivery.publish = outbox.publish  # type: ignore[attr-defined]
    try:
        _clear()
        endpoint = _endpoint(receiver.url)
        started = time.perf_counter()
        for first in range(0, N, BATCH):
            with transaction.atomic():
                for _ in range(min(BATCH, N - first)):
                    data = {"id": str(uuid.uuid4()), "status": "completed", "decision": "match"}
                    outbox.enqueue("attempt.decided", data, [endpoint])
        print(f"wrote {N} events in {time.perf_counter() - started:.1f} s")

        def one(delivery_id: int) -> str:
            return delivery.deliver(delivery_id)  # each thread keeps its connection

        started = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            while True:
                due = list(
                    WebhookDelivery.objects.filter(
                        status="pending", next_attempt_at__lte=timezone.now()
                    ).values_list("pk", flat=True)
                )
                if not due:
                    if not WebhookDelivery.objects.filter(status="pending").exists():
                        break
                    time.sleep(0.05)
                    continue
                list(pool.map(one, due))
        elapsed = time.perf_counter() - started
        delivered = WebhookDelivery.objects.filter(status="delivered").count()
        print(
            f"delivered {delivered}/{N} in {elapsed:.1f} s ({delivered / elapsed:.0f}/s, "
            f"{THREADS} threads); failed once: {len(receiver.failed_once)}"
        )
        return N, len(receiver.accepted), receiver.duplicates
    finally:
        outbox.publish = real_publish  # type: ignore[assignment]
        delivery.publish = real_publish  # type: ignore[attr-defined]
        _clear()
        override.disable()
        receiver.server.shutdown()


def cpu_per_attempt(with_endpoint: bool, attempts: int = ATTEMPTS) -> float:
    from django.utils import timezone

    from face_idcard import services
    from face_idcard.services import _pipeline
    from face_idcard.simulator import magic
    from face_idcard.simulator.registry import demo_people

    image = demo_people()[0].photo_bytes
    _clear()
    if with_endpoint:
        _endpoint("http://127.0.0.1:9/hook")
    ids = [
        services.submit(
            idcard_number=magic.MATCH,
            idcard_name="张三",
            image=image,
            consent_at=timezone.now(),
            enqueue=False,
        ).pk
        for _ in range(attempts)
    ]
    started = time.process_time()
    for attempt_id in ids:
        _pipeline.run(attempt_id)
    cpu_ms = (time.process_time() - started) * 1000 / attempts
    _clear()
    return cpu_ms


def main() -> None:
    harness.require_services()
    with harness.simulator("--latency-ms", "0") as base_url:
        harness.setup_django(base_url)
        from django.conf import settings

        import bench.celery_app  # noqa: F401  (publishes go to the Redis broker)

        harness.reset_state(settings.CELERY_BROKER_URL)
        events, delivered, duplicates = delivery_run()
        cpu_per_attempt(with_endpoint=True, attempts=30)  # warm-up: imports, pools, caches
        without: list[float] = []
        with_one: list[float] = []
        for round_index in range(ROUNDS):
            order = (False, True) if round_index % 2 == 0 else (True, False)
            for with_endpoint in order:
                (with_one if with_endpoint else without).append(cpu_per_attempt(with_endpoint))
            print(
                f"round {round_index + 1}: {without[-1]:.2f} ms without an endpoint, "
                f"{with_one[-1]:.2f} ms with one"
            )
        harness.reset_state(settings.CELERY_BROKER_URL)
        extra = harness.median([w - b for w, b in zip(with_one, without, strict=True)])
        print(
            f"worker CPU per decided attempt (median of {ROUNDS}): "
            f"{harness.median(without):.2f} ms without an endpoint, "
            f"{harness.median(with_one):.2f} ms with one; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"RESULT events={events} delivered={delivered} duplicates={duplicates} "
            f"extra_cpu_ms_per_attempt={extra:.2f}"
        )
        assert delivered == events and duplicates == 0


if __name__ == "__main__":
    main()
