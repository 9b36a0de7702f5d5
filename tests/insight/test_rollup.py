"""The daily provider-call summaries of the statistics page: always equal to a direct count of
the audit trail, whatever changed after the day (late events, reviews, re-runs, redaction,
purge), rebuilt idempotently and safely from several processes, and said on the page."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from face_idcard import services, tasks
from face_idcard.insight import rollup, stats
from face_idcard.insight.windows import Scope
from face_idcard.models import (
    AttemptEvent,
    EventKind,
    ProviderCallBucket,
    ProviderCallDay,
    VerificationAttempt,
)
from face_idcard.states import Decision, Status
from tests.support.admin_helpers import client_for
from tests.support.insight_helpers import STATISTICS, attempt, call

DAY = timedelta(days=1)


def _raw_calls(scope: Scope) -> list[tuple[float | None, bool | None]]:
    """The window's calls straight from the audit trail, in Python: the reference."""
    events = AttemptEvent.objects.filter(
        kind=EventKind.PROVIDER_CALL.value,
        created_at__gte=scope.since,
        created_at__lt=scope.until,
    ).select_related("attempt")
    return [
        (event.data.get("latency_ms"), event.data.get("billable"))
        for event in events
        if not scope.backend or event.attempt.backend == scope.backend
    ]


def _assert_equals_direct(scope: Scope) -> stats.Statistics:
    figures = stats.compute(scope)
    raw = _raw_calls(scope)
    assert figures.provider_calls == len(raw)
    assert figures.billable_calls == sum(1 for _lat, billable in raw if billable is True)
    latencies = [float(latency) for latency, _billable in raw if latency is not None]
    assert figures.latency.calls == len(latencies)
    # The bucketed percentiles are those of the latencies rounded down to their bucket...
    rounded = [rollup.bucket_of(value) for value in latencies]
    assert figures.latency.p50 == pytest.approx(stats.percentile(rounded, 0.5))
    assert figures.latency.p95 == pytest.approx(stats.percentile(rounded, 0.95))
    # ... so at most one bucket below the exact ones.
    for fraction, found in ((0.5, figures.latency.p50), (0.95, figures.latency.p95)):
        exact = stats.percentile(latencies, fraction)
        if exact is None:
            assert found is None
        else:
            assert found is not None and exact - 100 <= found <= exact + 1e-9
    # The whole histogram equals one read straight through the window.
    direct = rollup.direct(scope.since, scope.until, scope.backend)
    found_histogram = rollup.provider_calls(scope.since, scope.until, scope.backend).histogram
    assert dict(found_histogram.buckets) == {k: v for k, v in direct.buckets.items() if v}
    assert (found_histogram.calls, found_histogram.billable) == (direct.calls, direct.billable)
    # Attempts are counted directly: the total is the window's attempts.
    attempts = VerificationAttempt.objects.filter(scope.attempts())
    assert figures.total == attempts.count()
    assert figures.passed == sum(
        1
        for item in attempts
        if item.status == Status.COMPLETED.value
        and (item.review_decision or item.decision) == Decision.MATCH.value
    )
    return figures


def _spread(seed: int = 15) -> list[VerificationAttempt]:
    """Attempts over 40 days on two backends, one to three calls each, some unmeasured, some
    with latencies past 1 s and 10 s (the wider buckets)."""
    generator = random.Random(seed)
    made = []
    for index in range(160):
        age = timedelta(hours=generator.uniform(0, 40 * 24))
        item = attempt(
            age,
            backend="simulator" if index % 3 else "other",
            decision=generator.choice([Decision.MATCH.value, Decision.NO_MATCH.value]),
            reason="match",
            error_code="0",
        )
        for _ in range(generator.randint(1, 3)):
            latency = generator.choice(
                [None, generator.uniform(0, 999), generator.uniform(1000, 20000)]
            )
            billable = generator.choice([True, False, None])
            call(item, None if latency is None else round(latency, 3), billable)
        made.append(item)
    return made


@pytest.mark.django_db
@pytest.mark.parametrize("backend", ["", "simulator", "other"])
@pytest.mark.parametrize("length", [timedelta(hours=24), timedelta(days=7), timedelta(days=30)])
def test_summaries_equal_a_direct_count(backend: str, length: timedelta) -> None:
    _spread()
    # The first view: the newest stale days rebuilt, the others read directly.
    figures = _assert_equals_direct(Scope.last(length, backend))
    whole_days = length // DAY - 1
    assert figures.days_summarised == min(whole_days, rollup.REBUILD_IN_VIEW)
    # After the periodic task, from the summaries alone: the same figures.
    rollup.refresh(35)
    again = _assert_equals_direct(Scope.last(length, backend))
    assert again.days_summarised == whole_days
    assert (again.summarised_at is None) == (whole_days == 0)
    assert (again.provider_calls, again.latency) == (figures.provider_calls, figures.latency)


@pytest.mark.django_db
def test_late_changes_keep_the_figures_right(face_settings: Any) -> None:
    made = _spread()
    rollup.refresh(35)
    month = Scope.last(timedelta(days=30))
    before = _assert_equals_direct(month)
    assert before.days_summarised == 29
    # A provider call committed late with an old time (a transaction open across midnight).
    old = made[5]
    call(old, 123.0, True, at=timezone.now() - timedelta(days=12))
    after = _assert_equals_direct(Scope.last(timedelta(days=30)))
    assert after.provider_calls == before.provider_calls + 1
    assert after.billable_calls == before.billable_calls + 1
    # A review long after the day turns a refusal into a pass; attempts are counted directly.
    refused = next(
        item
        for item in made
        if item.decision == Decision.NO_MATCH.value
        and item.created_at > timezone.now() - timedelta(days=29)
    )
    VerificationAttempt.objects.filter(pk=refused.pk).update(
        review_decision="match", reviewed_at=timezone.now()
    )
    reviewed = _assert_equals_direct(Scope.last(timedelta(days=30)))
    assert reviewed.passed == after.passed + 1
    # Redaction and purge erase personal information, never a figure.
    finished_long_ago = [item for item in made if item.created_at < timezone.now() - 20 * DAY]
    VerificationAttempt.objects.filter(pk__in=[item.pk for item in made]).update(
        finished_at=timezone.now() - 25 * DAY
    )
    services.redact(VerificationAttempt.objects.get(pk=finished_long_ago[0].pk))
    face_settings(PII_RETENTION_DAYS=1, SELFIE_RETENTION_DAYS=1)
    services.purge()
    assert VerificationAttempt.objects.filter(pii_purged_at__isnull=False).count() == len(made)
    erased = _assert_equals_direct(Scope.last(timedelta(days=30)))
    assert (erased.total, erased.passed, erased.provider_calls, erased.latency) == (
        reviewed.total,
        reviewed.passed,
        reviewed.provider_calls,
        reviewed.latency,
    )


@pytest.mark.django_db
def test_refresh_is_idempotent_and_only_rebuilds_stale_days() -> None:
    _spread()
    out = StringIO()
    call_command("face_idcard_statistics", "--days", "35", stdout=out)
    rebuilt = int(out.getvalue().strip().removeprefix("rebuilt="))
    assert rebuilt > 30
    snapshot = sorted(
        ProviderCallBucket.objects.values_list(
            "day__day", "backend", "latency_bucket", "calls", "billable"
        ),
        key=repr,
    )
    assert rollup.refresh(35) == 0
    assert tasks.refresh_statistics() == 0  # the periodic task: nothing stale either
    day = rollup.day_start(timezone.now()) - 3 * DAY
    assert rollup.refresh_day(day) is False
    again = sorted(
        ProviderCallBucket.objects.values_list(
            "day__day", "backend", "latency_bucket", "calls", "billable"
        ),
        key=repr,
    )
    assert again == snapshot
    # One more event on one day: that day alone is rebuilt.
    call(VerificationAttempt.objects.first(), 5.0, False, at=day + timedelta(hours=2))
    assert rollup.stale_days(day - 10 * DAY, day + 3 * DAY) == [day]
    assert rollup.refresh(35) == 1
    with pytest.raises(ValueError, match="closed days"):
        rollup.refresh_day(rollup.day_start(timezone.now()))


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_build_each_day_once() -> None:
    made = _spread(seed=3)
    first = rollup.day_start(timezone.now()) - 10 * DAY
    call(made[0], 42.0, True, at=first + timedelta(hours=1))
    start = threading.Barrier(4)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def refresh() -> None:
        try:
            start.wait()
            rebuilt = rollup.refresh_day(first)
            with lock:
                results.append(rebuilt)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(results) == [False, False, False, True]
    assert ProviderCallDay.objects.filter(day=first).count() == 1
    summary = rollup.Histogram()
    for row in ProviderCallBucket.objects.filter(day__day=first):
        summary.add(row.latency_bucket, row.calls, row.billable)
    direct = rollup.direct(first, first + DAY)
    assert summary.calls == direct.calls and summary.calls > 0
    assert dict(summary.buckets) == {k: v for k, v in direct.buckets.items() if v}


def figures_days() -> int:
    return stats.compute(Scope.last(timedelta(days=30))).days_summarised


@pytest.mark.django_db
def test_the_page_says_how_fresh_its_figures_are() -> None:
    _spread()
    rollup.refresh(35)
    client, _ = client_for("fresh-viewer", "view_verificationattempt")
    html = client.get(STATISTICS + "?window=24h").content.decode()
    assert "Every figure is counted now" in html
    html = client.get(STATISTICS + "?window=30d").content.decode()
    note = html.split('id="face-idcard-freshness"')[1].split("</p>")[0]
    assert "daily summaries" in note and "checked against the audit trail" in note
    assert f"whole days in this period ({figures_days()})" in note
    html = client.get(STATISTICS + "?window=30d", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    note = html.split('id="face-idcard-freshness"')[1].split("</p>")[0]
    assert "每日汇总" in note
    assert "rounded down to 1 ms" in client.get(STATISTICS).content.decode()


def test_bucket_rule_and_day_start() -> None:
    assert rollup.bucket_of(0.4) == 0.0
    assert rollup.bucket_of(999.99) == 999.0
    assert rollup.bucket_of(1000.0) == 1000.0
    assert rollup.bucket_of(1234.5) == 1230.0
    assert rollup.bucket_of(12345.0) == 12300.0
    moment = datetime(2026, 3, 4, 23, 59, tzinfo=dt_timezone.utc)
    assert rollup.day_start(moment) == datetime(2026, 3, 4, tzinfo=dt_timezone.utc)
    histogram = rollup.Histogram()
    assert histogram.percentile(0.5) is None
    for value in (10, 20, 30, 40, 100):
        histogram.add(float(value), 1, 0)
    histogram.add(None, 2, 1)
    assert histogram.percentile(0.95) == pytest.approx(88.0)
    assert (histogram.calls, histogram.billable, histogram.measured) == (7, 1, 5)


@pytest.mark.django_db
@pytest.mark.parametrize("as_list", [2000, 0])
def test_shared_numbers_found_in_one_pass(monkeypatch: pytest.MonkeyPatch, as_list: int) -> None:
    """Numbers of two or more accounts (lowest account differs from highest), counted exactly,
    whether passed on as a list or, past the bound, as a subquery."""
    from django.contrib.auth import get_user_model

    from face_idcard.insight import abuse

    monkeypatch.setattr(abuse, "SHARED_AS_LIST", as_list)
    users = [get_user_model().objects.create(username=f"abuse-{i}") for i in range(3)]
    for user, number in [(0, "a"), (1, "a"), (0, "b"), (1, "b"), (2, "b"), (2, "c"), (2, "c")]:
        attempt(user=users[user], idcard_hash=number * 64)
    attempt(user=None, idcard_hash="a" * 64)  # no account: not counted
    attempt(timedelta(days=40), user=users[2], idcard_hash="c" * 64)  # outside the window
    signals = abuse.compute(Scope.last(timedelta(days=30)))
    assert [(row["hash"], row["accounts"], row["attempts"]) for row in signals.shared_numbers] == [
        ("b" * 12, 3, 3),
        ("a" * 12, 2, 2),
    ]


@pytest.mark.django_db
def test_a_first_view_reads_a_month_of_stale_days_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the periodic task ever ran, a view rebuilds only the newest stale days and reads
    the others straight from the audit trail: the same figures, no month-long wait."""
    _spread()
    monkeypatch.setattr(rollup, "REBUILD_IN_VIEW", 2)
    month = Scope.last(timedelta(days=30))
    figures = stats.compute(month)
    assert ProviderCallDay.objects.count() == 2
    newest = rollup.day_start(timezone.now()) - DAY
    assert set(ProviderCallDay.objects.values_list("day", flat=True)) == {newest, newest - DAY}
    assert figures.days_summarised == 2
    raw = _raw_calls(month)
    assert (figures.provider_calls, figures.billable_calls) == (
        len(raw),
        sum(1 for _latency, billable in raw if billable is True),
    )
    monkeypatch.setattr(rollup, "REBUILD_IN_VIEW", 0)
    assert stats.compute(month).latency == figures.latency
    # Stale summaries left behind are not used either: a late event on a summarised day.
    call(VerificationAttempt.objects.first(), 7.0, True, at=newest + timedelta(hours=1))
    monkeypatch.setattr(rollup, "REBUILD_IN_VIEW", 0)
    again = _assert_equals_direct(Scope.last(timedelta(days=30)))
    assert again.days_summarised == 1 and again.provider_calls == figures.provider_calls + 1
