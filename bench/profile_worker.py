"""Where the worker's CPU goes per attempt: cProfile around ``verify_attempt``'s body.

The same work as one task in ``bench/pipeline.py`` (claim, decrypt, selfie, request, signing,
HTTP to the simulator, parsing, record with its audit events, signals), in this process, so
the profile holds only the worker's side. Prints the functions with the most cumulative time
and the CPU per attempt.

    .venv/bin/python bench/profile_worker.py          # BENCH_N=400
    BENCH_TIMER=cpu BENCH_SORT=tottime .venv/bin/python bench/profile_worker.py
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

N = int(os.environ.get("BENCH_N", "400"))
TOP = int(os.environ.get("BENCH_TOP", "40"))


def main() -> None:
    harness.require_services()
    os.environ.setdefault("FACE_IDCARD_BENCH_DB", "face_idcard_profile")
    with harness.simulator() as base_url:
        harness.setup_django(base_url)
        from django.db import connection
        from django.utils import timezone

        from face_idcard import services, tasks
        from face_idcard.simulator import magic
        from face_idcard.simulator.registry import demo_people

        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE face_idcard_attemptevent, face_idcard_verificationattempt CASCADE"
            )
        image = demo_people()[0].photo_bytes
        ids = [
            str(
                services.submit(
                    idcard_number=magic.MATCH,
                    idcard_name="张三",
                    image=image,
                    consent_at=timezone.now(),
                    enqueue=False,
                ).pk
            )
            for _ in range(N + 20)
        ]
        for attempt_id in ids[:20]:  # warm up: connections, caches, imports
            tasks.verify_attempt.run(attempt_id)
        profiled = os.environ.get("BENCH_PROFILE", "1") != "0"
        # BENCH_TIMER=cpu: the profile counts this process's CPU time (waits on PostgreSQL and
        # the simulator drop out), the figure bench/pipeline.py's worker_cpu_ms is about.
        timer = time.process_time if os.environ.get("BENCH_TIMER") == "cpu" else time.perf_counter
        profile = cProfile.Profile(timer)
        cpu = time.process_time()
        if profiled:
            profile.enable()
        for attempt_id in ids[20:]:
            tasks.verify_attempt.run(attempt_id)
        profile.disable()
        cpu_ms = (time.process_time() - cpu) / N * 1000
        if profiled and os.environ.get("BENCH_PSTATS"):
            profile.dump_stats(os.environ["BENCH_PSTATS"])  # for pstats' callers/callees
        if profiled:
            out = io.StringIO()
            order = os.environ.get("BENCH_SORT", "cumulative")
            pstats.Stats(profile, stream=out).sort_stats(order).print_stats(TOP)
            print(out.getvalue())
        where = "under the profiler" if profiled else "no profiler"
        print(f"RESULT worker_cpu_ms={cpu_ms:.2f} ({where}, in-process, task body only)")


if __name__ == "__main__":
    main()
