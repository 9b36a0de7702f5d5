"""Backends: which comparison service the pipeline calls, by alias.

A provider of a site's own imports what it needs from here: :class:`Backend` and
:class:`Option`, and the neutral outcome it returns (:class:`ProviderOutcome`, built from a
:class:`Catalogue` of :class:`CodeInfo` entries, each with its :class:`ErrorClass` and
:class:`Reason`, falling back on :data:`GENERIC` for the transport codes it raises; a
:class:`LivenessVerdict` where the provider judges liveness) and :class:`ImageLimits`.

``get_backend(alias)`` returns the shared instance for an alias of ``FACE_IDCARD["BACKENDS"]``
(see :mod:`face_idcard.backends.config`); with no alias, the default one. One instance (one
pooled HTTP client) per alias per process, rebuilt when ``FACE_IDCARD`` changes.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .._images import ImageLimits
from ..exceptions import BackendUnavailable
from ..outcome import (
    GENERIC,
    TRANSPORT_BAD_RESPONSE,
    TRANSPORT_CONNECTION,
    TRANSPORT_TIMEOUT,
    Catalogue,
    CodeInfo,
    ErrorClass,
    Liveness,
    LivenessVerdict,
    ProviderOutcome,
    Reason,
    load_catalogue,
)
from ..providers import BUILTIN_BACKENDS
from .base import Backend, Option, OptionProblem, VerificationRequest
from .config import BackendSettings, default_alias, resolve

__all__ = [
    "GENERIC",
    "TRANSPORT_BAD_RESPONSE",
    "TRANSPORT_CONNECTION",
    "TRANSPORT_TIMEOUT",
    "Backend",
    "BackendSettings",
    "BackendUnavailable",
    "Catalogue",
    "CodeInfo",
    "ErrorClass",
    "ImageLimits",
    "Liveness",
    "LivenessVerdict",
    "Option",
    "OptionProblem",
    "ProviderOutcome",
    "Reason",
    "VerificationRequest",
    "backend_class",
    "default_alias",
    "get_backend",
    "load_catalogue",
    "reset_backends",
    "usable_backend",
]

logger = logging.getLogger("face_idcard.backends")

_lock = threading.Lock()
_instances: dict[str, Backend] = {}


def backend_class(name: str) -> type[Backend]:
    """The class for a built-in name (:data:`face_idcard.providers.BUILTIN_BACKENDS`) or a
    dotted path."""
    path = BUILTIN_BACKENDS.get(name, name)
    if "." not in path:
        raise ImproperlyConfigured(f"face_idcard: unknown backend {name!r}")
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"face_idcard: cannot import backend {name!r}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ImproperlyConfigured(f"face_idcard: {name!r} is not a Backend subclass")
    return cls


def get_backend(alias: str | None = None) -> Backend:
    """The shared instance of backend ``alias`` (default: ``DEFAULT_BACKEND``)."""
    key = alias or default_alias()
    instance = _instances.get(key)
    if instance is not None:
        return instance
    with _lock:
        instance = _instances.get(key)
        if instance is None:
            config = resolve(key)
            instance = backend_class(config.backend)(config)
            _instances[key] = instance
        return instance


def usable_backend(alias: str | None = None) -> Backend:
    """:func:`get_backend`, with the one rule for a backend that cannot be built.

    Whatever the reason (an unknown alias, missing credentials, an unusable option: each a
    system check Error, but a site may run without checks or change its settings at run
    time), the caller gets :class:`~face_idcard.exceptions.BackendUnavailable` and the
    operators an error in the log naming the alias and the setting. ``submit`` refuses
    with it; the pipeline fails the attempt with ``internal.backend_unavailable``.
    """
    key = alias or default_alias()
    try:
        return get_backend(key)
    except ImproperlyConfigured as exc:
        # The configuration errors name settings, never their values (no key material).
        logger.error("backend %r cannot be built: %s", key, exc)
        raise BackendUnavailable(key, str(exc)) from None


def reset_backends() -> None:
    """Close and forget every instance (the next call builds new ones from the settings)."""
    with _lock:
        instances = list(_instances.values())
        _instances.clear()
    for instance in instances:
        instance.close()


@receiver(setting_changed)
def _rebuild_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "FACE_IDCARD":
        reset_backends()
