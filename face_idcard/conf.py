"""Settings for face_idcard: one ``FACE_IDCARD`` dict in the host site's settings.

Modelled on DRF's ``api_settings``: every key has a default, values are read lazily on first
use (never frozen at import, so ``override_settings`` works) and the cache is dropped when
``FACE_IDCARD`` changes. Each key is declared once, with its type, range, unit and
documentation, in :mod:`face_idcard.settings_spec`; the defaults come from there. Secrets are read from the environment by the settings file itself
(:func:`secret_from_env`), never by the app behind its back.

Usage::

    from face_idcard.conf import face_idcard_settings
    face_idcard_settings.RETRY_WINDOW_MINUTES
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from . import settings_spec

SETTING_NAME = "FACE_IDCARD"

# Every key is declared in settings_spec (type, default, unit, range, doc); the defaults are
# read from there.
DEFAULTS: dict[str, Any] = settings_spec.DEFAULTS


class FaceIdcardSettings:
    """Attribute access to ``FACE_IDCARD`` with defaults, read on first use and cached.

    Thread-safe against reloads: a value computed from settings that changed meanwhile (a
    worker thread reading while a test overrides FACE_IDCARD) is returned but never cached.
    """

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults if defaults is not None else DEFAULTS
        self._cached: set[str] = set()
        self._user: dict[str, Any] | None = None
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def user_settings(self) -> dict[str, Any]:
        user = self._user
        if user is None:
            generation = self._generation
            value = getattr(django_settings, SETTING_NAME, None) or {}
            if not isinstance(value, dict):
                raise TypeError(f"settings.{SETTING_NAME} must be a dict")
            with self._lock:
                if generation == self._generation:
                    self._user = value
            user = value
        return user

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or attr not in self.defaults:
            raise AttributeError(f"Invalid face_idcard setting: {attr!r}")
        generation = self._generation
        user = self.user_settings
        value = user[attr] if attr in user else self.defaults[attr]
        with self._lock:
            if generation == self._generation:
                self._cached.add(attr)
                setattr(self, attr, value)
        return value

    def unknown_keys(self) -> list[str]:
        return sorted(set(self.user_settings) - set(self.defaults))

    def reload(self) -> None:
        with self._lock:
            self._generation += 1
            for attr in self._cached:
                self.__dict__.pop(attr, None)
            self._cached.clear()
            self._user = None


face_idcard_settings = FaceIdcardSettings(DEFAULTS)


@receiver(setting_changed)
def _reload_face_idcard_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        face_idcard_settings.reload()


#: How to make a value for :func:`secret_from_env`: a Fernet key, which is also a good hash key.
KEYGEN_COMMAND = "python -m face_idcard.crypto"


# Defined with the other public exceptions; importable from here too.
from .exceptions import MissingSecret as MissingSecret  # noqa: E402


def secret_from_env(name: str) -> str:
    """The value of the environment variable ``name``, for a settings file.

    Missing or blank, it raises :class:`MissingSecret` naming the variable and the command that
    generates a value, so a site started without its secrets stops at once with a clear
    message instead of a ``KeyError``. The message never contains a value.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSecret(
            f"The environment variable {name} is not set. Generate a value with "
            f"`{KEYGEN_COMMAND}`, keep it in your secret store (never in the "
            f"repository) and export it as {name} before starting the site."
        )
    return value
