"""``manage.py face_idcard_sweep``: requeue attempts whose worker died or whose message was lost."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ... import _filing as filing
from ... import services


class Command(BaseCommand):
    help = "Requeue verification attempts with an expired claim lease or a lost Celery message."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = services.sweep()
        counts["filing_levels_reached"] = len(filing.note_levels())
        self.stdout.write(" ".join(f"{key}={value}" for key, value in counts.items()))
