"""A 10,000-attempt backlog at 20 req/s through the real limiter and the real deferral path.

Simulated clock (time-machine), real parts otherwise: ``services.submit`` (which gives each
attempt its turn), the ``verify_attempt`` task body, the pipeline's ``run`` against PostgreSQL,
the real limiter, the simulator over loopback HTTP, and the sweeper every 60 simulated
seconds. The limiter counts in a LocMem cache: its expiry follows the simulated clock, where
Redis's follows the real one (10,000 submits take minutes of real time at one simulated
instant, and the counts of the coming slots expired before their slots came: a run measured
36 calls in one simulated second under a limit of 20, the bench's artefact, not the
limiter's). The broker is a heap of (eta, message): a message runs at its countdown, as a
worker holding it would, or late by up to ``BENCH_LATE_MS`` (uniform), as behind a busy pool
or a broker timer that wakes once a second; the in-process wait for a near slot is off (a real
sleep does not move a stopped clock), so every wait goes through the heap.

Counts task runs per provider call, the most calls in any 1 s window of the simulated clock
(at most the limit), the drain's calls a second against the most the limiter's plan admits
(``quota_use``, the baseline in this run), and sweeper re-queues (every attempt here is live,
so any re-queue is a mistake).

    .venv/bin/python bench/ratelimit.py                  # BENCH_N=10000 BENCH_LIMIT=20
    BENCH_N=2000 BENCH_LATE_MS=500 .venv/bin/python bench/ratelimit.py
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

N = int(os.environ.get("BENCH_N", "10000"))
LIMIT = int(os.environ.get("BENCH_LIMIT", "20"))
LATE_SECONDS = float(os.environ.get("BENCH_LATE_MS", "0")) / 1000
SWEEP_EVERY = 60.0
START = 2_000_000_000.0  # a simulated instant of its own


def main() -> None:
    harness.require_services()
    with harness.simulator() as base_url:
        harness.setup_django(base_url)
        import time_machine
        from django.conf import settings
        from django.test import override_settings

        caches = {
            **settings.CACHES,
            "ratelimit_sim": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "ratelimit_sim",
            },
        }
        changed = {
            **settings.FACE_IDCARD,
            "RATE_LIMIT_PER_SECOND": LIMIT,
            "RATE_LIMIT_CACHE": "ratelimit_sim",
        }
        if "BENCH_BROKER_HOLD" in os.environ:  # BROKER_MAX_COUNTDOWN_SECONDS, to try parking
            changed["BROKER_MAX_COUNTDOWN_SECONDS"] = float(os.environ["BENCH_BROKER_HOLD"])
        # Through setting_changed: a plain assignment would leave the app's settings and any
        # backend already built (each holds its own limit) on the old values, unlimited.
        override_settings(CACHES=caches, FACE_IDCARD=changed).enable()
        from face_idcard import _ratelimit as ratelimit
        from face_idcard import services, tasks
        from face_idcard.services import _pipeline as pipeline
        from face_idcard.services import _slots as slots
        from face_idcard.services.dispatch import set_dispatcher
        from face_idcard.simulator import magic
        from face_idcard.simulator.registry import demo_people
        from face_idcard.states import TERMINAL

        harness.reset_state(settings.CELERY_BROKER_URL)
        image = demo_people()[0].photo_bytes
        broker: list[tuple[float, int, tuple[Any, ...]]] = []
        order = itertools.count()
        calls: list[float] = []

        class HeapDispatcher:
            """The broker stand-in: every publish (submit's, the task's, the sweeper's) goes
            through the services' dispatcher, which here pushes the id onto the heap."""

            def dispatch(self, attempt_id: UUID, countdown: float | None) -> None:
                late = random.uniform(0, LATE_SECONDS)
                eta = time.time() + max(0.0, countdown or 0.0) + late
                heapq.heappush(broker, (eta, next(order), (str(attempt_id),)))

        real_call = pipeline._call

        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(time.time())
            return real_call(*args, **kwargs)

        set_dispatcher(HeapDispatcher())
        pipeline._call = call  # type: ignore[assignment]

        started = time.perf_counter()
        with (
            mock.patch.object(slots, "WAIT_IN_PROCESS_SECONDS", 0.0),
            time_machine.travel(START, tick=False) as clock,
        ):
            from django.utils import timezone

            for _ in range(N):
                services.submit(
                    idcard_number=magic.MATCH,
                    idcard_name="张三",
                    image=image,
                    consent_at=timezone.now(),
                )
            submit_seconds = time.perf_counter() - started
            runs = 0
            requeues = 0
            next_sweep = START + SWEEP_EVERY
            from face_idcard.models import VerificationAttempt

            while True:
                if broker and broker[0][0] < next_sweep:
                    eta, _, args = heapq.heappop(broker)
                    clock.move_to(eta)
                    tasks.verify_attempt.run(*args)
                    runs += 1
                    continue
                clock.move_to(next_sweep)
                counts = services.sweep()
                requeues += counts["expired_leases"] + counts["lost_queued"]
                requeues += counts["lost_retries"] + counts["failed"]
                next_sweep += SWEEP_EVERY
                if not broker and not (
                    VerificationAttempt.objects.exclude(status__in=TERMINAL).exists()
                ):
                    break
                if next_sweep > START + 10 * N / LIMIT:
                    raise SystemExit("the backlog did not drain")
            simulated = max(calls) - START
        if simulated <= 0:
            raise SystemExit("every call ran at the first instant: the limit was not applied")
        statuses = set(VerificationAttempt.objects.values_list("status", flat=True))
        assert statuses == {"completed"}, statuses
        calls.sort()
        window = 0
        lo = 0
        for hi, at in enumerate(calls):
            while at - calls[lo] >= 1.0:
                lo += 1
            window = max(window, hi - lo + 1)
        print(
            f"{N} attempts submitted in {submit_seconds:.1f} s real; drained in {simulated:.0f} s "
            f"simulated ({len(calls) / simulated:.1f} calls/s), "
            f"{time.perf_counter() - started:.0f} s real in all"
        )
        print(f"task runs {runs}, provider calls {len(calls)}, sweeper re-queues {requeues}")
        plan = ratelimit.schedule(LIMIT, ratelimit.span_seconds())
        most_per_second = plan.per_span / plan.span
        calls_per_second = len(calls) / simulated
        print(
            f"the limiter's plan admits at most {most_per_second:.1f} calls/s sustained; "
            f"messages late by up to {LATE_SECONDS * 1000:.0f} ms"
        )
        print(
            f"RESULT runs_per_call={runs / len(calls):.3f} max_window_calls={window} "
            f"limit={LIMIT} calls_per_s={calls_per_second:.1f} "
            f"quota_use={calls_per_second / most_per_second:.2f} late_ms={LATE_SECONDS * 1000:.0f} "
            f"live_requeues={requeues}"
        )


if __name__ == "__main__":
    main()
