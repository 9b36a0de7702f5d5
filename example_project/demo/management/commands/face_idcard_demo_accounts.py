"""``manage.py face_idcard_demo_accounts``: the demo's reviewer and user; prints the user's token.

The reviewer is staff with every permission of the review console; the user is an ordinary
account (the onboarding page, the API). Development passwords, printed by the demo: the
command refuses to run with DEBUG off, where a reviewer who may read personal information with
a password published in the repository would be an open door.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

REVIEWER = ("reviewer", "demo-reviewer-password")
USER = ("demo", "demo-user-password")
REVIEWER_PERMISSIONS = (
    "view_verificationattempt",
    "view_pii",
    "review",
    "rerun",
    "redact",
    "export_audit",
    "view_staffauditevent",
)


class Command(BaseCommand):
    help = "Create the demo reviewer and user accounts (development only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "The demo accounts have published passwords and may read personal "
                "information: refused with DEBUG off. Create real accounts with "
                "`manage.py createsuperuser` and grant permissions in the admin."
            )
        users = get_user_model()
        reviewer, _ = users.objects.get_or_create(username=REVIEWER[0])
        reviewer.is_staff = True
        reviewer.set_password(REVIEWER[1])
        reviewer.save()
        reviewer.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="face_idcard", codename__in=REVIEWER_PERMISSIONS
            )
        )
        user, _ = users.objects.get_or_create(username=USER[0])
        user.set_password(USER[1])
        user.save()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
