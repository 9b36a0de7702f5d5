"""Who may call the API, and how often: permission classes from the settings, the app's
review permission, the creation throttle."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from .. import permissions
from ..conf import face_idcard_settings

CREATE_SCOPE = "face_idcard_create"


def configured_permission_classes() -> list[type[BasePermission]]:
    """``API_PERMISSION_CLASSES`` (dotted paths or classes), else ``IsAuthenticated``."""
    configured = face_idcard_settings.API_PERMISSION_CLASSES
    if configured is None:
        return [IsAuthenticated]
    return [import_string(item) if isinstance(item, str) else item for item in configured]


def has_app_permission(user: Any, codename: str) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and bool(
        getattr(user, "is_active", True) and user.has_perm(permissions.full_name(codename))
    )


class CanReview(BasePermission):
    """The app's ``face_idcard.review`` permission (the same one the admin checks)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_app_permission(request.user, permissions.REVIEW)


class CreateThrottle(ScopedRateThrottle):
    """The ``face_idcard_create`` scope: the rate in ``REST_FRAMEWORK``'s
    ``DEFAULT_THROTTLE_RATES`` when set there, else ``API_CREATE_THROTTLE_RATE``."""

    def get_rate(self) -> str | None:
        # Read at each request (DRF's class attribute is frozen at import).
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        if self.scope in rates:
            return str(rates[self.scope]) if rates[self.scope] else None
        rate = face_idcard_settings.API_CREATE_THROTTLE_RATE
        return str(rate) if rate else None
