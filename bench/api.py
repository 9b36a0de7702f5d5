"""Throughput and upload memory of ``POST /api/face-idcard/attempts/`` on a real server.

gunicorn (sync workers) serves ``bench.api_wsgi`` on PostgreSQL (its own database, created
and dropped here) with the kombu filesystem transport as broker (its folder in memory: see
``message_folder``). ``wrk`` posts a 500 KB
phone photo (generated here, with EXIF and GPS to strip) at 16 connections, each request with
a distinct valid ID number and the token of one of 2,000 users in turn: as on a site where
each person verifies once, with the app's default daily limits in force (5 an ID number, 10
a user, 3 distinct ID numbers a user), which no request reaches (each API run takes the users
after the previous run's), so it measures accepted (202) requests. Beside it, in the
same run and the same server, a minimal DRF view (``bench/api_urls.py``) that runs the same
image preparation and stores the prepared file. Five rounds of each (6 s a run), their order
alternating; the medians of the requests per second and of p99 are quoted, and as the ratio
the median of the rounds' own ratios.

Then a one-worker server receives a 6 MB photo three times; the worker's peak RSS growth over
each request (``VmHWM`` after resetting it through ``/proc/<pid>/clear_refs``) is compared to
the upload's size (the largest of the three is quoted).

Budgets: throughput ratio (API / baseline) at least 0.6 (issue #25); RSS growth at most 4x the upload.

    .venv/bin/python bench/api.py        # needs wrk (apt-get install -y wrk) and PostgreSQL
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

# Each helper or run its own database: FACE_IDCARD_BENCH_API_DB, else FACE_IDCARD_BENCH_DB
# (the name every other benchmark reads), else a default.
DB_NAME = os.environ.get("FACE_IDCARD_BENCH_API_DB") or os.environ.get(
    "FACE_IDCARD_BENCH_DB", "face_idcard_bench_api"
)
CONNECTIONS = 16
WRK_THREADS = 4  # at most 16: the Lua script strides the ID numbers by 16
RUN_SECONDS = int(os.environ.get("BENCH_API_SECONDS", "6"))
# Rounds of both endpoints, their order alternating. The ratio quoted is the median of the
# rounds' own ratios: each compares two runs a few seconds apart, so that the machine's
# drift (seen here: the baseline at 90 to 130 requests/s within one run) cancels out.
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "5"))
UPLOAD_REPEATS = 3
WORKERS = int(os.environ.get("BENCH_API_WORKERS", str(os.cpu_count() or 2)))
# Enough that no user nears the default daily limits (10 attempts, 3 distinct ID numbers)
# over the rounds, which take the users in turn from one API run to the next; BENCH_API_USERS=16 with FACE_IDCARD_BENCH_LIMITS=raised is the earlier set-up.
USERS = int(os.environ.get("BENCH_API_USERS", "2000"))
NUMBERS_PER_RUN = 20_000
LARGE_UPLOAD_BYTES = 6_000_000
API_PATH = "/api/face-idcard/attempts/"
BASELINE_PATH = "/baseline/"
LUA = ROOT / "bench" / "api_post.lua"


def require_tools() -> None:
    if shutil.which("wrk") is None:
        sys.exit(
            "this benchmark needs wrk: apt-get install -y wrk (Debian/Ubuntu), "
            "or build it from https://github.com/wg/wrk"
        )
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        sys.exit("this benchmark needs gunicorn: pip install -e '.[dev]'")
    if not harness.answers("127.0.0.1", 5432):
        sys.exit("this benchmark needs PostgreSQL on 127.0.0.1:5432")


# --- inputs ---------------------------------------------------------------------------------


def valid_id_numbers(count: int) -> list[str]:
    """``count`` distinct valid ID numbers (Dongcheng, Beijing; born 1970 to 1999)."""
    from stdnum.cn import ric

    from face_idcard._identity import validate_id_number

    numbers = []
    day = date(1970, 1, 1)
    while len(numbers) < count:
        for sequence in range(1000):
            body = f"110101{day:%Y%m%d}{sequence:03d}"
            # calc_check_digit ignores the last character (it takes a whole number).
            numbers.append(validate_id_number(body + ric.calc_check_digit(body + "0")))
        day += timedelta(days=1)
    return numbers[:count]


def large_photo(target: int = LARGE_UPLOAD_BYTES) -> bytes:
    """A 4000 x 3000 phone-like photo of about ``target`` bytes (under the body limit, so
    it is sent as it is, not re-encoded)."""
    from PIL import Image

    from tests.support import imagefactory as factory

    base = factory.picture(4000, 3000)
    noise = Image.effect_noise((4000, 3000), 40).convert("RGB")
    photo = Image.blend(base, noise, 0.5)
    best = b""
    for quality in range(98, 60, -2):
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=quality)
        best = buffer.getvalue()
        if len(best) <= target:
            break
    return best


# --- database -------------------------------------------------------------------------------


def admin_connection() -> Any:
    import psycopg

    return psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True)


@contextlib.contextmanager
def bench_database() -> Iterator[None]:
    with admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DB_NAME}"')
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        yield
    finally:
        from django.db import connections

        connections.close_all()
        with admin_connection() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def create_tokens(count: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        [user_model(username=f"bench{index}") for index in range(count)]
    )
    tokens = Token.objects.bulk_create(
        [Token(user=user, key=Token.generate_key()) for user in users]
    )
    return [token.key for token in tokens]


HISTORY_ROWS = 20_000


def seed_history(rows: int = HISTORY_ROWS) -> None:
    """Copies of the warm-up attempts, older than the limits' day, then ANALYZE: a site's
    table has a history and statistics. (On a new table without statistics PostgreSQL
    counts the limits through the ``rerun_of`` index, a scan of the whole table that slows
    every request as the table grows, until autovacuum analyzes it.)"""
    from django.db import connection

    from face_idcard.models import VerificationAttempt

    fields = VerificationAttempt._meta.concrete_fields
    columns = [f.column for f in fields if f.column not in ("id", "idcard_hash", "created_at")]
    table = VerificationAttempt._meta.db_table
    listed = ", ".join(columns)
    existing = VerificationAttempt.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, idcard_hash, created_at, {listed}) "
            f"SELECT gen_random_uuid(), md5(random()::text), created_at - interval '2 days', "
            f"{listed} FROM {table}, generate_series(1, %s)",
            [max(1, rows // max(1, existing))],
        )
        cursor.execute(f"ANALYZE {table}")


def stored_counts() -> tuple[int, int]:
    """Attempts stored (not the seeded history), and publishes that failed (recorded as
    QUEUED with published=False)."""
    from datetime import timedelta

    from django.utils import timezone

    from face_idcard.models import AttemptEvent, VerificationAttempt

    failed = AttemptEvent.objects.filter(data__published=False).count()
    recent = VerificationAttempt.objects.filter(created_at__gte=timezone.now() - timedelta(days=1))
    return recent.count(), failed


# --- the server -----------------------------------------------------------------------------


@contextlib.contextmanager
def message_folder() -> Iterator[Path]:
    """The filesystem broker's folder, in memory (tmpfs, ``/dev/shm``) where the machine has one.

    The messages are never consumed here: the folder is a sink standing for a broker. kombu's
    filesystem transport (a development transport) creates a file a message, and on this
    VM's ext4 disk creating it cost about 1 ms of CPU: a publish measured 1.28 ms of client
    CPU there, 0.22 ms on tmpfs, against 0.35 to 0.48 ms to Redis and 0.26 to 0.31 ms to
    RabbitMQ (client side; 300 publishes, median of 5). On the disk the benchmark charged the
    API for the transport's files, a cost no production broker has.
    """
    parent = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="face_idcard_bench_broker_", dir=parent) as name:
        folder = Path(name)
        (folder / "control").mkdir()
        yield folder


@contextlib.contextmanager
def server(workers: int, folder: Path) -> Iterator[tuple[int, subprocess.Popen[Any]]]:
    port = harness.free_port()
    environment = {
        **harness.env(),
        "DJANGO_SETTINGS_MODULE": "bench.api_settings",
        "FACE_IDCARD_BENCH_API_DB": DB_NAME,
        "FACE_IDCARD_BENCH_API_BROKER": os.environ["FACE_IDCARD_BENCH_API_BROKER"],
        "FACE_IDCARD_BENCH_API_MEDIA": str(folder / "media"),
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "bench.api_wsgi:application",
            f"--workers={workers}",
            "--worker-class=sync",
            f"--bind=127.0.0.1:{port}",
            "--timeout=60",
            "--backlog=64",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
    )
    try:
        harness.wait_for_port(port, timeout=30)
        yield port, process
    finally:
        harness.stop(process)


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def multipart(fields: dict[str, str], photo: bytes) -> tuple[bytes, str]:
    boundary = "----facebenchpy"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post(port: int, path: str, token: str, fields: dict[str, str], photo: bytes) -> int:
    return post_answer(port, path, token, fields, photo)[0]


def post_answer(
    port: int, path: str, token: str, fields: dict[str, str], photo: bytes
) -> tuple[int, bytes]:
    """POST a multipart attempt; the status and the body of the answer."""
    body, content_type = multipart(fields, photo)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Authorization": f"Token {token}", "Content-Type": content_type},
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def fields_for(number: str) -> dict[str, str]:
    return {"idcard_number": number, "idcard_name": "张三", "consent": "true"}


# --- wrk ------------------------------------------------------------------------------------

_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")


def run_wrk(port: int, path: str, photo: Path, numbers: Path, tokens: Path, api: bool) -> dict:
    load = os.getloadavg()[0]
    completed = subprocess.run(
        [
            "wrk",
            f"-t{WRK_THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{RUN_SECONDS}s",
            "--timeout=10s",
            "--latency",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}{path}",
            "--",
            str(photo),
            str(numbers),
            str(tokens),
            "1" if api else "0",
            str(WRK_THREADS),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS + 30,
        check=True,
    )
    output = completed.stdout
    statuses = {
        int(code): int(count) for code, count in re.findall(r"^STATUS (\d+) (\d+)$", output, re.M)
    }
    p99_us = int(re.search(r"^P99_US (\d+)$", output, re.M).group(1))  # type: ignore[union-attr]
    rps = float(_RPS.search(output).group(1))  # type: ignore[union-attr]
    total = sum(statuses.values()) or 1
    return {
        "rps": rps * statuses.get(202, 0) / total,  # accepted requests only
        "statuses": statuses,
        "p99_ms": p99_us / 1000,
        "load": load,
        "errors": "Socket errors" in output or "Non-2xx" in output,
    }


def throughput(folder: Path, photo: bytes, tokens: list[str]) -> dict[str, list[dict]]:
    photo_file = folder / "photo.jpg"
    photo_file.write_bytes(photo)
    tokens_file = folder / "tokens.txt"
    numbers = valid_id_numbers(NUMBERS_PER_RUN * ROUNDS + 10)
    warm_numbers = numbers[-10:]
    results: dict[str, list[dict]] = {"api": [], "baseline": []}
    with server(WORKERS, folder) as (port, _process):
        for index, number in enumerate(warm_numbers):  # imports, connections, both endpoints
            assert post(port, API_PATH, tokens[index % USERS], fields_for(number), photo) == 202
            assert post(port, BASELINE_PATH, tokens[index % USERS], {}, photo) == 202
        seed_history()
        # Where the next API run's users start: past those of the warm-up and of the runs so
        # far. Each wrk run starts its list over, and the users of the first runs, given a
        # new ID number at every run, reached MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY (3) by the
        # fourth: refused (429), which measured the limit, not the throughput.
        first_user = len(warm_numbers)
        for round_index in range(ROUNDS):
            numbers_file = folder / f"numbers{round_index}.txt"
            chunk = numbers[round_index * NUMBERS_PER_RUN : (round_index + 1) * NUMBERS_PER_RUN]
            numbers_file.write_text("\n".join(chunk) + "\n")
            order = ["api", "baseline"] if round_index % 2 == 0 else ["baseline", "api"]
            for name in order:
                path = API_PATH if name == "api" else BASELINE_PATH
                start = first_user % len(tokens) if name == "api" else 0
                tokens_file.write_text("\n".join(tokens[start:] + tokens[:start]) + "\n")
                result = run_wrk(port, path, photo_file, numbers_file, tokens_file, name == "api")
                results[name].append(result)
                if name == "api":
                    # The answered requests, and at most one in flight a connection at the end.
                    first_user += sum(result["statuses"].values()) + CONNECTIONS
                print(
                    f"round {round_index + 1} {name:8} {result['rps']:7.1f} accepted/s  "
                    f"p99 {result['p99_ms']:7.1f} ms  statuses {result['statuses']}  "
                    f"load {result['load']:.2f}",
                    flush=True,
                )
    return results


# --- memory ---------------------------------------------------------------------------------


def upload_growth(folder: Path, tokens: list[str]) -> dict[str, list[float]]:
    """Peak RSS growth (bytes) of the one worker over each 6 MB upload, API and baseline."""
    from bench.images import ordinary_photo

    photo = large_photo()
    small = ordinary_photo()
    numbers = valid_id_numbers(40)
    print(f"large upload: {len(photo)} bytes", flush=True)
    growth: dict[str, list[float]] = {"api": [], "baseline": []}
    with server(1, folder) as (port, process):
        time.sleep(0.5)
        (worker,) = worker_pids(process.pid)
        # A user of its own for each API request (the throughput rounds used them all).
        spare = iter(reversed(tokens))
        for number in numbers[:5]:
            assert post(port, API_PATH, next(spare), fields_for(number), small) == 202
            assert post(port, BASELINE_PATH, tokens[0], {}, small) == 202
        for index in range(UPLOAD_REPEATS):
            for name, path in (("api", API_PATH), ("baseline", BASELINE_PATH)):
                before = status_kb(worker, "VmRSS")
                # Resets VmHWM to the current RSS (Linux >= 4.0): it then measures this request.
                Path(f"/proc/{worker}/clear_refs").write_text("5")
                fields = fields_for(numbers[10 + index]) if name == "api" else {}
                answer = post(
                    port, path, next(spare) if name == "api" else tokens[0], fields, photo
                )
                if answer != 202:
                    raise RuntimeError(f"{name}: the 6 MB upload was answered {answer}")
                peak = status_kb(worker, "VmHWM")
                growth[name].append((peak - before) * 1024 / len(photo))
    return growth


def main() -> None:
    require_tools()
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.api_settings"
    os.environ["FACE_IDCARD_BENCH_API_DB"] = DB_NAME
    from bench.images import ordinary_photo

    with (
        tempfile.TemporaryDirectory(prefix="face_idcard_bench_api_") as name,
        message_folder() as broker,
    ):
        folder = Path(name)
        os.environ["FACE_IDCARD_BENCH_API_BROKER"] = str(broker)
        (folder / "media").mkdir()
        with bench_database():
            tokens = create_tokens(USERS)
            photo = ordinary_photo()
            print(
                f"photo {len(photo)} bytes, {CONNECTIONS} connections, {WORKERS} sync workers, "
                f"{RUN_SECONDS} s a run",
                flush=True,
            )
            results = throughput(folder, photo, tokens)
            accepted = sum(r["statuses"].get(202, 0) for r in results["api"]) + 10
            stored, failed_publishes = stored_counts()
            messages = len(list(broker.glob("*.msg")))
            print(
                f"stored {stored} attempts for {accepted} accepted API requests; "
                f"{messages} broker messages; {failed_publishes} failed publishes",
                flush=True,
            )
            # Requests still in flight when wrk stops are stored but not counted: one a
            # connection and run at most.
            if not accepted <= stored <= accepted + CONNECTIONS * ROUNDS or failed_publishes:
                raise SystemExit("the API accepted requests it did not store or publish")
            growth = upload_growth(folder, tokens)
    api_rps = harness.median([r["rps"] for r in results["api"]])
    baseline_rps = harness.median([r["rps"] for r in results["baseline"]])
    api_p99 = harness.median([r["p99_ms"] for r in results["api"]])
    baseline_p99 = harness.median([r["p99_ms"] for r in results["baseline"]])
    load = harness.median([r["load"] for r in results["api"] + results["baseline"]])
    rss_ratio = max(growth["api"])
    print(
        "upload RSS growth / upload size: api "
        + ", ".join(f"{value:.2f}" for value in growth["api"])
        + "; baseline "
        + ", ".join(f"{value:.2f}" for value in growth["baseline"])
    )
    round_ratios = [
        api["rps"] / baseline["rps"] if baseline["rps"] else float("nan")
        for api, baseline in zip(results["api"], results["baseline"], strict=True)
    ]
    ratio = harness.median(round_ratios)
    print(
        "ratio by round: "
        + ", ".join(f"{value:.3f}" for value in round_ratios)
        + f"; ratio of the medians {api_rps / baseline_rps if baseline_rps else float('nan'):.3f}"
    )
    print(
        f"budgets: ratio >= 0.6 {'ok' if ratio >= 0.6 else 'MISSED'}; "
        f"upload_rss_ratio <= 4 {'ok' if rss_ratio <= 4 else 'MISSED'}"
    )
    print(
        f"RESULT api_rps={api_rps:.1f} baseline_rps={baseline_rps:.1f} ratio={ratio:.2f} "
        f"p99_ms={api_p99:.0f} upload_rss_ratio={rss_ratio:.2f} baseline_p99_ms={baseline_p99:.0f} "
        f"baseline_upload_rss_ratio={max(growth['baseline']):.2f} load_avg={load:.2f}"
    )


if __name__ == "__main__":
    main()
