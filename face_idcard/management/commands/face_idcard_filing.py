"""``manage.py face_idcard_filing``: the filing threshold's count (face_idcard._filing)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ... import _filing as filing


class Command(BaseCommand):
    help = (
        "Show the people whose face information the site holds or has sent, against "
        "FILING_THRESHOLD; register the people of attempts stored before the register "
        "existed (once, after the upgrade); or recount the register."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--register-existing",
            action="store_true",
            help="Register the people of attempts stored before the register existed.",
        )
        parser.add_argument(
            "--recount",
            action="store_true",
            help="Set the count from the register's rows (a scan; a repair).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["register_existing"]:
            self.stdout.write(f"registered={filing.register_existing()}")
        if options["recount"]:
            self.stdout.write(f"recounted={filing.recount()}")
        state = filing.status()
        line = f"people={state.people} threshold={state.threshold}"
        if state.warning is not None:
            line += f" level={state.warning.fraction:g}"
        if state.reached_at is not None and state.deadline is not None:
            line += f" reached={state.reached_at:%Y-%m-%d} deadline={state.deadline:%Y-%m-%d}"
        if state.under_retired_keys:
            line += f" under_retired_keys={state.under_retired_keys}"
        self.stdout.write(line)
