"""Pipeline throughput against a bare loop of client calls, same machine, same run.

1,000 attempts go through the whole pipeline (submit -> Redis -> Celery prefork worker with
concurrency 8 -> claim -> simulator with 50 ms latency -> record in PostgreSQL). The baseline is
the same number of ``IdCardCompareClient.compare`` calls from 8 threads against the same
simulator. Prints both throughputs, their ratio (target >= 0.8) and the median per-attempt
overhead outside the provider call; the last line adds the worker's CPU per attempt in the steady
state (/proc, the worker and its pool processes) and the bare loop's client CPU per call.

    .venv/bin/python bench/pipeline.py            # BENCH_N=1000 BENCH_LATENCY_MS=50
    BENCH_BACKEND=faceid .venv/bin/python bench/pipeline.py

``BENCH_BACKEND=faceid`` runs the same measurement for FaceID ImageRecognitionV2: the pipeline
through the ``faceid`` backend against a bare loop of Tencent SDK calls
(``FaceidClient.ImageRecognitionV2``, one client shared by the threads, as the backend does).
``BENCH_BACKEND=aliyun`` does it for Alibaba Cloud's ContrastFaceVerify: the pipeline through the
``aliyun`` backend against a bare loop of the same client it uses
(``CloudauthClient.contrast_face_verify``, one client shared by the threads).
``BENCH_LIVENESS=1`` runs the faceid measurement with ``LIVENESS = "record"``: each attempt's
``DetectAIFakeFaces`` pre-check before its comparison (the simulator without the pre-check's
quota). Compare its ``worker_cpu_ms`` with a ``BENCH_BACKEND=faceid`` run without it: the
pre-check should add one provider round trip and at most 2 ms of worker CPU per attempt.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

N = int(os.environ.get("BENCH_N", "1000"))
LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "50"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
POOL = os.environ.get("BENCH_POOL", "prefork")
BARE_ROUNDS = int(os.environ.get("BENCH_BARE_ROUNDS", "3"))
NAME = "张三"
LIVENESS = os.environ.get("BENCH_LIVENESS") == "1"
# The pre-check is FaceID's: BENCH_LIVENESS=1 implies the faceid backend.
BACKEND = "faceid" if LIVENESS else os.environ.get("BENCH_BACKEND", "legacy")
if LIVENESS:
    os.environ["BENCH_BACKEND"] = "faceid"  # read by bench/settings.py


def bare_round(base_url: str, number: str, image: bytes) -> tuple[float, float]:
    """(calls per second, client CPU ms per call) of one bare round."""
    from face_idcard.providers.legacy.client import IdCardCompareClient
    from face_idcard.simulator import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    client = IdCardCompareClient(
        DEFAULT_APPID,
        DEFAULT_SECRET_ID,
        DEFAULT_SECRET_KEY,
        endpoint=base_url,
        pool_maxsize=CONCURRENCY,
    )

    def one(index: int) -> str:
        return client.compare(number, NAME, image=image, session_id=f"bare{index}").code

    started = time.perf_counter()
    cpu_started = time.process_time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        codes = list(pool.map(one, range(N)))
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu_started) / N * 1000
    client.close()
    assert codes.count("0") == N, f"bare loop: {N - codes.count('0')} calls failed"
    return N / elapsed, cpu_ms


def bare_faceid_round(base_url: str, number: str, image: bytes) -> tuple[float, float]:
    """(calls per second, client CPU ms per call) of one bare round of SDK calls."""
    import base64

    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.faceid.v20180301 import faceid_client, models

    from face_idcard.simulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    host = base_url.split("://", 1)[1]
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=host, protocol="http", reqTimeout=10))
    client = faceid_client.FaceidClient(
        credential.Credential(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY), "", profile
    )
    image_b64 = base64.b64encode(image).decode("ascii")

    def one(index: int) -> str:
        request = models.ImageRecognitionV2Request()
        request.IdCard, request.Name, request.ImageBase64 = number, NAME, image_b64
        request.Extra = f"bare{index}"[:10]
        return str(client.ImageRecognitionV2(request).Result)

    started = time.perf_counter()
    cpu_started = time.process_time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(one, range(N)))
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu_started) / N * 1000
    failed = N - results.count("Success")
    assert not failed, f"bare SDK loop: {failed} calls failed"
    return N / elapsed, cpu_ms


def bare_aliyun_round(base_url: str, number: str, image: bytes) -> tuple[float, float]:
    """(calls per second, client CPU ms per call) of one bare round of our Cloudauth client."""
    import base64

    from face_idcard.providers.aliyun.client import CloudauthClient
    from face_idcard.simulator import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

    client = CloudauthClient(
        DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, endpoint=base_url, pool_maxsize=CONCURRENCY
    )
    image_b64 = base64.b64encode(image).decode("ascii")

    def one(index: int) -> str:
        fields = {
            "SceneId": DEFAULT_APPID,
            "OuterOrderNo": f"bare{index}",
            "ProductCode": "ID_MIN",
            "CertType": "IDENTITY_CARD",
            "CertName": NAME,
            "CertNo": number,
            "FaceContrastPicture": image_b64,
        }
        answer = client.contrast_face_verify(fields)
        return f"{answer.code}.{answer.sub_code}"

    started = time.perf_counter()
    cpu_started = time.process_time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(one, range(N)))
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu_started) / N * 1000
    client.close()
    failed = N - results.count("200.200")
    assert not failed, f"bare client loop: {failed} calls failed"
    return N / elapsed, cpu_ms


BARE_ROUNDS_BY_BACKEND = {
    "legacy": bare_round,
    "faceid": bare_faceid_round,
    "aliyun": bare_aliyun_round,
}


def main() -> None:
    harness.require_services()
    extra = ("--precheck-qps", "0") if LIVENESS else ()
    with harness.simulator("--latency-ms", str(LATENCY_MS), *extra) as base_url:
        from face_idcard.simulator import magic
        from face_idcard.simulator.registry import demo_people

        image = demo_people()[0].photo_bytes
        if BACKEND == "aliyun":
            from tests.support.imagefactory import enlarged

            # Alibaba Cloud's smallest photo is 640 x 480: the same portrait at that size.
            image = enlarged(image, (480, 640))
        number = magic.MATCH

        one_round = BARE_ROUNDS_BY_BACKEND[BACKEND]
        rounds = [one_round(base_url, number, image) for _ in range(BARE_ROUNDS)]
        bare = [r[0] for r in rounds]
        bare_rps = harness.median(bare)
        bare_cpu_ms = harness.median([r[1] for r in rounds])
        print(
            f"bare {'SDK' if BACKEND == 'faceid' else 'client'} loop ({BACKEND}), "
            f"{CONCURRENCY} threads, {N} calls: "
            f"{', '.join(f'{r:.1f}' for r in bare)} calls/s (median {bare_rps:.1f})"
        )

        harness.setup_django(base_url)
        from django.conf import settings
        from django.utils import timezone

        import bench.celery_app  # noqa: F401  (the publisher's app: the Redis broker)
        from face_idcard import services
        from face_idcard.models import VerificationAttempt
        from face_idcard.states import TERMINAL

        harness.reset_state(settings.CELERY_BROKER_URL)
        harness.post(base_url + "/__simulator__/reset")
        started = time.perf_counter()
        for _ in range(N):
            services.submit(
                idcard_number=number, idcard_name=NAME, image=image, consent_at=timezone.now()
            )
        submit_seconds = time.perf_counter() - started
        print(
            f"submitted {N} attempts in {submit_seconds:.1f} s "
            f"({N / submit_seconds:.0f}/s, validation + encryption + storage + enqueue)"
        )

        timings_dir = tempfile.mkdtemp(prefix="fi_bench_timings_")
        os.environ["FACE_IDCARD_BENCH_TIMINGS_DIR"] = timings_dir  # inherited by the worker
        wall_started = time.perf_counter()
        busy_before = harness.machine_busy()
        cpu_before = harness.cpu_by_command()
        workers = harness.start_workers(1, CONCURRENCY, pool=POOL)
        try:
            deadline = time.monotonic() + 600
            # (attempts done, worker CPU seconds) while it runs: the steady state between 10%
            # and 90% done gives the CPU per attempt without start-up, first-task imports in
            # each pool process, or the tail.
            readings: list[tuple[int, float]] = []
            while (done := VerificationAttempt.objects.filter(status__in=TERMINAL).count()) < N:
                if time.monotonic() > deadline:
                    raise SystemExit("pipeline did not finish within 600 s")
                readings.append((done, sum(harness.cpu_seconds(proc.pid) for proc in workers)))
                time.sleep(0.2)
            worker_cpu = sum(harness.cpu_seconds(proc.pid) for proc in workers)
            busy_after = harness.machine_busy()
            cpu_after = harness.cpu_by_command()
        finally:
            harness.stop_workers(workers)
        wall = time.perf_counter() - wall_started

        rows = list(
            VerificationAttempt.objects.values_list(
                "status", "started_at", "finished_at", "provider_latency_ms", "provider_calls"
            )
        )
        statuses = {row[0] for row in rows}
        assert statuses == {"completed"}, f"unexpected statuses {statuses}"
        first = min(row[1] for row in rows)
        last = max(row[2] for row in rows)
        window = (last - first).total_seconds()
        pipeline_rps = N / window
        latency_by_id = dict(VerificationAttempt.objects.values_list("id", "provider_latency_ms"))
        timings = [
            line
            for path in sorted(Path(timings_dir).iterdir())
            for line in path.read_text().splitlines()
        ]
        shutil.rmtree(timings_dir, ignore_errors=True)
        overheads = []
        for line in timings:
            attempt_id, action, task_ms = line.split()
            if action == "done":
                overheads.append(float(task_ms) - latency_by_id[uuid.UUID(attempt_id)])
        overhead = harness.median(overheads)
        stats = harness.get_json(base_url + "/__simulator__/stats")
        ratio = pipeline_rps / bare_rps
        print(
            f"pipeline, 1 worker x {CONCURRENCY} {POOL}: {N} attempts, first claim to last "
            f"record {window:.2f} s = {pipeline_rps:.1f} attempts/s "
            f"(wall incl. worker start-up {wall:.1f} s)"
        )
        print(
            f"median per-attempt overhead outside the provider call: {overhead:.1f} ms "
            f"(task wall time minus provider latency, {len(overheads)} tasks)"
        )
        utilisation = (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
        print(
            f"machine CPU busy during the pipeline run: {utilisation:.0%} of {os.cpu_count()} cores"
        )
        spent = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items()}
        top = sorted(spent.items(), key=lambda item: -item[1])[:6]
        print(
            "CPU ms per attempt by process: "
            + ", ".join(f"{name} {seconds / N * 1000:.1f}" for name, seconds in top)
        )
        steady = [r for r in readings if N * 0.1 <= r[0] <= N * 0.9]
        (done_a, cpu_a), (done_b, cpu_b) = steady[0], steady[-1]
        worker_cpu_ms = (cpu_b - cpu_a) / max(1, done_b - done_a) * 1000
        print(
            f"worker CPU: {worker_cpu:.1f} s in all ({worker_cpu / N * 1000:.1f} ms per attempt "
            f"with start-up); steady state {worker_cpu_ms:.1f} ms per attempt over "
            f"{done_b - done_a} attempts; bare loop client {bare_cpu_ms:.1f} ms per call"
        )
        print(
            f"simulator ledger: {stats['total']} calls, {stats['billable']} billable, "
            f"max provider calls per attempt {max(row[4] for row in rows)}"
        )
        backend_field = f" backend={BACKEND}" if BACKEND != "legacy" else ""
        backend_field += " liveness=record" if LIVENESS else ""
        print(
            f"RESULT pipeline_rps={pipeline_rps:.1f} bare_rps={bare_rps:.1f} "
            f"ratio={ratio:.2f} overhead_ms={overhead:.1f} "
            f"worker_cpu_ms={worker_cpu_ms:.1f} bare_cpu_ms={bare_cpu_ms:.1f}{backend_field}"
        )


if __name__ == "__main__":
    main()
