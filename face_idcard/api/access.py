"""Who may call the API, and how often: permission classes from the settings, the app's
review permission, the creation throttle, the budget of refused photo urls."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
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


#: The url refusals that cost the site a DNS lookup or probe its network: counted per account.
URL_REFUSAL_CODES = frozenset({"url_not_public", "url_unresolvable"})
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _url_failure_budget() -> tuple[int, int] | None:
    """``API_URL_FAILURE_BUDGET`` ("number/period", DRF's spelling) as (number, seconds)."""
    rate = face_idcard_settings.API_URL_FAILURE_BUDGET
    if not rate:
        return None
    number, period = str(rate).split("/", 1)
    return int(number), _PERIOD_SECONDS[period.strip()[0]]


def _url_failure_key(user: Any) -> str:
    return f"face_idcard:api:url-failures:{user.pk}"


def refuse_over_url_failure_budget(user: Any) -> None:
    """429 for an account whose refused photo urls used up ``API_URL_FAILURE_BUDGET``: an
    account trying hosts that do not resolve or are not public (a slow DNS server, a network
    scan through the provider) is stopped before another lookup."""
    budget = _url_failure_budget()
    if budget is None:
        return
    number, seconds = budget
    if int(cache.get(_url_failure_key(user), 0)) >= number:
        raise exceptions.Throttled(
            wait=seconds,
            # Rendered now (DRF joins it with its own "available in N seconds" text).
            detail=str(_("Too many photo addresses were refused. Try again later.")),
        )


def count_url_refusal(user: Any, error: DjangoValidationError) -> None:
    """Count ``error`` against the account's budget when it refuses the photo's address."""
    budget = _url_failure_budget()
    codes = {getattr(item, "code", None) for item in getattr(error, "error_list", [error])}
    if budget is None or not codes & URL_REFUSAL_CODES:
        return
    key = _url_failure_key(user)
    # The window opens at the first refusal (add is a no-op when the key exists).
    cache.add(key, 0, timeout=budget[1])
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=budget[1])
