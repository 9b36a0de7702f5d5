"""FaceID ``ImageRecognitionV2`` as a backend: SDK answers turned into neutral outcomes.

Options per alias: ``SECRET_ID``, ``SECRET_KEY`` (required), ``ENDPOINT`` (a host, or a url
such as ``http://127.0.0.1:8701`` for the simulator; default ``faceid.tencentcloudapi.com``),
``REGION`` (not sent unless set: the API takes none), ``ENCRYPTION_PUBLIC_KEY`` (the PEM
from the FaceID console: switches on the encryption of Name and IdCard), and the generic
``THRESHOLD`` (default 70), ``REVIEW_BAND``, ``CONNECT_TIMEOUT``, ``READ_TIMEOUT``.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured

from ...backends.base import Backend, VerificationRequest
from ...images import ImageLimits
from ...outcome import TRANSPORT_BAD_RESPONSE, ErrorClass, ProviderOutcome
from .codes import FACEID_CODES, LOW_SIMILARITY, SUCCESS, TENCENT_PASS_MARK
from .encryption import FieldEncryptor, load_public_key
from .sdk import FaceIdAnswer, FaceIdClient

#: "Base64 编码后的图片数据大小不超过 3M": 3 MiB of Base64 is 2.25 MiB of image; a little
#: room kept so that an image at the limit never lands on the boundary.
MAX_IMAGE_BASE64_CHARS = 3 * 1024 * 1024
FACEID_LIMITS = ImageLimits(
    max_bytes=MAX_IMAGE_BASE64_CHARS // 4 * 3 - 4 * 1024,
    formats=frozenset({"JPEG", "PNG"}),
)
#: ``Extra`` is echoed back and limited to 10 characters: a correlation tag, never PII.
EXTRA_CHARS = 10


class FaceIdBackend(Backend):
    provider = "faceid"
    default_threshold = TENCENT_PASS_MARK
    accepts_url = False
    base_image_limits = FACEID_LIMITS
    pii_keys = frozenset({"IdCard", "Name", "ImageBase64", "Encryption"})
    catalogue = FACEID_CODES
    billing_rule = (
        "Tencent documents Success, CompareLowSimilarity and IdNameMisMatch as billed and the "
        "face and image failures as free; refusals before the comparison counted as free; "
        "the rest unknown."
    )
    required_options: ClassVar[tuple[str, ...]] = ("SECRET_ID", "SECRET_KEY")

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        config = self.config
        secret_id, secret_key = config.option("SECRET_ID"), config.option("SECRET_KEY")
        if not (secret_id and secret_key):
            raise ImproperlyConfigured(
                f"face_idcard: backend {self.alias!r} needs SECRET_ID and SECRET_KEY "
                "(system check face_idcard.E002)."
            )
        self.encryptor = self._encryptor(config.option("ENCRYPTION_PUBLIC_KEY"))
        try:
            self.client = FaceIdClient(
                str(secret_id),
                str(secret_key),
                endpoint=str(config.option("ENDPOINT")),
                region=str(config.option("REGION")),
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                pool_maxsize=config.http_pool_maxsize,
            )
        except ValueError as exc:
            raise ImproperlyConfigured(f"face_idcard: backend {self.alias!r}: {exc}") from None

    @classmethod
    def options_from_flat_settings(cls) -> dict[str, Any]:
        # The flat ENDPOINT is the legacy API's host: not this API's.
        options = super().options_from_flat_settings()
        options.pop("ENDPOINT", None)
        return options

    def _encryptor(self, pem: Any) -> FieldEncryptor | None:
        if not pem:
            return None
        try:
            return FieldEncryptor(load_public_key(pem))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"face_idcard: backend {self.alias!r}: ENCRYPTION_PUBLIC_KEY is unusable ({exc}); "
                "system check face_idcard.E017."
            ) from None

    def params(self, request: VerificationRequest) -> dict[str, Any]:
        """The request body (the SDK signs and sends it)."""
        fields = {"IdCard": request.idcard_number, "Name": request.idcard_name}
        params: dict[str, Any] = {}
        if self.encryptor is not None:
            encrypted = self.encryptor.encrypt(fields)
            params.update(encrypted.values, Encryption=encrypted.encryption)
        else:
            params.update(fields)
        params["ImageBase64"] = base64.b64encode(request.image or b"").decode("ascii")
        tag = request.correlation_id[:EXTRA_CHARS]
        if tag:
            params["Extra"] = tag
        return params

    def verify(self, request: VerificationRequest) -> ProviderOutcome:
        if request.url_mode:
            # Submission refuses urls for this backend; an attempt stored otherwise is ours.
            raise ValueError("ImageRecognitionV2 takes no url")
        return self.outcome(self.client.image_recognition_v2(self.params(request)))

    def outcome(self, answer: FaceIdAnswer) -> ProviderOutcome:
        """The neutral form of one answer, Result or Error."""
        fields: dict[str, Any] = {
            "request_id": answer.request_id,
            "raw": answer.raw,
            "http_status": 200,
            "elapsed": answer.elapsed,
        }
        error_code = answer.error_code
        if error_code is not None:
            if not error_code:
                return ProviderOutcome.from_code(self.catalogue, TRANSPORT_BAD_RESPONSE, **fields)
            info = self.catalogue.lookup(error_code)
            # A business result answered as Error.Code carries no Sim: a low similarity
            # cannot be decided on our threshold, so it ends as the person's result.
            error_class = ErrorClass.INPUT if info.error_class is ErrorClass.SUCCESS else None
            return ProviderOutcome.from_code(
                self.catalogue,
                error_code,
                error_class=error_class,
                message=answer.error_message,
                provider_result=error_code,
                **fields,
            )
        result, sim = answer.result, answer.sim
        if result is None and sim is None:
            return ProviderOutcome.from_code(self.catalogue, TRANSPORT_BAD_RESPONSE, **fields)
        if result is None:
            # A Sim without a Result: the app decides on Sim anyway; the code says which side
            # of Tencent's bar it is.
            assert sim is not None
            code = SUCCESS if sim >= TENCENT_PASS_MARK else LOW_SIMILARITY
        else:
            code = result
        info = self.catalogue.lookup(code)
        if info.error_class is ErrorClass.SUCCESS and sim is None:
            # Success or CompareLowSimilarity without a usable Sim: not the documented shape.
            return ProviderOutcome.from_code(self.catalogue, TRANSPORT_BAD_RESPONSE, **fields)
        return ProviderOutcome.from_code(
            self.catalogue,
            code,
            # The pipeline decides on Sim against the alias's threshold whatever Result says;
            # Result stays beside it. Other results' Sim (0) means nothing.
            similarity=sim if info.error_class is ErrorClass.SUCCESS else None,
            message=answer.description,
            provider_result=result or "",
            **fields,
        )

    def close(self) -> None:
        self.client.close()

    @classmethod
    def option_problems(cls, config: Any) -> list[tuple[str, str, str]]:
        """``(kind, key, text)`` for each problem with this alias's options; face_idcard.checks
        turns them into system checks (``unloadable``: E017, ``below_provider_bar``: W008)."""
        problems: list[tuple[str, str, str]] = []
        pem = config.option("ENCRYPTION_PUBLIC_KEY")
        if pem:
            try:
                load_public_key(pem)
            except ValueError as exc:
                problems.append(
                    (
                        "unloadable",
                        "ENCRYPTION_PUBLIC_KEY",
                        f"cannot be loaded: {exc}. Paste the RSA public key (PEM) from the "
                        "FaceID console; SM2 keys are not supported",
                    )
                )
        threshold = config.threshold
        if threshold is not None and threshold < TENCENT_PASS_MARK:
            problems.append(
                (
                    "below_provider_bar",
                    "THRESHOLD",
                    f"is {threshold:g}, below Tencent's fixed bar of {TENCENT_PASS_MARK:g} for "
                    "ImageRecognitionV2 (its recommendation: a false accept rate of 1 in 10,000); "
                    "photos Tencent itself calls CompareLowSimilarity will match",
                )
            )
        return problems
