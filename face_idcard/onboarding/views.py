"""The onboarding page and its optional login page.

Both are hardened for the browser: never framed (clickjacking of the consent box or the
login), a strict Content-Security-Policy (the page has no inline script or style: its
configuration is a JSON data block, its code and style static files), nothing cached.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import get_token
from django.shortcuts import render, resolve_url
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils.cache import patch_cache_control
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.views.decorators.clickjacking import xframe_options_deny

from .. import _alternatives as alternatives
from .. import _consent as consent
from .._capture import file_upload_allowed
from ..backends import default_alias
from ..conf import face_idcard_settings
from ..states import TERMINAL
from .languages import language_switch
from .texts import ID_TEXTS, LOGIN_TEXTS, PAGE_TEXTS

logger = logging.getLogger(__name__)

#: The browser re-encodes a photo whose longer side is above this, or whose file is larger
#: than SHRINK_ABOVE_BYTES: a phone's 12 MP picture becomes ~300 KB, plenty for a comparison.
SHRINK_MAX_SIDE = 1600
SHRINK_ABOVE_BYTES = 1_500_000
POLL_INTERVAL_MS = 1000
#: Polling stops (with a message) after this long; the attempt goes on server-side.
POLL_GIVE_UP_MS = 180_000


def content_security_policy() -> str:
    """Scripts, styles and images from this site (and from STATIC_URL's host when the static
    files are served from another one), the photo preview as a ``blob:``, API calls to this
    site only; no plugins, no ``<base>``, no framing."""
    own = "'self'"
    static_url = str(getattr(settings, "STATIC_URL", "") or "")
    parts = urlsplit(static_url)
    if parts.scheme in ("http", "https") and parts.netloc:
        own += f" {parts.scheme}://{parts.netloc}"
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {own}",
            f"style-src {own}",
            f"img-src {own} blob:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        )
    )


def csrf_header_name() -> str:
    """The request header the CSRF check reads (``CSRF_HEADER_NAME``, a META key such as
    ``HTTP_X_CSRFTOKEN``) as the page sends it."""
    meta_key = str(settings.CSRF_HEADER_NAME)
    return meta_key.removeprefix("HTTP_").replace("_", "-")


def hardened(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """The page's browser hardening: X-Frame-Options DENY (Django's decorator, whatever the
    site's X_FRAME_OPTIONS says), the Content-Security-Policy above, and no caching."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", content_security_policy())
        patch_cache_control(response, no_store=True, private=True)
        return response

    return xframe_options_deny(wrapper)


def site_url(request: HttpRequest, value: Any) -> str:
    """A path or URL name of the site's from a setting, or "" when it is unset or leads to
    another host (a setting's typo never becomes an open redirect)."""
    if not value:
        return ""
    try:
        url = str(resolve_url(value))
    except NoReverseMatch:
        return ""
    if not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        logger.warning("face_idcard: an ONBOARDING_*_URL setting leads off the site; ignored")
        return ""
    return url


@hardened
@login_required(login_url=reverse_lazy("face_idcard_onboarding:login"))
def onboarding(request: HttpRequest) -> HttpResponse:
    # The notice as stored for its version: the text shown is the text the consent records.
    notice = consent.current_notice()
    config: dict[str, Any] = {
        "attemptsUrl": reverse("face_idcard_api:attempt-list"),
        # The API's session authentication checks it: handed over here, the page works
        # whatever the site's CSRF_COOKIE_NAME, and with CSRF_USE_SESSIONS (no cookie).
        "csrfToken": get_token(request),
        "csrfHeader": csrf_header_name(),
        "noticeVersion": notice.version,
        "language": get_language(),
        "shrinkMaxSide": SHRINK_MAX_SIDE,
        "shrinkAboveBytes": SHRINK_ABOVE_BYTES,
        "pollIntervalMs": POLL_INTERVAL_MS,
        "pollGiveUpMs": POLL_GIVE_UP_MS,
        "terminal": sorted(str(status) for status in TERMINAL),
        # The person's latest attempt is asked for on load: a reload resumes it.
        "continueUrl": site_url(request, face_idcard_settings.ONBOARDING_CONTINUE_URL),
        "guardianUrl": site_url(request, face_idcard_settings.ONBOARDING_GUARDIAN_URL),
        # camera capture (issue 32 item 4): whether a chosen file is offered at all.
        "fileUpload": file_upload_allowed(default_alias()),
        "texts": {key: str(text) for key, text in PAGE_TEXTS.items()},
        "idTexts": {key: str(text) for key, text in ID_TEXTS.items()},
    }
    return render(
        request,
        "face_idcard/onboarding/page.html",
        {
            "texts": PAGE_TEXTS,
            "config": config,
            "notice_version": config["noticeVersion"],
            "notice_text": consent.text_in(notice),
            "notice_sha256": notice.sha256,
            "file_upload": config["fileUpload"],
            "language_switch": language_switch(request),
            # The non-face alternative, offered beside the face path (NON_FACE_ALTERNATIVES).
            "document_review_offered": alternatives.offers(alternatives.DOCUMENT_REVIEW),
        },
    )


@method_decorator(hardened, name="dispatch")
class OnboardingLoginView(LoginView):
    template_name = "face_idcard/onboarding/login.html"
    redirect_authenticated_user = True
    extra_context = {"texts": LOGIN_TEXTS}  # noqa: RUF012

    def get_default_redirect_url(self) -> str:
        return reverse("face_idcard_onboarding:page")
