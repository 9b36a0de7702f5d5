"""One package per provider: its client or SDK wrapper, signing, code catalogue and backend.

Each backend declares its own options, limits and capabilities and turns its provider's answer
into :class:`face_idcard.outcome.ProviderOutcome`. Generic code imports nothing from here but
the short names below, through :func:`face_idcard.backends.backend_class`.
"""

from collections.abc import Mapping
from types import MappingProxyType

#: The short names an alias's ``BACKEND`` may use for the backends shipped with the app.
BUILTIN_BACKENDS: Mapping[str, str] = MappingProxyType(
    {
        "legacy": "face_idcard.providers.legacy.backend.LegacyBackend",
        "simulator": "face_idcard.providers.legacy.backend.SimulatorBackend",
        "faceid": "face_idcard.providers.faceid.backend.FaceIdBackend",
        "aliyun": "face_idcard.providers.aliyun.backend.AliyunBackend",
    }
)
