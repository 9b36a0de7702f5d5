"""The legacy client pointed at the local simulator (development and tests only)."""

from __future__ import annotations

from ..conf import face_idcard_settings
from .legacy import LEGACY_LIMITS, LegacyBackend, _limits_from_settings


class SimulatorBackend(LegacyBackend):
    """Same protocol as ``legacy``; APPID/SECRET_ID/SECRET_KEY default to the simulator's."""

    name = "simulator"

    def __init__(self) -> None:
        # Imported here: the simulator package is only needed when this backend is used.
        from ..simulator import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

        settings = face_idcard_settings
        self.image_limits = _limits_from_settings(LEGACY_LIMITS)
        self.client = self._build_client(
            appid=str(settings.APPID or DEFAULT_APPID),
            secret_id=str(settings.SECRET_ID or DEFAULT_SECRET_ID),
            secret_key=str(settings.SECRET_KEY or DEFAULT_SECRET_KEY),
            bucket=str(settings.BUCKET),
            endpoint=str(settings.SIMULATOR_URL),
        )
