"""The legacy API as a backend: :class:`IdCardCompareClient` answers turned into outcomes.

Options per alias: ``APPID``, ``SECRET_ID``, ``SECRET_KEY`` (required), ``BUCKET``,
``ENDPOINT`` (default ``https://recognition.image.myqcloud.com``) and ``SIGNATURE_LIFETIME_SECONDS``
(seconds each request signature lives; default 300, at most 90 days), and the generic
``THRESHOLD`` (default 75), ``REVIEW_BAND``, ``CONNECT_TIMEOUT_SECONDS``, ``READ_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from ..._images import ImageLimits
from ...backends.base import Backend, Option, VerificationRequest
from ...backends.config import BackendSettings
from ...outcome import TRANSPORT_BAD_RESPONSE, ErrorClass, ProviderOutcome
from ...sensitive import forget_locals_on_error
from ...settings_spec import IDENTIFIER, INTEGER, SECONDS, STRING
from . import signing
from .client import DEFAULT_ENDPOINT, CompareResult, IdCardCompareClient
from .codes import LEGACY_CODES

#: The API refuses bodies over 6 MB; keep room for the text fields and multipart framing.
LEGACY_LIMITS = ImageLimits(
    max_bytes=6 * 1024 * 1024 - 64 * 1024,
    # GIF is not accepted by the API.
    formats=frozenset({"JPEG", "PNG", "BMP"}),
)

_EXTENSIONS = {"image/png": ".png", "image/bmp": ".bmp"}

#: The legacy API's account options; the simulator's backend makes them optional.
LEGACY_OPTIONS: Mapping[str, Option] = MappingProxyType(
    {
        "APPID": Option(
            type=IDENTIFIER,
            required=True,
            doc=_("The AppID of the Tencent Cloud account the calls are billed to."),
        ),
        "SECRET_ID": Option(
            type=STRING,
            required=True,
            doc=_("The SecretId of the API key that signs each call."),
        ),
        "SECRET_KEY": Option(
            type=STRING,
            required=True,
            secret=True,
            doc=_("The SecretKey of that API key: read it from the environment or a secret store."),
        ),
        "BUCKET": Option(
            type=STRING,
            default="",
            doc=_("The bucket name the legacy API's signature names, where the account has one."),
        ),
        "ENDPOINT": Option(
            type=STRING,
            default=DEFAULT_ENDPOINT,
            doc=_("The API's address (check --deploy refuses a loopback or plain-http endpoint)."),
        ),
        "SIGNATURE_LIFETIME_SECONDS": Option(
            type=INTEGER,
            unit=SECONDS,
            minimum=1,
            maximum=signing.MAX_LIFETIME_SECONDS,
            default=signing.DEFAULT_LIFETIME_SECONDS,
            doc=_(
                "Seconds each request signature lives. Tencent allows up to 90 days; a short "
                "life limits what a leaked request is worth."
            ),
        ),
    }
)


class LegacyBackend(Backend):
    provider = "legacy"
    recipient = "tencent_cloud"
    recipient_name = _("Tencent Cloud")
    # Tencent's recommendation for this API ("similarity > 75").
    default_threshold = 75.0
    options = LEGACY_OPTIONS
    endpoint_option = "ENDPOINT"
    accepts_url = True
    # Each call is signed with a fresh timestamp: a signature refused as expired passes again.
    can_resign = True
    base_image_limits = LEGACY_LIMITS
    pii_keys = frozenset({"idcard_number", "idcard_name", "url", "image"})
    catalogue = LEGACY_CODES
    billing_rule = (
        "Tencent documents none; counted as billed: a comparison, or a refusal made after the "
        "identity lookup (name mismatch, no face in the selfie, no usable registry photo)."
    )

    def __init__(self, config: BackendSettings) -> None:
        super().__init__(config)
        try:
            self.client = IdCardCompareClient(
                str(self.option("APPID")),
                str(self.option("SECRET_ID")),
                str(self.option("SECRET_KEY")),
                bucket=str(self.option("BUCKET")),
                endpoint=str(self.option("ENDPOINT")),
                timeout=(config.connect_timeout, config.read_timeout),
                signature_lifetime=int(self.option("SIGNATURE_LIFETIME_SECONDS")),
                pool_maxsize=config.http_pool_maxsize,
            )
        except (TypeError, ValueError) as exc:
            # The client's messages name the option, never a credential.
            raise ImproperlyConfigured(f"face_idcard: backend {self.alias!r}: {exc}") from None

    @forget_locals_on_error
    def call_provider(self, request: VerificationRequest) -> ProviderOutcome:
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


#: Where ``python -m face_idcard.simulator`` listens by default.
SIMULATOR_DEFAULT_URL = "http://127.0.0.1:8701"
#: The simulator's own account, used for the options an alias of the simulator leaves out.
_SIMULATOR_ACCOUNT = {
    "APPID": "DEFAULT_APPID",
    "SECRET_ID": "DEFAULT_SECRET_ID",
    "SECRET_KEY": "DEFAULT_SECRET_KEY",
}


class SimulatorBackend(LegacyBackend):
    """The legacy protocol pointed at the local simulator (development and tests only).

    Credentials default to the simulator's own account, so the simulator works with none
    configured; ``ENDPOINT`` defaults to the simulator's default address.
    """

    provider = "legacy"
    development_only = True
    options: ClassVar[Mapping[str, Option]] = MappingProxyType(
        {
            **LEGACY_OPTIONS,
            # The simulator's own account when left out.
            "APPID": dataclasses.replace(LEGACY_OPTIONS["APPID"], required=False),
            "SECRET_ID": dataclasses.replace(LEGACY_OPTIONS["SECRET_ID"], required=False),
            "SECRET_KEY": dataclasses.replace(LEGACY_OPTIONS["SECRET_KEY"], required=False),
            "ENDPOINT": dataclasses.replace(
                LEGACY_OPTIONS["ENDPOINT"], default=SIMULATOR_DEFAULT_URL
            ),
        }
    )

    @classmethod
    def option_value(cls, config: BackendSettings, key: str) -> Any:
        value = super().option_value(config, key)
        if value is None and key in _SIMULATOR_ACCOUNT:
            # Imported here: the simulator package is only needed when this backend is used.
            from ... import simulator

            value = getattr(simulator, _SIMULATOR_ACCOUNT[key])
        return value
