"""Per-backend configuration: ``FACE_IDCARD["BACKENDS"]``, by alias, like Django's ``CACHES``.

::

    FACE_IDCARD = {
        "DEFAULT_BACKEND": "default",
        "BACKENDS": {
            "default": {"BACKEND": "legacy", "APPID": ..., "SECRET_ID": ..., "SECRET_KEY": ...,
                        "THRESHOLD": 80, "REVIEW_BAND": 5, "RATE_LIMIT_PER_SECOND": 20},
            "sandbox": {"BACKEND": "simulator", "ENDPOINT": "http://127.0.0.1:8701"},
        },
    }

Without ``BACKENDS`` the flat keys (``BACKEND``, ``APPID``, ``SECRET_ID``, ``SECRET_KEY``,
``ENDPOINT``, ``SIMULATOR_URL`` …) make one backend whose alias is the ``BACKEND`` value, as
before aliases existed. The generic keys an alias does not set (threshold, review band, rate
limit, timeouts) come from the flat keys, so those act as the site's defaults.

An attempt stores its alias; an alias that is no longer in ``BACKENDS`` but is a built-in name
or a dotted path (attempts stored before aliases existed) resolves from the flat keys, so
attempts in flight finish on the backend they started on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from ..conf import face_idcard_settings
from ..images import ImageLimits

if TYPE_CHECKING:
    from .base import Backend

#: Built-in backend names and the classes they stand for.
BUILTIN: Mapping[str, str] = {
    "legacy": "face_idcard.providers.legacy.backend.LegacyBackend",
    "simulator": "face_idcard.providers.legacy.backend.SimulatorBackend",
    "faceid": "face_idcard.providers.faceid.backend.FaceIdBackend",
}

#: Keys every alias may set and that default to the flat key of the same name.
GENERIC_KEYS = (
    "THRESHOLD",
    "REVIEW_BAND",
    "RATE_LIMIT_PER_SECOND",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "HTTP_POOL_MAXSIZE",
)
#: Provider options an alias may set (what each backend reads of them is its own business).
PROVIDER_KEYS = (
    "APPID",
    "SECRET_ID",
    "SECRET_KEY",
    "BUCKET",
    "ENDPOINT",
    "REGION",
    "SIGNATURE_LIFETIME",
    "OPTIONS",
    "ENCRYPTION_PUBLIC_KEY",
)
ALIAS_KEYS = frozenset({"BACKEND", *GENERIC_KEYS, *PROVIDER_KEYS})


@dataclass(frozen=True)
class BackendSettings:
    """One alias's configuration with every default filled in."""

    alias: str
    #: A built-in name or a dotted path to a Backend subclass.
    backend: str
    threshold: float | None
    review_band: float
    rate_limit_per_second: int | None
    connect_timeout: float
    read_timeout: float
    http_pool_maxsize: int
    #: The provider keys as the alias sets them (credentials: kept out of the repr).
    options: Mapping[str, Any] = field(repr=False)

    def option(self, key: str, default: Any = "") -> Any:
        value = self.options.get(key)
        return default if value in (None, "") else value

    def image_limits(self, base: ImageLimits) -> ImageLimits:
        """The provider's limits, narrowed by the site's image settings."""
        from ..images import limits_for

        return limits_for(base)


def configured() -> dict[str, dict[str, Any]]:
    """Every alias the site configures, as written (flat keys: the one implied alias)."""
    backends = face_idcard_settings.BACKENDS
    if backends is None:
        name = str(face_idcard_settings.BACKEND)
        return {name: _implied_by_flat_keys(name)}
    if not isinstance(backends, Mapping):
        raise ImproperlyConfigured("FACE_IDCARD['BACKENDS'] must be a dict of aliases.")
    return {str(alias): dict(entry) for alias, entry in backends.items()}


def default_alias() -> str:
    """The alias new attempts use."""
    configured_default = face_idcard_settings.DEFAULT_BACKEND
    if configured_default:
        return str(configured_default)
    if face_idcard_settings.BACKENDS is None:
        return str(face_idcard_settings.BACKEND)
    return "default"


def _implied_by_flat_keys(name: str) -> dict[str, Any]:
    from . import backend_class

    return {"BACKEND": name, **backend_class(name).options_from_flat_settings()}


def entry_for(alias: str) -> dict[str, Any]:
    """The raw entry for ``alias``; ImproperlyConfigured when there is none."""
    entries = configured()
    if alias in entries:
        return entries[alias]
    if alias in BUILTIN or "." in alias:
        # An attempt stored before aliases existed names its backend class.
        return _implied_by_flat_keys(alias)
    raise ImproperlyConfigured(
        f"face_idcard: unknown backend alias {alias!r}; configured: {', '.join(sorted(entries))}"
    )


def resolve(alias: str) -> BackendSettings:
    entry = entry_for(alias)
    backend = entry.get("BACKEND")
    if not isinstance(backend, str) or not backend:
        raise ImproperlyConfigured(
            f"face_idcard: FACE_IDCARD['BACKENDS'][{alias!r}] needs a 'BACKEND' "
            "(a built-in name or a dotted path to a Backend subclass)."
        )
    fs = face_idcard_settings

    def generic(key: str) -> Any:
        return entry[key] if key in entry else fs.__getattr__(key)

    rate = generic("RATE_LIMIT_PER_SECOND")
    threshold = generic("THRESHOLD")
    return BackendSettings(
        alias=alias,
        backend=backend,
        threshold=None if threshold is None else float(threshold),
        review_band=float(generic("REVIEW_BAND")),
        rate_limit_per_second=None if rate is None else max(1, int(rate)),
        connect_timeout=float(generic("CONNECT_TIMEOUT")),
        read_timeout=float(generic("READ_TIMEOUT")),
        http_pool_maxsize=int(generic("HTTP_POOL_MAXSIZE")),
        options={key: entry[key] for key in PROVIDER_KEYS if key in entry},
    )


def settings_for_class(cls: type[Backend]) -> BackendSettings:
    """Settings for a backend built directly (``LegacyBackend()``): the first alias that uses
    this class, else the flat keys under the provider's name."""
    from . import backend_class

    for alias, entry in configured().items():
        name = entry.get("BACKEND")
        if isinstance(name, str) and _same_class(name, cls, backend_class):
            return resolve(alias)
    for name, path in BUILTIN.items():
        if path == f"{cls.__module__}.{cls.__qualname__}":
            return resolve(name)
    return resolve(f"{cls.__module__}.{cls.__qualname__}")


def _same_class(name: str, cls: type, loader: Any) -> bool:
    try:
        return bool(loader(name) is cls)
    except ImproperlyConfigured:
        return False
