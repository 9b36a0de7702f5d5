"""``manage.py face_idcard_statistics``: bring the daily provider-call summaries up to date.

The statistics pages rebuild a stale day themselves; running this (or the
``face_idcard.tasks.refresh_statistics`` periodic task) after midnight keeps that work out of
the first page view of the day.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...insight import rollup


class Command(BaseCommand):
    help = "Rebuild the daily provider-call summaries of the statistics page that are stale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=31, help="How many closed days back (default 31)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rebuilt = rollup.refresh(max(1, int(options["days"])))
        self.stdout.write(f"rebuilt={rebuilt}")
