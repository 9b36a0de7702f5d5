"""CPU per request of ``POST /api/face-idcard/attempts/`` and of bench/api.py's baseline, in
one process: the steadier companion of ``bench/api.py``.

bench/api.py measures requests per second on a real server, loaded by wrk on the same two
cores; on this machine its rounds drift (the baseline seen at 65 to 130 requests/s within
minutes). Here Django's test client sends the same multipart bodies (the 500 KB photo, a
distinct valid ID number and one of the 2,000 users in turn for the API) through the same
URLconf and settings, on PostgreSQL, in batches alternating between the two endpoints; each
batch's CPU is this process's (``time.process_time``) plus its PostgreSQL backend's (from
``/proc``). Each round compares two batches seconds apart; the ratio quoted (baseline CPU /
API CPU, the throughput ratio a CPU-bound server would see, without the HTTP server's and
the load generator's share, which both endpoints pay alike) is the median of the rounds'.

    .venv/bin/python bench/api_cpu.py      # needs PostgreSQL; BENCH_API_CPU_BATCH, _ROUNDS
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import api, harness  # noqa: E402

BATCH = int(os.environ.get("BENCH_API_CPU_BATCH", "60"))
ROUNDS = int(os.environ.get("BENCH_API_CPU_ROUNDS", "6"))
WARM = 10
TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    """User and system CPU seconds of a process (here PostgreSQL's backend of ours)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> None:
    if not harness.answers("127.0.0.1", 5432):
        sys.exit("this benchmark needs PostgreSQL on 127.0.0.1:5432")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.api_settings"
    os.environ["FACE_IDCARD_BENCH_API_DB"] = api.DB_NAME
    with (
        tempfile.TemporaryDirectory(prefix="face_idcard_bench_api_cpu_") as name,
        api.message_folder() as broker,
    ):
        folder = Path(name)
        os.environ["FACE_IDCARD_BENCH_API_BROKER"] = str(broker)
        os.environ["FACE_IDCARD_BENCH_API_MEDIA"] = str(folder / "media")
        (folder / "media").mkdir()
        with api.bench_database():
            results = measure()
    report(results)


def measure() -> dict[str, list[float]]:
    from celery import Celery
    from django.db import connection
    from django.test import Client

    from bench.images import ordinary_photo

    # The server's Celery app (bench/api_wsgi.py): the filesystem broker of the settings.
    celery_app = Celery("face_idcard_bench_api_cpu")
    celery_app.config_from_object("django.conf:settings", namespace="CELERY")
    celery_app.set_current()
    celery_app.set_default()

    tokens = api.create_tokens(api.USERS)
    photo = ordinary_photo()
    numbers = iter(api.valid_id_numbers(BATCH * ROUNDS + WARM))
    turn = itertools.count()
    client = Client()

    def post(to_api: bool) -> None:
        fields = api.fields_for(next(numbers)) if to_api else {}
        body, content_type = api.multipart(fields, photo)
        response = client.generic(
            "POST",
            api.API_PATH if to_api else api.BASELINE_PATH,
            body,
            content_type=content_type,
            HTTP_AUTHORIZATION=f"Token {tokens[next(turn) % len(tokens)]}",
        )
        if response.status_code != 202:
            raise SystemExit(f"answered {response.status_code}: {response.content[:300]!r}")

    for _ in range(WARM):
        post(True)
        post(False)
    api.seed_history()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    results: dict[str, list[float]] = {"api": [], "baseline": []}
    for round_index in range(ROUNDS):
        order = ("api", "baseline") if round_index % 2 == 0 else ("baseline", "api")
        for name in order:
            started, started_db = time.process_time(), backend_cpu(backend)
            for _ in range(BATCH):
                post(name == "api")
            spent = time.process_time() - started + backend_cpu(backend) - started_db
            results[name].append(spent * 1000 / BATCH)
            print(f"round {round_index + 1} {name:8} {results[name][-1]:6.2f} ms", flush=True)
    return results


def report(results: dict[str, list[float]]) -> None:
    ratios = [b / a for a, b in zip(results["api"], results["baseline"], strict=True)]
    api_ms = statistics.median(results["api"])
    baseline_ms = statistics.median(results["baseline"])
    print("ratio by round: " + ", ".join(f"{value:.3f}" for value in ratios))
    print(
        f"RESULT api_cpu_ms={api_ms:.2f} baseline_cpu_ms={baseline_ms:.2f} "
        f"ratio={statistics.median(ratios):.3f} load_avg={os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
