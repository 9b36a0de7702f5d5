"""The review console and the statistics at a million attempts (PostgreSQL).

1,000,000 attempts (and one provider-call event each) are bulk-loaded with ``generate_series``
into a database of their own, with a spread of statuses, decisions, reasons, backends and
dates over 90 days. Then the Django test Client (in process) renders, 5 times each after a
warm-up, the changelist, the review queue, a search by ID number, the statistics page (30
days, the widest window, then 7 days, 24 hours and 30 days of one backend), the calibration
and the abuse signals; the median time and the query count of each are printed, and the time
to build the daily provider-call summaries from nothing (and to check them again). Then the
filing threshold's count read (face_idcard._filing, over a register of the 400,000 distinct
hashes) and a 30-day export of the processing records streamed through the admin
(face_idcard._records). Targets: changelist, queue and search at most 300 ms, statistics at
most 1 s, the count read at most 50 ms, the export at most 5 s. The database is dropped at
the end.

    .venv/bin/python bench/admin.py          # BENCH_ROWS=1000000

A loaded million rows take minutes to rebuild, so while iterating: ``BENCH_KEEP=1`` keeps the
database at the end, ``BENCH_REUSE=1`` skips the load when the database already holds
``BENCH_ROWS`` attempts (``BENCH_LOAD_ONLY=1`` loads and stops, so the timed part alone can run
under the benchmark lock). ``FACE_IDCARD_BENCH_DB`` names the database.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DB_NAME = os.environ.get("FACE_IDCARD_BENCH_DB", "face_idcard_bench_admin")
os.environ["FACE_IDCARD_BENCH_DB"] = DB_NAME
KEEP = bool(os.environ.get("BENCH_KEEP"))
REUSE = bool(os.environ.get("BENCH_REUSE"))
LOAD_ONLY = bool(os.environ.get("BENCH_LOAD_ONLY"))

from bench import harness  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
RUNS = 5
USERS = 1000
#: The ID number searched for; ~20 attempts carry its hash.
SEARCHED = "11010519491231002X"

STATUSES = ("completed",) * 14 + (
    "rejected",
    "rejected",
    "failed",
    "queued",
    "retry_wait",
    "canceled",
)
DECISIONS = ("match", "match", "match", "no_match", "review")
REASONS = (
    "match",
    "low_similarity",
    "name_mismatch",
    "no_face",
    "provider_unavailable",
    "id_not_found",
)


def _sql_array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{value}'" for value in values) + "]"


def _column(field: Any) -> str:
    """The SQL expression filling ``field`` for row number ``g``."""
    name = field.column
    pick = lambda values, salt: f"({_sql_array(values)})[1 + ((g * {salt}) % {len(values)})]"  # noqa: E731
    special = {
        "id": "md5(g::text)::uuid",
        "user_id": f"(SELECT min(id) FROM auth_user) + (g % {USERS})",
        "backend": "CASE WHEN g % 4 = 0 THEN 'faceid' ELSE 'simulator' END",
        "idcard_hash": "CASE WHEN g % 50000 = 7 THEN %(searched)s ELSE md5((g % 400000)::text) END",
        "idcard_number_masked": "'1101**********0014'",
        "idcard_name_masked": "'张*'",
        "status": pick(STATUSES, 7),
        "decision": f"CASE WHEN {pick(STATUSES, 7)} = 'completed' THEN {pick(DECISIONS, 13)} ELSE 'none' END",
        "reason": pick(REASONS, 11),
        "error_code": "CASE WHEN g % 3 = 0 THEN '-5803' ELSE '0' END",
        "similarity": "(g * 37 % 1000) / 10.0",
        "threshold": "75.0",
        "provider_latency_ms": "(g * 17 % 900)::float",
        "created_at": "now() - ((g * 7919) % 7776000) * interval '1 second'",
        "consent_at": "now() - ((g * 7919) % 7776000) * interval '1 second'",
        "reviewed_at": "CASE WHEN g % 5 = 1 THEN now() - (g % 86400) * interval '1 second' END",
        "review_decision": "CASE WHEN g % 5 = 1 THEN (CASE WHEN g % 2 = 0 THEN 'match' ELSE 'no_match' END) ELSE '' END",
        "audit_sample": "g % 97 = 0",
        "liveness_attack_types": "'[]'::jsonb",
    }
    if name in special:
        return special[name]
    if field.null:
        return "NULL"
    internal = field.get_internal_type()
    if internal in ("CharField", "TextField"):
        return "''"
    if internal == "BooleanField":
        return "false"
    if "Integer" in internal:
        return "0"
    raise RuntimeError(f"no filler for {name} ({internal})")


def load(rows: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from face_idcard import _filing as filing
    from face_idcard import crypto
    from face_idcard.models import VerificationAttempt

    get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench-user-{i}") for i in range(USERS)]
    )
    fields = VerificationAttempt._meta.concrete_fields
    columns = ", ".join(field.column for field in fields)
    values = ", ".join(_column(field) for field in fields)
    searched = crypto.id_number_hashes(SEARCHED)[0]
    table = VerificationAttempt._meta.db_table
    with connection.cursor() as cursor:
        # The modulo operator doubled: the driver reads a lone % as a placeholder.
        values = values.replace(" % ", " %% ")
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {values} FROM generate_series(1::bigint, %(rows)s::bigint) g",
            {"rows": rows, "searched": searched},
        )
        cursor.execute(
            "INSERT INTO face_idcard_attemptevent (attempt_id, kind, created_at, data) "
            f"SELECT id, 'provider_call', created_at, jsonb_build_object("
            "'latency_ms', provider_latency_ms, 'billable', error_code <> '-5803', 'code', error_code) "
            f"FROM {table}"
        )
        # The filing register as submits would have left it: one row per distinct hash, first
        # seen at its first attempt, and the counts per key and shard (face_idcard._filing).
        cursor.execute(
            "INSERT INTO face_idcard_filingperson (idcard_hash, hash_key_id, first_seen_at) "
            f"SELECT idcard_hash, 'bench', min(created_at) FROM {table} GROUP BY idcard_hash"
        )
        cursor.execute(
            "INSERT INTO face_idcard_filingcount (hash_key_id, shard, people) "
            "SELECT hash_key_id, ('x' || substr(idcard_hash, 1, 4))::bit(16)::int %% %(shards)s, "
            "count(*) FROM face_idcard_filingperson GROUP BY 1, 2",
            {"shards": filing.SHARDS},
        )
        # As autovacuum would after a bulk load: statistics and the visibility map.
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("VACUUM ANALYZE face_idcard_attemptevent")
        cursor.execute("VACUUM ANALYZE face_idcard_filingperson")


def measure(
    client: Any, method: str, url: str, data: dict[str, str] | None = None
) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def once() -> Any:
        response = client.post(url, data) if method == "POST" else client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    once()
    if os.environ.get("BENCH_PROFILE") and "verificationattempt/" in url and method == "GET":
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(once)
        pstats.Stats(profiler).sort_stats("cumulative").sort_stats("tottime").print_stats(18)
    timings = []
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            once()
            timings.append((time.perf_counter() - start) * 1000)
    if os.environ.get("BENCH_VERBOSE"):
        for query in sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]:
            print(f"  {query['time']} s  {query['sql'][:300]}")
    return harness.median(timings), len(captured.captured_queries)


def measure_filing_and_records(client: Any, base: str) -> dict[str, float]:
    """The filing count read (target: at most 50 ms), the filing page, and a 30-day export
    of the processing records, built, stored, audited and streamed to its last byte through
    the admin (target: at most 5 s). Medians of RUNS runs after a warm-up."""
    from datetime import timedelta

    from django.utils import timezone

    from face_idcard import _filing as filing

    def timed(run: Any, runs: int = RUNS) -> float:
        run()
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            run()
            timings.append((time.perf_counter() - start) * 1000)
        return harness.median(timings)

    people = filing.people_count()
    figures = {
        "filing_count_ms": timed(filing.people_count),
        "filing_status_ms": timed(filing.status),
        "filing_page_ms": measure(client, "GET", base + "verificationstatistics/filing/")[0],
    }
    today = timezone.localdate()
    query = {
        "date_from": str(today - timedelta(days=29)),
        "date_to": str(today),
        "format": "csv",
        "language": "zh-hans",
    }

    def export() -> None:
        response = client.get(base + "verificationstatistics/records/", query)
        assert response.status_code == 200 and response.streaming, response.status_code
        assert b"".join(response.streaming_content)

    figures["records_export_30d_ms"] = timed(export, runs=3)
    print(
        f"filing: {people} people, count read {figures['filing_count_ms']:.1f} ms, "
        f"status {figures['filing_status_ms']:.1f} ms, page {figures['filing_page_ms']:.1f} ms; "
        f"30-day records export (csv, streamed) {figures['records_export_30d_ms']:.0f} ms",
        flush=True,
    )
    return figures


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def main() -> None:
    harness.require_services()
    harness.setup_django("http://127.0.0.1:9")
    try:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client

        from face_idcard.models import VerificationAttempt

        if REUSE and VerificationAttempt.objects.count() == ROWS:
            print(f"reusing the {ROWS} attempts in {DB_NAME}", flush=True)
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    "TRUNCATE face_idcard_attemptevent, face_idcard_idempotencykey, face_idcard_verificationattempt, "
                    "face_idcard_filingperson, face_idcard_filingcount, face_idcard_filingmark, auth_user CASCADE"
                )
            start = time.perf_counter()
            load(ROWS)
            print(
                f"loaded {ROWS} attempts and {ROWS} events in {time.perf_counter() - start:.1f} s",
                flush=True,
            )
        if LOAD_ONLY:
            return
        admin, _ = get_user_model().objects.get_or_create(
            username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
        )
        # The daily provider-call summaries, built from nothing (the periodic task's first run
        # after a deployment), then checked again with nothing to do.
        from face_idcard.insight import rollup
        from face_idcard.models import ProviderCallDay

        ProviderCallDay.objects.all().delete()
        start = time.perf_counter()
        rebuilt = rollup.refresh()
        refresh_full = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        assert rollup.refresh() == 0
        refresh_noop = (time.perf_counter() - start) * 1000
        print(
            f"summaries: {rebuilt} days built in {refresh_full:.0f} ms, "
            f"checked again in {refresh_noop:.0f} ms",
            flush=True,
        )
        client = Client()
        client.force_login(admin)
        base = "/admin/face_idcard/"
        figures = {}
        for key, method, url, data in (
            ("changelist", "GET", base + "verificationattempt/", None),
            ("queue", "GET", base + "attemptawaitingreview/", None),
            (
                "search",
                "POST",
                base + "verificationattempt/search-id-number/",
                {"idcard_number": SEARCHED},
            ),
            ("stats", "GET", base + "verificationstatistics/?window=30d", None),
            ("stats_7d", "GET", base + "verificationstatistics/?window=7d", None),
            ("stats_24h", "GET", base + "verificationstatistics/?window=24h", None),
            (
                "stats_backend",
                "GET",
                base + "verificationstatistics/?window=30d&backend=simulator",
                None,
            ),
            ("calibration", "GET", base + "verificationstatistics/calibration/?window=30d", None),
            ("abuse", "GET", base + "verificationstatistics/abuse/?window=30d", None),
        ):
            figures[key] = measure(client, method, url, data)
            print(f"{key}: {figures[key][0]:.1f} ms, {figures[key][1]} queries", flush=True)
        filing_figures = measure_filing_and_records(client, base)
    finally:
        if not (KEEP or LOAD_ONLY):
            drop_database()
    if LOAD_ONLY:
        return
    print(
        f"RESULT rows={ROWS} changelist_ms={figures['changelist'][0]:.1f} "
        f"queue_ms={figures['queue'][0]:.1f} search_ms={figures['search'][0]:.1f} "
        f"stats_ms={figures['stats'][0]:.1f} stats_7d_ms={figures['stats_7d'][0]:.1f} "
        f"stats_24h_ms={figures['stats_24h'][0]:.1f} "
        f"stats_backend_ms={figures['stats_backend'][0]:.1f} "
        f"calibration_ms={figures['calibration'][0]:.1f} "
        f"abuse_ms={figures['abuse'][0]:.1f} changelist_queries={figures['changelist'][1]} "
        f"queue_queries={figures['queue'][1]} search_queries={figures['search'][1]} "
        f"stats_queries={figures['stats'][1]} "
        f"summaries_build_ms={refresh_full:.0f} summaries_check_ms={refresh_noop:.0f} "
        + " ".join(f"{key}={value:.1f}" for key, value in filing_figures.items())
    )


if __name__ == "__main__":
    main()
