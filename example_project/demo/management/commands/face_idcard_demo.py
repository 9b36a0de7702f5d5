"""``manage.py face_idcard_demo [--check]``: the same as ``example_project/run_demo.py``.

Kept for those who knew the old command (which ran verifications in-process): it now runs the
whole demo, with the simulator, a Celery worker, beat and the web server as processes of their
own, and the batch through the HTTP API (see run_demo.py).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run the demo site: simulator, worker, beat, web server, a batch through the API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="exit after the table")

    def handle(self, *args: Any, **options: Any) -> None:
        import run_demo  # example_project/ is on sys.path (manage.py puts it there)

        code = run_demo.main(["--check"] if options["check"] else [])
        if code:
            raise CommandError(f"the demo ended with status {code}")
