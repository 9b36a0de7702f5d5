"""The legacy API as a backend: :class:`IdCardCompareClient` answers turned into outcomes."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured

from ...backends.base import Backend, VerificationRequest
from ...conf import face_idcard_settings
from ...images import ImageLimits
from ...outcome import TRANSPORT_BAD_RESPONSE, ErrorClass, ProviderOutcome
from ...sensitive import forget_locals_on_error
from .client import CompareResult, IdCardCompareClient
from .codes import LEGACY_CODES

#: The API refuses bodies over 6 MB; keep room for the text fields and multipart framing.
LEGACY_LIMITS = ImageLimits(
    max_bytes=6 * 1024 * 1024 - 64 * 1024,
    # GIF is not accepted by the API.
    formats=frozenset({"JPEG", "PNG", "BMP"}),
)

_EXTENSIONS = {"image/png": ".png", "image/bmp": ".bmp"}


class LegacyBackend(Backend):
    provider = "legacy"
    # Tencent's recommendation for this API ("similarity > 75").
    default_threshold = 75.0
    accepts_url = True
    base_image_limits = LEGACY_LIMITS
    pii_keys = frozenset({"idcard_number", "idcard_name", "url", "image"})
    catalogue = LEGACY_CODES
    billing_rule = (
        "Tencent documents none; counted as billed: a comparison, or a refusal made after the "
        "identity lookup (name mismatch, no face in the selfie, no usable registry photo)."
    )
    required_options: ClassVar[tuple[str, ...]] = ("APPID", "SECRET_ID", "SECRET_KEY")

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.client = self._build_client(**self._credentials())

    def _credentials(self) -> dict[str, str]:
        config = self.config
        return {
            "appid": str(config.option("APPID")),
            "secret_id": str(config.option("SECRET_ID")),
            "secret_key": str(config.option("SECRET_KEY")),
            "bucket": str(config.option("BUCKET")),
            "endpoint": str(config.option("ENDPOINT", face_idcard_settings.ENDPOINT)),
        }

    def _build_client(
        self, *, appid: str, secret_id: str, secret_key: str, bucket: str, endpoint: str
    ) -> IdCardCompareClient:
        if not (appid and secret_id and secret_key):
            raise ImproperlyConfigured(
                f"face_idcard: backend {self.alias!r} needs APPID, SECRET_ID and SECRET_KEY "
                "(system check face_idcard.E002)."
            )
        config = self.config
        return IdCardCompareClient(
            appid,
            secret_id,
            secret_key,
            bucket=bucket,
            endpoint=endpoint,
            timeout=(config.connect_timeout, config.read_timeout),
            signature_lifetime=int(config.option("SIGNATURE_LIFETIME", 300)),
            pool_maxsize=config.http_pool_maxsize,
        )

    @forget_locals_on_error
    def verify(self, request: VerificationRequest) -> ProviderOutcome:
        result = self.client.compare(
            request.idcard_number,
            request.idcard_name,
            image=None if request.url_mode else request.image,
            url=request.url,
            session_id=request.correlation_id or None,
            image_content_type=request.image_content_type,
            image_filename="image" + _EXTENSIONS.get(request.image_content_type, ".jpg"),
        )
        return self.outcome(result)

    def outcome(self, result: CompareResult) -> ProviderOutcome:
        """The neutral form of one legacy answer."""
        fields: dict[str, Any] = {
            "similarity": result.similarity,
            "session_id": result.session_id,
            "message": result.message,
            "raw": result.raw,
            "http_status": result.http_status,
            "elapsed": result.elapsed,
        }
        if result.error_class is ErrorClass.SUCCESS and result.similarity is None:
            # Code 0 without a score is not the documented shape: like any unusable body.
            return ProviderOutcome.from_code(self.catalogue, TRANSPORT_BAD_RESPONSE, **fields)
        # The class depends on the mode (a download failure only means something in url mode).
        return ProviderOutcome.from_code(
            self.catalogue, result.code, error_class=result.error_class, **fields
        )

    def close(self) -> None:
        self.client.close()


class SimulatorBackend(LegacyBackend):
    """The legacy protocol pointed at the local simulator (development and tests only).

    Credentials default to the simulator's own account, so the simulator works with none
    configured; ``ENDPOINT`` defaults to ``SIMULATOR_URL``.
    """

    provider = "legacy"
    development_only = True
    required_options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def options_from_flat_settings(cls) -> dict[str, Any]:
        return {
            **super().options_from_flat_settings(),
            "ENDPOINT": face_idcard_settings.SIMULATOR_URL,
        }

    def _credentials(self) -> dict[str, str]:
        # Imported here: the simulator package is only needed when this backend is used.
        from ...simulator import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY

        config = self.config
        return {
            "appid": str(config.option("APPID", DEFAULT_APPID)),
            "secret_id": str(config.option("SECRET_ID", DEFAULT_SECRET_ID)),
            "secret_key": str(config.option("SECRET_KEY", DEFAULT_SECRET_KEY)),
            "bucket": str(config.option("BUCKET")),
            "endpoint": str(config.option("ENDPOINT", face_idcard_settings.SIMULATOR_URL)),
        }
