"""``manage.py face_idcard_records``: export the processing records of a period
(face_idcard._records), stored and audited like an export from the admin."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ... import _records as records


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date written YYYY-MM-DD: {value!r}") from None


class Command(BaseCommand):
    help = (
        "Export the records of processing (purposes, processors, data categories, volumes, "
        "retention, notice versions, security controls) of a period, as JSON or CSV, in "
        "Chinese or English. Each export is kept and audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", help="First day (YYYY-MM-DD, site time zone).")
        parser.add_argument("--to", dest="end", help="Last day, included (YYYY-MM-DD).")
        parser.add_argument("--days", type=int, default=30, help="Without --from: the last N days.")
        parser.add_argument("--format", choices=records.FORMATS, default="json")
        parser.add_argument("--language", choices=records.LANGUAGES, default="zh-hans")
        parser.add_argument("--output", help="A file to write (default: standard output).")

    def handle(self, *args: Any, **options: Any) -> None:
        zone = timezone.get_current_timezone()
        today = timezone.localdate()
        end = _day(options["end"]) if options["end"] else today
        if options["start"]:
            start = _day(options["start"])
        else:
            if options["days"] < 1:
                raise CommandError("--days must be at least 1")
            start = end - timedelta(days=options["days"] - 1)
        if start > end:
            raise CommandError("--from must not be after --to")
        since = datetime.combine(start, time.min, tzinfo=zone)
        until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
        record = records.export(since, until, fmt=options["format"], language=options["language"])
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                for chunk in records.chunks(record):
                    out.write(chunk)
            self.stderr.write(f"record={record.pk} sha256={record.sha256} file={options['output']}")
        else:
            for chunk in records.chunks(record):
                self.stdout.write(chunk, ending="")
            self.stdout.flush()
            self.stderr.write(f"record={record.pk} sha256={record.sha256}")
