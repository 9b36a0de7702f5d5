"""Per-backend configuration: ``FACE_IDCARD["BACKENDS"]``, by alias, like Django's ``CACHES``.

::

    FACE_IDCARD = {
        "DEFAULT_BACKEND": "default",
        "BACKENDS": {
            "default": {"BACKEND": "<name or dotted path>", <the backend's own options>,
                        "THRESHOLD": 80, "REVIEW_BAND": 5, "RATE_LIMIT_PER_SECOND": 20},
        },
    }

Each entry names its backend class (``BACKEND``: a built-in name or a dotted path to a
:class:`~face_idcard.backends.Backend` subclass) and may set the generic keys below; every
other key is an option the backend class declares (``Backend.options``) and reads itself.
This module knows no provider's option names. A generic key the alias does not set comes
from the site-wide ``FACE_IDCARD`` key of the same name (so a site with several aliases sets
its timeouts once); a threshold set nowhere is the backend class's ``default_threshold``.

An attempt stores its alias; an alias that is no longer configured cannot be resolved (the
attempt fails with ``internal.backend_unavailable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .. import settings_spec
from .._images import ImageLimits
from ..conf import face_idcard_settings

#: Keys every alias may set, whatever its backend; each defaults to the site-wide key of the
#: same name in ``FACE_IDCARD`` (declared with ``per_alias=True`` in settings_spec).
GENERIC_KEYS = settings_spec.PER_ALIAS
#: ``LIVENESS``: ``off`` (nothing asked, nothing decided on it), ``record`` (checked where the
#: provider can, stored, never decided on) or ``require`` (an attempt without a passing verdict
#: is not a match).
LIVENESS_POLICIES = settings_spec.declared("LIVENESS").choices
#: ``LIVENESS_FAILURE``: under ``require``, an attempt without a passing verdict goes to
#: ``review`` or is ``refuse``\ d (decided no match).
LIVENESS_FAILURE_ACTIONS = settings_spec.declared("LIVENESS_FAILURE").choices
#: Keys of an alias entry that are not the backend's own options.
RESERVED_KEYS = frozenset({"BACKEND", *GENERIC_KEYS})


@dataclass(frozen=True)
class BackendSettings:
    """One alias's configuration with the generic defaults filled in."""

    alias: str
    #: A built-in name or a dotted path to a Backend subclass.
    backend: str
    threshold: float | None
    review_band: float
    rate_limit_per_second: int | None
    connect_timeout: float
    read_timeout: float
    http_pool_maxsize: int
    #: The liveness policy (:data:`LIVENESS_POLICIES`) and what ``require`` does with an
    #: attempt without a passing verdict (:data:`LIVENESS_FAILURE_ACTIONS`).
    liveness: str = "off"
    liveness_failure: str = "review"
    #: Every other key of the entry, as the alias sets it: the backend's own options, read
    #: through ``Backend.option`` (they may hold credentials: kept out of the repr).
    options: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def image_limits(self, base: ImageLimits) -> ImageLimits:
        """The provider's limits, narrowed by the site's image settings."""
        from .._images import limits_for

        return limits_for(base)


def configured() -> dict[str, dict[str, Any]]:
    """Every alias the site configures, as written."""
    backends = face_idcard_settings.BACKENDS
    if not isinstance(backends, Mapping):
        raise ImproperlyConfigured("FACE_IDCARD['BACKENDS'] must be a dict of aliases.")
    entries: dict[str, dict[str, Any]] = {}
    for alias, entry in backends.items():
        if not isinstance(entry, Mapping):
            raise ImproperlyConfigured(f"FACE_IDCARD['BACKENDS'][{alias!r}] must be a dict.")
        entries[str(alias)] = dict(entry)
    return entries


def default_alias() -> str:
    """The alias new attempts use."""
    return str(face_idcard_settings.DEFAULT_BACKEND)


def entry_for(alias: str) -> dict[str, Any]:
    """The raw entry for ``alias``; ImproperlyConfigured when there is none."""
    entries = configured()
    if alias in entries:
        return entries[alias]
    raise ImproperlyConfigured(
        f"face_idcard: unknown backend alias {alias!r}; configured: "
        f"{', '.join(sorted(entries)) or 'none'}"
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
        connect_timeout=float(generic("CONNECT_TIMEOUT_SECONDS")),
        read_timeout=float(generic("READ_TIMEOUT_SECONDS")),
        http_pool_maxsize=int(generic("HTTP_POOL_MAX_CONNECTIONS")),
        # Checked by the system checks (E040); an unknown value counts as the safe one here.
        liveness=_one_of(generic("LIVENESS"), LIVENESS_POLICIES),
        liveness_failure=_one_of(generic("LIVENESS_FAILURE"), LIVENESS_FAILURE_ACTIONS),
        options={key: value for key, value in entry.items() if key not in RESERVED_KEYS},
    )


def _one_of(value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` as a lower-case word of ``allowed``; unknown values are reported by the
    system checks (E040) and read as the strictest choice meanwhile."""
    text = str(value or "").strip().lower()
    if not text:
        return allowed[0]
    return text if text in allowed else allowed[-1]
