"""Daily summaries of the provider calls, so that a 30-day window does not read 30 days of
audit events (their latency sits in a JSON field: no index can serve a percentile over it).

Why this is safe without any hook in the code that writes events: ``provider_call`` events are
append-only (never updated, never deleted, and an attempt with events cannot be deleted) and
an event's backend is its attempt's, which never changes. So the set of one UTC day's events
can only grow, and a day's summary is current exactly when the number of events it summarised
equals that day's count in the audit trail. Every read checks that with one count over the
``(kind, created_at)`` index and re-summarises any day that differs (a late-committing
transaction, events written with an old time), then uses the summaries; the current partial
day and the window's ragged edges are read directly. Attempts themselves are not summarised:
reviews, re-runs and the sweeper change them after their day (see :mod:`.stats`).

Latency is kept as a histogram (:func:`bucket_of`): the percentiles are those of the latencies
rounded down to 1 ms below 1 s, to 10 ms below 10 s and to 100 ms above, so they are at most
one bucket below ``percentile_cont`` over the raw values (said on the page).

Refreshing is idempotent (a day is rebuilt whole, in one transaction) and safe to run from
several processes on every supported database: the day's row is upserted (and so locked)
first and the count checked again under the lock, so a second refresher waits and then finds
nothing to do. Days are truncated in UTC, which needs no time-zone tables on MySQL/MariaDB.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import connections, router, transaction
from django.db.models import Case, Count, F, FloatField, Q, QuerySet, Sum, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Floor, TruncDay
from django.utils import timezone

from ..models import AttemptEvent, EventKind, ProviderCallBucket, ProviderCallDay

logger = logging.getLogger("face_idcard.insight")

UTC = dt_timezone.utc

DAY = timedelta(days=1)


def day_start(moment: datetime) -> datetime:
    """The UTC midnight at or before ``moment``."""
    utc = moment.astimezone(UTC)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_of(latency: float) -> float:
    """The histogram bucket (its lower edge, ms) of one latency; :func:`_bucket_sql` is the
    same rule in SQL."""
    if latency < 1000:
        width = 1.0
    elif latency < 10000:
        width = 10.0
    else:
        width = 100.0
    return float(int(latency // width) * width)


def _latency() -> Cast:
    return Cast(KeyTextTransform("latency_ms", "data"), FloatField())


def _bucket_sql() -> Case:
    """:func:`bucket_of` over the ``latency`` annotation (NULL stays NULL)."""
    latency = F("latency")
    return Case(
        # A JSON null reads as text "null" on SQLite, which casts to 0: no bucket for it.
        When(Q(data__latency_ms=None) | Q(data__latency_ms__isnull=True), then=None),
        When(latency__lt=1000, then=Floor(latency)),
        When(latency__lt=10000, then=Floor(latency / Value(10.0)) * Value(10.0)),
        When(latency__isnull=False, then=Floor(latency / Value(100.0)) * Value(100.0)),
        default=None,
        output_field=FloatField(),
    )


def calls(since: datetime, until: datetime, backend: str = "") -> QuerySet[AttemptEvent]:
    """The provider-call events created in ``[since, until)`` (on one backend, or all)."""
    events: QuerySet[AttemptEvent] = AttemptEvent.objects.filter(
        kind=EventKind.PROVIDER_CALL.value, created_at__gte=since, created_at__lt=until
    )
    if backend:
        events = events.filter(attempt__backend=backend)
    return events


@dataclass
class Histogram:
    """Provider calls: how many, how many billable, and their latencies by bucket."""

    calls: int = 0
    billable: int = 0
    buckets: dict[float, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def measured(self) -> int:
        return sum(self.buckets.values())

    def add(self, bucket: float | None, calls: int, billable: int) -> None:
        self.calls += calls
        self.billable += billable
        if bucket is not None:
            self.buckets[float(bucket)] += calls

    def percentile(self, fraction: float) -> float | None:
        """``percentile_cont(fraction)`` over the bucketed latencies."""
        total = self.measured
        if not total:
            return None
        position = (total - 1) * fraction
        low = int(position)
        high = min(low + 1, total - 1)
        at_low = at_high = None
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if at_low is None and seen > low:
                at_low = bucket
            if seen > high:
                at_high = bucket
                break
        assert at_low is not None and at_high is not None
        return at_low + (at_high - at_low) * (position - low)


def direct(since: datetime, until: datetime, backend: str = "") -> Histogram:
    """The histogram read straight from the audit trail (edges of a window, today)."""
    histogram = Histogram()
    rows = (
        calls(since, until, backend)
        .annotate(latency=_latency())
        .annotate(bucket=_bucket_sql())
        .values("bucket")
        .annotate(n=Count("pk"), billable=Count("pk", filter=Q(data__billable=True)))
        .order_by()
    )
    for row in rows:
        histogram.add(row["bucket"], row["n"], row["billable"])
    return histogram


def _counts_by_day(first: datetime, end: datetime) -> dict[datetime, int]:
    rows = (
        calls(first, end)
        .annotate(day=TruncDay("created_at", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {day_start(row["day"]): row["n"] for row in rows}


def stale_days(first: datetime, end: datetime) -> list[datetime]:
    """The closed days in ``[first, end)`` (UTC midnights) whose summary is missing or no
    longer matches the audit trail. One count when everything is current."""
    days = []
    day = first
    while day < end:
        days.append(day)
        day += DAY
    if not days:
        return []
    summarised = dict(
        ProviderCallDay.objects.filter(day__gte=first, day__lt=end).values_list("day", "events")
    )
    summarised = {day_start(key): value for key, value in summarised.items()}
    if len(summarised) == len(days):
        total = calls(first, end).count()
        if total == sum(summarised.values()):
            return []
    counts = _counts_by_day(first, end)
    return [day for day in days if summarised.get(day) != counts.get(day, 0)]


def _locked_day(day: datetime, now: datetime) -> ProviderCallDay:
    """The day's summary row, created if missing, locked until the transaction ends.

    One statement inserts the row or, when it exists, writes it (``day`` set to itself):
    either way it holds the row's exclusive lock (the write lock on SQLite) before anything
    is read, so a second refresher waits here and never deadlocks. A read-then-insert
    (``get_or_create``, ``INSERT IGNORE``) takes a shared lock on the existing row first on
    MySQL/MariaDB, and two refreshers that both then ask for the exclusive lock deadlock."""
    features = connections[router.db_for_write(ProviderCallDay)].features
    ProviderCallDay.objects.bulk_create(
        [ProviderCallDay(day=day, events=0, refreshed_at=now)],
        update_conflicts=True,
        update_fields=["day"],
        # MySQL/MariaDB's ON DUPLICATE KEY UPDATE names no conflict target (any unique key).
        unique_fields=(["day"] if features.supports_update_conflicts_with_target else None),
    )
    row: ProviderCallDay = ProviderCallDay.objects.select_for_update().get(day=day)
    return row


def refresh_day(day: datetime, now: datetime | None = None) -> bool:
    """Rebuild one closed day's summary if it is stale; True when it was rebuilt."""
    day = day_start(day)
    now = now or timezone.now()
    if day + DAY > now:
        raise ValueError("only closed days are summarised")
    with transaction.atomic():
        row = _locked_day(day, now)
        # Checked again under the lock: a concurrent refresher may have done it meanwhile.
        events = calls(day, day + DAY).count()
        if row.events == events:
            return False
        row.buckets.all().delete()
        rows = (
            calls(day, day + DAY)
            .annotate(latency=_latency())
            .annotate(bucket=_bucket_sql())
            .values("attempt__backend", "bucket")
            .annotate(n=Count("pk"), billable=Count("pk", filter=Q(data__billable=True)))
            .order_by()
        )
        ProviderCallBucket.objects.bulk_create(
            [
                ProviderCallBucket(
                    day=row,
                    backend=item["attempt__backend"],
                    latency_bucket=item["bucket"],
                    calls=item["n"],
                    billable=item["billable"],
                )
                for item in rows
            ],
            batch_size=1000,
        )
        row.events = events
        row.refreshed_at = now
        row.save(update_fields=["events", "refreshed_at"])
    return True


def refresh(days: int = 31, now: datetime | None = None) -> int:
    """Bring the summaries of the last ``days`` closed days up to date (the periodic task and
    ``manage.py face_idcard_statistics``); returns how many days were rebuilt."""
    now = now or timezone.now()
    end = day_start(now)
    rebuilt = 0
    for day in stale_days(end - days * DAY, end):
        rebuilt += refresh_day(day, now)
    if rebuilt:
        logger.info("statistics: %d day summaries rebuilt", rebuilt)
    return rebuilt


@dataclass
class Calls:
    histogram: Histogram
    #: When the oldest summary used was last rebuilt (None: none used, all read directly).
    summarised_at: datetime | None
    days_summarised: int


#: A view rebuilds at most this many stale days itself (the newest: usually yesterday, once);
#: more (a first view after deployment, before the periodic task ran) are read directly for
#: that view, so it never waits for a month of rebuilding.
REBUILD_IN_VIEW = 2


def provider_calls(since: datetime, until: datetime, backend: str = "") -> Calls:
    """The window's provider calls: whole closed days from the summaries (the newest stale
    ones rebuilt first, any others read directly), the ragged edges read directly."""
    first = day_start(since)
    if first < since:
        first += DAY
    end = min(day_start(until), day_start(timezone.now()))
    if end <= first:
        return Calls(direct(since, until, backend), None, 0)
    stale = sorted(stale_days(first, end), reverse=True)
    for day in stale[:REBUILD_IN_VIEW]:
        refresh_day(day)
    unsummarised = stale[REBUILD_IN_VIEW:]
    histogram = direct(since, first, backend)
    parts = [direct(end, until, backend), _summarised(first, end, backend, unsummarised)]
    parts += [direct(day, day + DAY, backend) for day in unsummarised]
    for part in parts:
        histogram.calls += part.calls
        histogram.billable += part.billable
        for bucket, count in part.buckets.items():
            histogram.buckets[bucket] += count
    oldest = (
        ProviderCallDay.objects.filter(day__gte=first, day__lt=end)
        .exclude(day__in=unsummarised)
        .order_by("refreshed_at")
        .values_list("refreshed_at", flat=True)
        .first()
    )
    days = (end - first) // DAY - len(unsummarised)
    return Calls(histogram, oldest if days else None, days)


def _summarised(
    first: datetime, end: datetime, backend: str, leave_out: list[datetime]
) -> Histogram:
    rows = ProviderCallBucket.objects.filter(day__day__gte=first, day__day__lt=end)
    if leave_out:
        rows = rows.exclude(day__day__in=leave_out)
    if backend:
        rows = rows.filter(backend=backend)
    histogram = Histogram()
    for item in (
        rows.values("latency_bucket")
        .annotate(n=Sum("calls"), billable=Sum("billable"))
        .order_by()
        .values_list("latency_bucket", "n", "billable")
    ):
        histogram.add(item[0], int(item[1]), int(item[2]))
    return histogram


__all__ = [
    "Calls",
    "Histogram",
    "bucket_of",
    "day_start",
    "direct",
    "provider_calls",
    "refresh",
    "refresh_day",
    "stale_days",
]
