"""The simulator's configuration: one account, a registry, fault injection, limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import faults
from .encryption import load_private_key
from .registry import Registry

__all__ = ["DEFAULT_APPID", "DEFAULT_SECRET_ID", "DEFAULT_SECRET_KEY", "SimulatorConfig"]

#: Well-known dummy credentials the simulator accepts by default. They open nothing anywhere
#: else; the Django "simulator" backend uses them when no credentials are configured.
DEFAULT_APPID = "1000000001"
DEFAULT_SECRET_ID = "AKIDfaceidcardSimulatorDummySecretId"  # noqa: S105 (public dummy)
DEFAULT_SECRET_KEY = "faceidcardSimulatorDummySecretKey"  # noqa: S105 (public dummy)

#: Legacy API body limit (idcardcompare.md: 6 MB per request).
LEGACY_MAX_BODY_BYTES = 6 * 1024 * 1024
#: How FaceID answers Success / FailedOperation.*: in Response.Result (the SDK's model) or as
#: Response.Error.Code (PROTOCOLS.md §3 leaves it OPEN).
FACEID_BUSINESS_ANSWERS = ("result", "error")
#: The oversized and gzip-bomb faults' decoded body: 50 MB.
OVERSIZED_ANSWER_BYTES = 50 * 1000 * 1000


@dataclass(frozen=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    #: 0: a free port chosen by the system (read it back from ``SimulatorServer.port``).
    port: int = 0
    appid: str = DEFAULT_APPID
    secret_id: str = DEFAULT_SECRET_ID
    secret_key: str = field(default=DEFAULT_SECRET_KEY, repr=False)
    #: Bucket the account owns; a signature or body naming another one answers 6. Empty: any.
    bucket: str = ""
    #: A :class:`Registry`, a path to a JSON file or directory, or None for the demo registry.
    registry: Registry | str | Path | None = None
    #: Added latency: milliseconds, or a spec such as ``"normal:50,10"`` (see :mod:`.faults`).
    latency: float | str | faults.LatencySpec = 0.0
    #: Injected error rates per class name of :data:`faults.FAULT_CLASSES`.
    error_rates: Mapping[str, float] = field(default_factory=dict)
    hang_rate: float = 0.0
    #: Account quota, requests per second (None: unlimited).
    qps: float | None = None
    #: FaceID ``DetectAIFakeFaces``' own quota, calls in any second (None: unlimited).
    precheck_qps: int | None = 5
    #: Seed of the fault generator (None: unpredictable).
    seed: int | None = None
    #: url mode: seconds to wait for the image server, and the largest image accepted.
    url_fetch_timeout: float = 5.0
    url_fetch_max_bytes: int = LEGACY_MAX_BODY_BYTES
    #: url mode: also fetch from loopback, private, link-local... destinations. Off, as the
    #: real service is on the internet; tests whose image server is on 127.0.0.1 turn it on.
    url_allow_private: bool = False
    #: url mode: host name -> addresses (None: the system resolver); for tests without DNS.
    url_resolver: Callable[[str], Iterable[str]] | None = field(default=None, repr=False)
    #: A hang (magic HANG, hang rate) ends after this many seconds, or at shutdown.
    max_hang_seconds: float = 60.0
    max_body_bytes: int = LEGACY_MAX_BODY_BYTES
    #: PEM of the RSA private key whose public half clients wrap FaceID ``Encryption`` keys
    #: with (None: every encrypted request answers DecryptSystemError).
    faceid_private_key: bytes | None = field(default=None, repr=False)
    #: ``"result"`` or ``"error"``: see :data:`FACEID_BUSINESS_ANSWERS`.
    faceid_business_answer: str = "result"
    #: Size of the (decoded) body of the ``oversized`` and ``gzip_bomb`` faults.
    oversized_answer_bytes: int = OVERSIZED_ANSWER_BYTES
    #: Listen beyond loopback (``host`` "0.0.0.0", a LAN address...). Off: the control
    #: endpoints (``/__simulator__/``: the call ledger, reset) have no authentication.
    allow_remote_control: bool = False

    def __post_init__(self) -> None:
        if self.faceid_business_answer not in FACEID_BUSINESS_ANSWERS:
            raise ValueError("faceid_business_answer must be 'result' or 'error'")
        if self.faceid_private_key is not None:
            load_private_key(self.faceid_private_key)  # ValueError at start, not per request
        faults.validate_rates(self.error_rates, self.hang_rate)
        faults.parse_latency(self.latency)
        if self.qps is not None and self.qps <= 0:
            raise ValueError("qps must be positive (or None for no quota)")
        if self.precheck_qps is not None and self.precheck_qps < 1:
            raise ValueError("precheck_qps must be at least 1 (or None for no quota)")
        if self.oversized_answer_bytes < 0:
            raise ValueError("oversized_answer_bytes must not be negative")

    @property
    def uses_default_secret(self) -> bool:
        return self.secret_key == DEFAULT_SECRET_KEY
