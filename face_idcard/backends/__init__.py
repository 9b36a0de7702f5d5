"""Backends: which comparison service the pipeline calls.

``get_backend(name)`` accepts ``"legacy"``, ``"simulator"`` or a dotted path to a
:class:`~face_idcard.backends.base.Backend` subclass. One instance (one pooled HTTP client) per
name per process, rebuilt when ``FACE_IDCARD`` changes.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from ..conf import face_idcard_settings
from .base import Backend

__all__ = ["BUILTIN", "Backend", "get_backend", "reset_backends"]

BUILTIN = {
    "legacy": "face_idcard.backends.legacy.LegacyBackend",
    "simulator": "face_idcard.backends.simulator.SimulatorBackend",
}

_lock = threading.Lock()
_instances: dict[str, Backend] = {}


def backend_class(name: str) -> type[Backend]:
    path = BUILTIN.get(name, name)
    if "." not in path:
        raise ImproperlyConfigured(f"face_idcard: unknown backend {name!r}")
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"face_idcard: cannot import backend {name!r}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ImproperlyConfigured(f"face_idcard: {name!r} is not a Backend subclass")
    return cls


def get_backend(name: str | None = None) -> Backend:
    """The shared instance of backend ``name`` (default: the ``BACKEND`` setting)."""
    key = name or str(face_idcard_settings.BACKEND)
    instance = _instances.get(key)
    if instance is not None:
        return instance
    with _lock:
        instance = _instances.get(key)
        if instance is None:
            instance = backend_class(key)()
            _instances[key] = instance
        return instance


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
