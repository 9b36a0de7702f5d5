"""The onboarding page's language switch: Django's own ``set_language`` view, when the site
mounts ``django.conf.urls.i18n``; otherwise no switch (the page follows the browser's language
through ``LocaleMiddleware``, or the site's ``LANGUAGE_CODE``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language, get_language_info


def language_switch(request: HttpRequest) -> dict[str, Any] | None:
    """What the template needs for the switch, or None without ``set_language``."""
    try:
        action = reverse("set_language")
    except NoReverseMatch:
        return None
    current = get_language()
    choices = []
    for code, _name in settings.LANGUAGES:
        info = get_language_info(code)
        # Each language is named in itself, so that a person who cannot read the page's
        # current language still finds theirs.
        choices.append({"code": code, "name": info["name_local"], "selected": code == current})
    return {"action": action, "next": request.get_full_path(), "choices": choices}
