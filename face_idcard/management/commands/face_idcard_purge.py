"""``manage.py face_idcard_purge``: erase selfies and personal information past retention."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ... import services


class Command(BaseCommand):
    help = (
        "Delete selfies after SELFIE_RETENTION_DAYS and encrypted ID numbers and names after "
        "PII_RETENTION_DAYS (counted from the end of the attempt). Records, audit trails and "
        "attempts under legal hold are kept."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = services.purge()
        self.stdout.write(" ".join(f"{key}={value}" for key, value in counts.items()))
