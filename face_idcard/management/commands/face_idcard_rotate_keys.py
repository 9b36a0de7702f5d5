"""``manage.py face_idcard_rotate_keys``: re-encrypt everything under the newest key.

Put the new key first in ``PII_ENCRYPTION_KEYS`` (keep the old ones after it), deploy, run this
command, then remove the old keys.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ... import services


class Command(BaseCommand):
    help = "Re-encrypt every stored ID number, name, url, selfie and webhook signing secret under the first key of PII_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = services.rotate_keys()
        self.stdout.write(" ".join(f"{key}={value}" for key, value in counts.items()))
