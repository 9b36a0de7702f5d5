"""A bounded date hierarchy for the changelist.

Django's date hierarchy lists the years (months, days) that hold rows with ``SELECT DISTINCT
date_trunc(...)`` over the whole filtered changelist: a scan of every row, which at a million
attempts costs more than the page. Here the periods are those between the first and the last
row (one ``MIN``/``MAX`` aggregate, answered from the ``created_at`` index); a period with no
attempts may be listed, and opening it shows an empty list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Max, Min, QuerySet
from django.utils import timezone

_KINDS = ("year", "month", "day")


def periods(first: datetime, last: datetime, kind: str) -> list[datetime]:
    """The starts of the ``kind`` periods from ``first``'s to ``last``'s (local time)."""
    first, last = timezone.localtime(first), timezone.localtime(last)
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind in ("year", "month"):
        start = start.replace(day=1)
    if kind == "year":
        start = start.replace(month=1)
    result = []
    current = start
    while current <= last:
        result.append(current)
        if kind == "year":
            current = current.replace(year=current.year + 1)
        elif kind == "month":
            current = current.replace(
                year=current.year + current.month // 12, month=current.month % 12 + 1
            )
        else:
            current = timezone.make_aware(
                datetime.combine(
                    current.date().fromordinal(current.toordinal() + 1), datetime.min.time()
                )
            )
    return result


class BoundedDatesQuerySet(QuerySet[Any]):
    def datetimes(self, field_name: str, kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind not in _KINDS:
            return super().datetimes(field_name, kind, *args, **kwargs)  # type: ignore[arg-type]
        bounds = self.order_by().aggregate(first=Min(field_name), last=Max(field_name))
        if bounds["first"] is None or bounds["last"] is None:
            return []
        return periods(bounds["first"], bounds["last"], kind)
