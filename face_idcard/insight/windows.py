"""The periods the statistics cover, and the filter every panel shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Window:
    key: str
    length: timedelta
    label: Promise


WINDOWS = (
    Window("24h", timedelta(hours=24), _("Last 24 hours")),
    Window("7d", timedelta(days=7), _("Last 7 days")),
    Window("30d", timedelta(days=30), _("Last 30 days")),
)
DEFAULT_WINDOW = WINDOWS[0]


def window(key: str | None) -> Window:
    """The window named ``key``; the default for anything else (a query parameter)."""
    return next((item for item in WINDOWS if item.key == key), DEFAULT_WINDOW)


@dataclass(frozen=True)
class Scope:
    """What a panel counts: attempts created since ``since`` (up to ``until``), on one
    backend or on all (``backend`` "")."""

    since: datetime
    until: datetime
    backend: str = ""

    @classmethod
    def last(cls, length: timedelta, backend: str = "", now: datetime | None = None) -> Scope:
        until = now or timezone.now()
        return cls(since=until - length, until=until, backend=backend)

    def attempts(self, prefix: str = "") -> Q:
        condition = Q(
            **{f"{prefix}created_at__gte": self.since, f"{prefix}created_at__lt": self.until}
        )
        if self.backend:
            condition &= Q(**{f"{prefix}backend": self.backend})
        return condition
