"""Claim contention: 4 worker processes, every message delivered twice, 0 double calls.

1,000 attempts are stored, then each one's task is published twice (a duplicate delivery), and
4 Celery worker processes (prefork, concurrency 2 each) race for them against the simulator with
50 ms latency. The simulator's ledger, keyed by the session_id the pipeline sends (the attempt
id), must show no attempt called twice.

    .venv/bin/python bench/claim_contention.py     # BENCH_N=1000
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

N = int(os.environ.get("BENCH_N", "1000"))
PROCESSES = 4
NAME = "张三"


def main() -> None:
    harness.require_services()
    with harness.simulator("--latency-ms", "50") as base_url:
        harness.setup_django(base_url)
        from django.conf import settings
        from django.utils import timezone

        import bench.celery_app  # noqa: F401
        from face_idcard import services
        from face_idcard.models import VerificationAttempt
        from face_idcard.simulator import magic
        from face_idcard.simulator.registry import demo_people
        from face_idcard.states import TERMINAL
        from face_idcard.tasks import verify_attempt

        harness.reset_state(settings.CELERY_BROKER_URL)
        image = demo_people()[0].photo_bytes
        ids = [
            services.submit(
                idcard_number=magic.MATCH,
                idcard_name=NAME,
                image=image,
                consent_at=timezone.now(),
                enqueue=False,
            ).pk.hex
            for _ in range(N)
        ]
        harness.post(base_url + "/__simulator__/reset")
        for attempt_id in ids:
            verify_attempt.apply_async((attempt_id,))
            verify_attempt.apply_async((attempt_id,))
        started = time.perf_counter()
        workers = harness.start_workers(PROCESSES, 2)
        try:
            deadline = time.monotonic() + 600
            while VerificationAttempt.objects.exclude(status__in=TERMINAL).exists():
                if time.monotonic() > deadline:
                    raise SystemExit("did not finish within 600 s")
                time.sleep(0.2)
            time.sleep(2)  # let the duplicate messages drain: they must find nothing to do
        finally:
            harness.stop_workers(workers)
        elapsed = time.perf_counter() - started

        calls = harness.get_json(base_url + "/__simulator__/calls")
        per_attempt = Counter(call["session_id"] for call in calls)
        called_twice = sum(1 for count in per_attempt.values() if count > 1)
        never_called = len(set(ids) - set(per_attempt))
        completed = VerificationAttempt.objects.filter(status="completed").count()
        print(f"{N} attempts, {2 * N} messages, {PROCESSES} worker processes: {elapsed:.1f} s")
        print(
            f"ledger: {len(calls)} calls for {len(per_attempt)} attempts; "
            f"called twice: {called_twice}; never called: {never_called}; completed: {completed}"
        )
        print(
            f"RESULT attempts={N} messages={2 * N} workers={PROCESSES} ledger_calls={len(calls)} "
            f"double_calls={called_twice} completed={completed}"
        )
        if called_twice or never_called or completed != N:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
