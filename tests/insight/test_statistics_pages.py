"""The statistics pages: every panel's figures against hand-made data, permissions, the
audit sample, the abuse signals and the streamed audit export."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.http import StreamingHttpResponse
from django.utils import timezone

from face_idcard.insight import abuse, calibration, export, stats
from face_idcard.insight.windows import Scope
from face_idcard.models import AttemptEvent, EventKind
from face_idcard.services import _audit_sample as audit_sample
from face_idcard.simulator import magic
from face_idcard.states import Decision, Status
from tests.support.admin_helpers import NAME, QUEUE, change_url, client_for, finished
from tests.support.insight_helpers import ABUSE, CALIBRATION, EXPORT, STATISTICS, attempt, call

pytestmark = pytest.mark.django_db

DAY = timedelta(hours=24)


def _scope(length: timedelta = DAY, backend: str = "") -> Scope:
    return Scope.last(length, backend)


# --- Figures -------------------------------------------------------------------------------


def _figures_data() -> None:
    # In the last 24 hours, backend "default".
    attempt(decision=Decision.MATCH.value, reason="match", error_code="0")
    attempt(decision=Decision.MATCH.value, reason="match", error_code="0")
    attempt(decision=Decision.NO_MATCH.value, reason="low_similarity", error_code="0")
    # A machine "no match" a reviewer overturned: passes.
    attempt(
        decision=Decision.NO_MATCH.value,
        review_decision="match",
        reviewed_at=timezone.now(),
        reason="low_similarity",
        error_code="0",
    )
    waiting = attempt(timedelta(hours=5), decision=Decision.REVIEW.value, reason="low_similarity")
    attempt(
        status=Status.REJECTED.value, decision="none", reason="name_mismatch", error_code="-5803"
    )
    attempt(
        status=Status.FAILED.value,
        decision="none",
        reason="provider_unavailable",
        error_code="-5803",
    )
    attempt(status=Status.QUEUED.value, decision="none")
    # Another backend, in the window.
    attempt(backend="other", decision=Decision.MATCH.value, reason="match", error_code="0")
    # Outside the 24 hours (in the 7 days).
    old = attempt(timedelta(days=3), decision=Decision.NO_MATCH.value, reason="low_similarity")
    # Audit sample waiting, older than the band one (the backlog's oldest; backlog is "now").
    attempt(timedelta(days=20), decision=Decision.MATCH.value, audit_sample=True)
    for latency, billable in ((10, True), (20, True), (30, False), (40, True), (100, None)):
        call(waiting, latency, billable)
    call(old, 500, True)


def test_figures_of_the_last_24_hours() -> None:
    _figures_data()
    figures = stats.compute(_scope())
    assert figures.total == 9
    assert figures.by_status == {"completed": 6, "rejected": 1, "failed": 1, "queued": 1}
    assert figures.by_decision == {"match": 4, "no_match": 1, "review": 1}
    assert figures.finished == 8 and figures.passed == 4
    assert figures.pass_rate == pytest.approx(0.5)
    assert figures.reasons[0] == ("low_similarity", "Low similarity", 3)
    assert {code for code, _label, _n in figures.reasons} == {
        "low_similarity",
        "match",
        "name_mismatch",
        "provider_unavailable",
    }
    codes = {(row.backend, row.code): (row.count, row.meaning) for row in figures.codes}
    assert codes[("default", "-5803")] == (2, "The name does not match the ID number")
    assert codes[("default", "0")][0] == 4 and codes[("other", "0")][0] == 1
    assert codes[("other", "0")][1] == ""  # an alias no longer configured: no meaning
    assert figures.provider_calls == 5 and figures.billable_calls == 3
    # percentile_cont over 10, 20, 30, 40, 100.
    assert figures.latency.p50 == pytest.approx(30.0)
    assert figures.latency.p95 == pytest.approx(88.0)
    assert figures.latency.calls == 5
    assert figures.backlog == 2
    assert figures.backlog_oldest is not None
    assert timezone.now() - figures.backlog_oldest > timedelta(days=19)


def test_figures_per_backend_and_per_window() -> None:
    _figures_data()
    other = stats.compute(_scope(backend="other"))
    assert other.total == 1 and other.passed == 1 and other.provider_calls == 0
    assert other.backlog == 0
    week = stats.compute(_scope(timedelta(days=7)))
    assert week.total == 10 and week.provider_calls == 6 and week.billable_calls == 4
    month = stats.compute(_scope(timedelta(days=30)))
    assert month.total == 11


def test_percentile_matches_percentile_cont() -> None:
    assert stats.percentile([], 0.5) is None
    assert stats.percentile([7.0], 0.95) == 7.0
    assert stats.percentile([40, 10, 30, 20, 100], 0.95) == pytest.approx(88.0)
    assert stats.percentile([1, 2, 3, 4], 0.5) == pytest.approx(2.5)


def test_empty_database_shows_dashes_not_errors() -> None:
    figures = stats.compute(_scope())
    assert figures.total == 0 and figures.pass_rate is None and figures.latency.p50 is None
    client, _ = client_for("empty-viewer", "view_verificationattempt")
    for url in (STATISTICS, CALIBRATION, ABUSE):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    ("language", "heading", "status"),
    [("en", "Attempts by status", "Completed"), ("zh-hans", "按状态统计的核验", "已完成")],
)
def test_statistics_page_draws_charts_with_numbers(
    language: str, heading: str, status: str
) -> None:
    _figures_data()
    client, _ = client_for("stats-viewer", "view_verificationattempt")
    response = client.get(STATISTICS, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="face-idcard-chart"') == 4
    assert heading in html and status in html
    assert 'data-chart="status"' in html
    assert f'data-label="{status}" data-value="6"' in html
    assert 'data-figure="pass_rate">50.0%' in html
    assert "<script" not in html.split('id="content-main"')[1]
    meaning = "身份证姓名与身份证号码不一致" if language == "zh-hans" else "The name does not match"
    assert meaning in html
    assert "no-store" in response["Cache-Control"]


def test_statistics_page_is_linked_from_the_admin_index() -> None:
    client, _ = client_for("index-viewer", "view_verificationattempt")
    assert STATISTICS in client.get("/admin/").content.decode()


def test_window_and_backend_parameters_are_checked() -> None:
    _figures_data()
    client, _ = client_for("param-viewer", "view_verificationattempt")
    html = client.get(STATISTICS + "?window=7d&backend=nope").content.decode()
    assert 'data-figure="total">10<' in html  # unknown backend: all backends
    html = client.get(STATISTICS + "?window=<script>&backend=default").content.decode()
    assert 'data-figure="total">8<' in html  # unknown window: 24 hours
    assert "<script>" not in html


# --- Permissions -----------------------------------------------------------------------------


def test_pages_need_the_view_permission() -> None:
    client, _ = client_for("no-perms")
    for url in (STATISTICS, CALIBRATION, ABUSE, EXPORT):
        assert client.get(url).status_code == 403, url
    anonymous = client_for("x")[0]
    anonymous.logout()
    assert anonymous.get(STATISTICS).status_code == 302


def test_export_needs_the_export_permission() -> None:
    viewer, _ = client_for("viewer-only", "view_verificationattempt")
    assert viewer.get(EXPORT).status_code == 403
    assert viewer.get(EXPORT + "?date_from=2026-01-01&date_to=2026-01-02").status_code == 403
    assert "face-idcard-export" not in viewer.get(STATISTICS).content.decode()
    exporter, _ = client_for("exporter", "view_verificationattempt", "export_audit")
    assert exporter.get(EXPORT).status_code == 200
    assert "face-idcard-export" in exporter.get(STATISTICS).content.decode()


# --- Calibration -----------------------------------------------------------------------------


def _review(similarity: float, verdict: str, *, sample: bool) -> None:
    attempt(
        similarity=similarity,
        threshold=75.0,
        decision=Decision.MATCH.value if similarity >= 75 else Decision.NO_MATCH.value,
        review_decision=verdict,
        reviewed_at=timezone.now(),
        audit_sample=sample,
    )


def test_calibration_histogram_and_threshold_errors() -> None:
    for similarity, verdict in (
        (12, "no_match"),
        (41, "no_match"),
        (78, "no_match"),
        (64, "match"),
        (88, "match"),
        (100, "match"),
    ):
        _review(similarity, verdict, sample=True)
    _review(74, "match", sample=False)
    _review(76, "no_match", sample=False)
    result = calibration.compute(_scope())
    assert result.population == calibration.AUDIT
    assert result.available == {"audit": 6, "band": 2, "all": 8}
    assert result.reviews == 6
    histogram = dict(enumerate(result.histogram))
    assert histogram[2] == (0, 1) and histogram[8] == (0, 1) and histogram[15] == (0, 1)
    assert histogram[12] == (1, 0) and histogram[17] == (1, 0) and histogram[19] == (1, 0)
    rows = {row.threshold: row for row in result.thresholds}
    # At 75: the 78 "no match" is let through; the 64 "match" is refused.
    assert (rows[75].wrongly_accepted, rows[75].negatives) == (1, 3)
    assert (rows[75].wrongly_refused, rows[75].positives) == (1, 3)
    assert rows[80].wrongly_accepted == 0 and rows[80].wrongly_refused == 1
    assert rows[45].wrongly_accepted == 1 and rows[45].wrongly_refused == 0
    assert rows[40].wrongly_accepted == 2
    assert rows[40].accepted_share == pytest.approx(2 / 3)
    band = calibration.compute(_scope(), calibration.BAND)
    assert band.reviews == 2 and band.histogram[14] == (1, 0) and band.histogram[15] == (0, 1)
    assert calibration.compute(_scope(), calibration.ALL).reviews == 8


def test_calibration_falls_back_to_the_band_and_says_so() -> None:
    _review(74, "match", sample=False)
    result = calibration.compute(_scope())
    assert result.population == calibration.BAND
    client, _ = client_for("calibrator", "view_verificationattempt")
    html = client.get(CALIBRATION).content.decode()
    assert 'data-population="band"' in html
    assert "This calibration rests on 1 reviews of the review band" in html
    assert "REVIEW_AUDIT_SAMPLE_RATE" in html
    zh = client.get(CALIBRATION, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "复核区间" in zh
    assert 'data-chart="histogram"' in html


def test_audit_sample_sends_decided_attempts_of_every_score_to_review(face_settings: Any) -> None:
    face_settings(REVIEW_AUDIT_SAMPLE_RATE=1.0)
    sampled = finished(magic.MATCH)
    assert sampled.decision == Decision.MATCH.value and sampled.audit_sample
    decided = AttemptEvent.objects.get(attempt=sampled, kind=EventKind.DECIDED.value)
    assert decided.data["audit_sample"] is True
    band = finished(magic.REVIEW)
    assert band.decision == Decision.REVIEW.value and not band.audit_sample
    client, _ = client_for("queue-viewer", "view_verificationattempt")
    html = client.get(QUEUE).content.decode()
    assert str(sampled.pk) in html and str(band.pk) in html
    face_settings(REVIEW_AUDIT_SAMPLE_RATE=0.0)
    assert not finished(magic.NO_MATCH).audit_sample


def test_audit_sample_draw_rate(face_settings: Any) -> None:
    face_settings(REVIEW_AUDIT_SAMPLE_RATE=0.1)
    drawn = sum(audit_sample.draw(Decision.MATCH) for _ in range(20_000))
    assert 1_600 < drawn < 2_400
    assert not any(audit_sample.draw(Decision.REVIEW) for _ in range(1_000))


# --- Abuse signals -----------------------------------------------------------------------------


def _users(*names: str) -> list[Any]:
    return [get_user_model().objects.create(username=name) for name in names]


def test_abuse_lists_and_flags(face_settings: Any) -> None:
    face_settings(ABUSE_MAX_ID_NUMBERS_PER_ACCOUNT=2, ABUSE_MAX_MISMATCHES_PER_HOUR=3)
    alice, bob, carol, dave = _users("alice", "bob", "carol", "dave")
    shared = attempt(user=alice, idcard_hash="a" * 64)
    attempt(user=bob, idcard_hash="a" * 64)
    attempt(user=bob, idcard_hash="a" * 64)
    quiet = attempt(user=dave, idcard_hash="d" * 64)
    guesses = [attempt(user=carol, idcard_hash=f"{i}" * 64) for i in range(3)]
    hour = timezone.now().replace(minute=5, second=0, microsecond=0) - timedelta(hours=2)
    bursts = [
        attempt(
            created_at=hour + timedelta(minutes=i),
            user=dave,
            idcard_hash="d" * 64,
            reason="name_mismatch",
        )
        for i in range(3)
    ]
    # Two mismatches in another hour: no burst.
    attempt(
        created_at=hour - timedelta(hours=3),
        user=alice,
        idcard_hash="a" * 64,
        reason="name_mismatch",
    )
    attempt(
        created_at=hour - timedelta(hours=3),
        user=alice,
        idcard_hash="a" * 64,
        reason="name_mismatch",
    )

    signals = abuse.compute(_scope())
    assert [(row["hash"], row["accounts"], row["attempts"]) for row in signals.shared_numbers] == [
        ("a" * abuse.HASH_SHOWN, 2, 5)
    ]
    assert [(row["account"], row["numbers"]) for row in signals.many_numbers] == [("carol", 3)]
    assert [(row["account"], row["mismatches"]) for row in signals.mismatch_bursts] == [("dave", 3)]

    assert abuse.flags(shared) == ["This ID number was submitted by 2 accounts."]
    assert abuse.flags(guesses[0]) == ["This account tried 3 different ID numbers (more than 2)."]
    assert abuse.flags(bursts[0]) == [
        "This account had 3 name and ID number mismatches within one hour."
    ]
    assert abuse.flags(quiet) == []

    client, _ = client_for("abuse-viewer", "view_verificationattempt")
    html = client.get(ABUSE).content.decode()
    assert "a" * abuse.HASH_SHOWN in html and "a" * 64 not in html
    assert "carol" in html and "dave" in html
    detail = client.get(change_url(shared)).content.decode()
    assert "face-idcard-abuse-flags" in detail and "submitted by 2 accounts" in detail
    assert "face-idcard-abuse-flags" not in client.get(change_url(quiet)).content.decode()
    zh = client.get(change_url(shared), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "该身份证号码由 2 个账户提交" in zh


def test_abuse_and_statistics_pages_need_no_time_zone_tables(face_settings: Any) -> None:
    """MySQL/MariaDB convert time zones with CONVERT_TZ, which answers NULL without the server's
    time-zone tables (most installs): the abuse page failed with 500 in Asia/Shanghai. No
    query hands the site's time zone to the database; the hours are shown in local time."""
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from django.utils.formats import date_format

    face_settings(ABUSE_MAX_MISMATCHES_PER_HOUR=3)
    (erin,) = _users("erin")
    hour = timezone.now().astimezone(dt_timezone.utc).replace(minute=5, second=0, microsecond=0)
    hour -= timedelta(hours=2)
    for minutes in range(3):
        made = attempt(
            created_at=hour + timedelta(minutes=minutes),
            user=erin,
            idcard_hash="e" * 64,
            reason="name_mismatch",
        )
        call(made, 120.0, True)
    client, _ = client_for("tz-viewer", "view_verificationattempt")
    with override_settings(TIME_ZONE="Asia/Shanghai"), CaptureQueriesContext(connection) as sql:
        abuse_page = client.get(ABUSE)
        statistics_page = client.get(STATISTICS, {"window": "30d"})
        local_hour = date_format(
            timezone.localtime(hour.replace(minute=0)), "DATETIME_FORMAT", use_l10n=True
        )
    assert abuse_page.status_code == 200 and statistics_page.status_code == 200
    html = abuse_page.content.decode()
    assert "erin" in html and local_hour in html
    assert [query["sql"] for query in sql if "Asia/Shanghai" in query["sql"]] == []


# --- Audit export -------------------------------------------------------------------------------


def test_export_streams_the_range_without_pii(face_settings: Any) -> None:
    inside = finished(magic.NAME_MISMATCH)
    exporter, _user = client_for("auditor", "view_verificationattempt", "export_audit")
    today = timezone.localdate()
    response = exporter.get(f"{EXPORT}?date_from={today}&date_to={today}")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    assert magic.NAME_MISMATCH not in body and NAME not in body
    assert inside.idcard_number_masked not in body and inside.idcard_name_masked not in body
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == list(export.HEADER)
    events = AttemptEvent.objects.filter(attempt=inside)
    assert len(rows) - 1 == events.count()
    assert {row[2] for row in rows[1:]} == {str(inside.pk)}
    assert {row[4] for row in rows[1:]} == set(events.values_list("kind", flat=True))
    assert all(row[3] == "default" for row in rows[1:])
    yesterday = today - timedelta(days=1)
    earlier = exporter.get(f"{EXPORT}?date_from={yesterday}&date_to={yesterday}")
    assert b"".join(earlier.streaming_content).decode().count("\n") == 1  # the header only


@pytest.mark.parametrize(
    ("query", "english", "chinese"),
    [
        (
            "date_from=2026-02-02&date_to=2026-02-01",
            "must not be after",
            "开始日期不能晚于结束日期",
        ),
        ("date_from=2020-01-01&date_to=2026-01-01", "at most 366 days", "每次最多导出 366 天"),
        ("date_from=bogus&date_to=2026-01-01", "Enter a valid date", "输入一个有效的日期"),
    ],
)
def test_export_refuses_bad_ranges_in_both_languages(
    query: str, english: str, chinese: str
) -> None:
    exporter, _ = client_for("auditor2", "view_verificationattempt", "export_audit")
    response = exporter.get(f"{EXPORT}?{query}")
    assert response.status_code == 200 and not isinstance(response, StreamingHttpResponse)
    assert english in response.content.decode()
    zh = exporter.get(f"{EXPORT}?{query}", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert chinese in zh


def test_export_writes_a_million_events_in_constant_memory() -> None:
    def events(count: int) -> Any:
        for index in range(count):
            yield (
                index,
                "2026-01-01T00:00:00+00:00",
                "0" * 32,
                "simulator",
                "provider_call",
                "",
                '{"latency_ms":12.5}',
            )

    def peak(count: int) -> tuple[int, int]:
        tracemalloc.start()
        written = sum(len(line) for line in export.lines(events(count)))
        _current, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return written, top

    small_bytes, small_peak = peak(1_000)
    large_bytes, large_peak = peak(1_000_000)
    assert large_bytes > 900 * small_bytes  # it really wrote them all
    assert large_peak < small_peak + 64 * 1024


def test_export_from_the_database_reads_in_chunks(face_settings: Any) -> None:
    item = attempt()
    AttemptEvent.objects.bulk_create(
        [
            AttemptEvent(
                attempt=item,
                kind=EventKind.PROVIDER_CALL.value,
                data={"call": i},
                created_at=item.created_at,
            )
            for i in range(3 * export.CHUNK)
        ]
    )
    rows = export.rows(item.created_at - timedelta(seconds=1), timezone.now())
    first = next(rows)
    assert first[2] == item.pk and first[4] == "provider_call"
    assert sum(1 for _ in rows) == 3 * export.CHUNK - 1


def test_export_cells_never_start_a_formula() -> None:
    lines = list(export.lines([("=1+1", "+x", "-y", "@z", "plain")]))
    assert lines[1].strip() == "'=1+1,'+x,'-y,'@z,plain"


# --- The changelist's date hierarchy at scale ---------------------------------------------------


# Two minutes after local midnight (Asia/Shanghai): the edge where "five minutes ago" was
# yesterday and this test once failed.
@time_machine.travel(datetime(2026, 12, 1, 16, 2, tzinfo=dt_timezone.utc), tick=True)
def test_date_hierarchy_never_scans_distinct_dates() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.support.admin_helpers import CHANGELIST

    # The attempt's own local time, not "five minutes ago": the test must not depend on the
    # hour it runs (five minutes after local midnight, yesterday's attempt has another day).
    now = timezone.localtime()
    attempt(created_at=now)
    attempt(timedelta(days=40))
    client, _ = client_for("dater", "view_verificationattempt")
    client.get(CHANGELIST)
    for query in (
        "",
        f"?created_at__year={now.year}",
        f"?created_at__year={now.year}&created_at__month={now.month}",
    ):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(CHANGELIST + query)
        assert response.status_code == 200
        sqls = " ".join(item["sql"].upper() for item in captured.captured_queries)
        assert "SELECT DISTINCT" not in sqls, query
    html = client.get(
        f"{CHANGELIST}?created_at__year={now.year}&created_at__month={now.month}"
    ).content.decode()
    assert f"created_at__day={now.day}" in html


def test_periods_between_first_and_last() -> None:
    from face_idcard.admin.dates import periods

    tz = timezone.get_current_timezone()
    first = timezone.make_aware(timezone.datetime(2025, 11, 30, 23, 0), tz)
    last = timezone.make_aware(timezone.datetime(2026, 2, 2, 1, 0), tz)
    assert [item.year for item in periods(first, last, "year")] == [2025, 2026]
    assert [(item.year, item.month) for item in periods(first, last, "month")] == [
        (2025, 11),
        (2025, 12),
        (2026, 1),
        (2026, 2),
    ]
    days = periods(first, last, "day")
    assert len(days) == 1 + 31 + 31 + 2 and days[0].day == 30 and days[-1].day == 2


def test_backlog_equals_the_queue_condition(face_settings: Any) -> None:
    from face_idcard import services
    from face_idcard.models import VerificationAttempt

    face_settings(REVIEW_OVERTURN_NEEDS_SECOND_REVIEWER=True)
    attempt(timedelta(hours=2), decision=Decision.REVIEW.value)
    attempt(timedelta(hours=3), decision=Decision.MATCH.value, audit_sample=True)
    attempt(timedelta(hours=4), decision=Decision.REVIEW.value, audit_sample=True)
    attempt(timedelta(hours=5), decision=Decision.REVIEW.value, reviewed_at=timezone.now())
    attempt(timedelta(hours=6), decision=Decision.MATCH.value)
    overturned = finished(magic.NO_MATCH)
    _client, reviewer = client_for("first-reviewer", "view_verificationattempt", "review")
    services.review(overturned, reviewer=reviewer, decision="match", reason="same person")
    direct = VerificationAttempt.objects.filter(stats.review_queue_condition())
    count, oldest = stats.backlog()
    assert count == direct.count() == 4
    assert oldest == min(direct.values_list("created_at", flat=True))
    assert stats.backlog("other") == (0, None)
