"""The onboarding page and its optional login page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.translation import get_language
from django.views.decorators.csrf import ensure_csrf_cookie

from ..api.serializers import allowed_notice_versions
from ..conf import face_idcard_settings
from ..states import TERMINAL
from .texts import ID_TEXTS, LOGIN_TEXTS, PAGE_TEXTS

#: The browser re-encodes a photo whose longer side is above this, or whose file is larger
#: than SHRINK_ABOVE_BYTES: a phone's 12 MP picture becomes ~300 KB, plenty for a comparison.
SHRINK_MAX_SIDE = 1600
SHRINK_ABOVE_BYTES = 1_500_000
POLL_INTERVAL_MS = 1000
#: Polling stops (with a message) after this long; the attempt goes on server-side.
POLL_GIVE_UP_MS = 180_000


def notice_version() -> str:
    """The version the page shows: the newest allowed one, else NOTICE_VERSION."""
    versions = allowed_notice_versions()
    return versions[0] if versions else str(face_idcard_settings.NOTICE_VERSION or "")


@login_required(login_url=reverse_lazy("face_idcard_onboarding:login"))
@ensure_csrf_cookie
def onboarding(request: HttpRequest) -> HttpResponse:
    config: dict[str, Any] = {
        "attemptsUrl": reverse("face_idcard_api:attempt-list"),
        "noticeVersion": notice_version(),
        "language": get_language(),
        "shrinkMaxSide": SHRINK_MAX_SIDE,
        "shrinkAboveBytes": SHRINK_ABOVE_BYTES,
        "pollIntervalMs": POLL_INTERVAL_MS,
        "pollGiveUpMs": POLL_GIVE_UP_MS,
        "terminal": sorted(str(status) for status in TERMINAL),
        "texts": {key: str(text) for key, text in PAGE_TEXTS.items()},
        "idTexts": {key: str(text) for key, text in ID_TEXTS.items()},
    }
    return render(
        request,
        "face_idcard/onboarding/page.html",
        {"texts": PAGE_TEXTS, "config": config, "notice_version": config["noticeVersion"]},
    )


class OnboardingLoginView(LoginView):
    template_name = "face_idcard/onboarding/login.html"
    redirect_authenticated_user = True
    extra_context = {"texts": LOGIN_TEXTS}  # noqa: RUF012

    def get_default_redirect_url(self) -> str:
        return reverse("face_idcard_onboarding:page")
