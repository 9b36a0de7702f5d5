"""Users holding some of the app's permissions (face_idcard.permissions), for the tests."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission


def user_with(username: str, *codenames: str, is_staff: bool = True) -> Any:
    """A saved user holding exactly the ``face_idcard`` permissions named (fresh from the
    database, so Django's permission cache is empty)."""
    user, _ = get_user_model().objects.get_or_create(username=username, is_staff=is_staff)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="face_idcard", codename__in=codenames)
    )
    return get_user_model().objects.get(pk=user.pk)
