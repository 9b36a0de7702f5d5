"""Tencent's legacy ``/face/idcardcompare`` API through :class:`IdCardCompareClient`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

from ..client import IdCardCompareClient
from ..conf import face_idcard_settings
from ..images import ImageLimits
from .base import Backend

if TYPE_CHECKING:
    from ..client import CompareResult

#: The API refuses bodies over 6 MB; keep room for the text fields and multipart framing.
LEGACY_LIMITS = ImageLimits(
    max_bytes=6 * 1024 * 1024 - 64 * 1024,
    # GIF is not accepted by the API.
    formats=frozenset({"JPEG", "PNG", "BMP"}),
)


class LegacyBackend(Backend):
    name = "legacy"
    # Tencent's recommendation for this API ("similarity > 75").
    default_threshold = 75.0

    def __init__(self) -> None:
        settings = face_idcard_settings
        self.image_limits = _limits_from_settings(LEGACY_LIMITS)
        self.client = self._build_client(
            appid=str(settings.APPID),
            secret_id=str(settings.SECRET_ID),
            secret_key=str(settings.SECRET_KEY),
            bucket=str(settings.BUCKET),
            endpoint=str(settings.ENDPOINT),
        )

    @staticmethod
    def _build_client(
        *, appid: str, secret_id: str, secret_key: str, bucket: str, endpoint: str
    ) -> IdCardCompareClient:
        settings = face_idcard_settings
        if not (appid and secret_id and secret_key):
            raise ImproperlyConfigured(
                "face_idcard: APPID, SECRET_ID and SECRET_KEY are required for this backend "
                "(system check face_idcard.E002)."
            )
        return IdCardCompareClient(
            appid,
            secret_id,
            secret_key,
            bucket=bucket,
            endpoint=endpoint,
            timeout=(float(settings.CONNECT_TIMEOUT), float(settings.READ_TIMEOUT)),
            signature_lifetime=int(settings.SIGNATURE_LIFETIME),
            pool_maxsize=int(settings.HTTP_POOL_MAXSIZE),
        )

    def compare(
        self,
        *,
        idcard_number: str,
        idcard_name: str,
        image: bytes | None = None,
        url: str | None = None,
        session_id: str | None = None,
        image_content_type: str = "image/jpeg",
        image_filename: str = "image.jpg",
    ) -> CompareResult:
        return self.client.compare(
            idcard_number,
            idcard_name,
            image=image,
            url=url,
            session_id=session_id,
            image_content_type=image_content_type,
            image_filename=image_filename,
        )

    def close(self) -> None:
        self.client.close()


def _limits_from_settings(base: ImageLimits) -> ImageLimits:
    """The backend's limits, narrowed by the site's image settings."""
    settings = face_idcard_settings
    return ImageLimits(
        max_bytes=base.max_bytes,
        formats=base.formats,
        min_side=int(settings.IMAGE_MIN_SIDE),
        max_side=min(base.max_side, int(settings.IMAGE_MAX_SIDE)),
        max_pixels=int(settings.IMAGE_MAX_PIXELS),
        max_input_bytes=int(settings.UPLOAD_MAX_BYTES),
    )
