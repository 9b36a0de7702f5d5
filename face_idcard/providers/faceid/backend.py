"""FaceID ``ImageRecognitionV2`` as a backend: SDK answers turned into neutral outcomes.

Options per alias: ``SECRET_ID``, ``SECRET_KEY`` (required), ``ENDPOINT`` (a host, or a url
such as ``http://127.0.0.1:8701`` for the simulator; default ``faceid.tencentcloudapi.com``),
``REGION`` (not sent unless set: the API takes none), ``ENCRYPTION_PUBLIC_KEY`` (the PEM
from the FaceID console: switches on the encryption of Name and IdCard), and the generic
``THRESHOLD`` (default 70), ``REVIEW_BAND``, ``CONNECT_TIMEOUT_SECONDS``, ``READ_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from ..._images import ImageLimits
from ...backends.base import Backend, Option, OptionProblem, VerificationRequest
from ...backends.config import BackendSettings
from ...outcome import (
    TRANSPORT_BAD_RESPONSE,
    ErrorClass,
    Liveness,
    LivenessVerdict,
    ProviderOutcome,
)
from ...settings_spec import BOOLEAN, CALLS_PER_SECOND, NUMBER, STRING
from .codes import FACEID_CODES, LOW_SIMILARITY, SUCCESS, TENCENT_PASS_MARK
from .encryption import FieldEncryptor, load_public_key
from .sdk import DEFAULT_ENDPOINT, PRECHECK_ACTION, FaceIdAnswer, FaceIdClient

#: "Base64 编码后的图片数据大小不超过 3M": 3 MiB of Base64 is 2.25 MiB of image; a little
#: room kept so that an image at the limit never lands on the boundary.
MAX_IMAGE_BASE64_CHARS = 3 * 1024 * 1024
FACEID_LIMITS = ImageLimits(
    max_bytes=MAX_IMAGE_BASE64_CHARS // 4 * 3 - 4 * 1024,
    formats=frozenset({"JPEG", "PNG"}),
)
#: ``Extra`` is echoed back and limited to 10 characters: a correlation tag, never PII.
EXTRA_CHARS = 10
#: DetectAIFakeFaces' default quota: 5 calls per second, apart from ImageRecognitionV2's.
PRECHECK_CALLS_PER_SECOND = 5
#: Where a pre-check verdict comes from, as stored on the attempt.
PRECHECK_SOURCE = "faceid." + PRECHECK_ACTION
#: ``AttackRiskLevel`` values: Low passes, the others are a suspected attack.
RISK_LEVELS = ("Low", "Mid", "High")
#: ``FaceInputType``: 1 an image (2 a video, never sent here).
FACE_INPUT_IMAGE = 1


FACEID_OPTIONS: Mapping[str, Option] = MappingProxyType(
    {
        "SECRET_ID": Option(
            type=STRING,
            required=True,
            doc=_("The SecretId of a Tencent Cloud API key allowed to call FaceID."),
        ),
        "SECRET_KEY": Option(
            type=STRING,
            required=True,
            secret=True,
            doc=_("The SecretKey of that API key: read it from the environment or a secret store."),
        ),
        "ENDPOINT": Option(
            type=STRING,
            default=DEFAULT_ENDPOINT,
            doc=_(
                "The API's host, or a url such as http://127.0.0.1:8701 for the simulator "
                "(check --deploy refuses a loopback or plain-http endpoint)."
            ),
        ),
        "REGION": Option(
            type=STRING,
            default="",
            doc=_(
                "The region sent with each call; the API takes none, so it is not sent unless set."
            ),
        ),
        "ENCRYPTION_PUBLIC_KEY": Option(
            type=STRING,
            default="",
            doc=_(
                "The RSA public key (PEM) from the FaceID console: when set, the name and the ID "
                "number are sent encrypted."
            ),
        ),
        "LIVENESS_PRECHECK": Option(
            type=BOOLEAN,
            default=True,
            doc=_(
                "With the alias's LIVENESS on, call DetectAIFakeFaces before each comparison. "
                'False: the alias cannot check liveness, so LIVENESS "require" is refused '
                "(face_idcard.E041)."
            ),
        ),
        "PRECHECK_RATE_LIMIT_PER_SECOND": Option(
            type=NUMBER,
            unit=CALLS_PER_SECOND,
            minimum=1,
            default=PRECHECK_CALLS_PER_SECOND,
            doc=_("DetectAIFakeFaces' own quota, paced apart from the comparison's."),
        ),
    }
)


class FaceIdBackend(Backend):
    provider = "faceid"
    recipient = "tencent_cloud"
    recipient_name = _("Tencent Cloud")
    options = FACEID_OPTIONS
    endpoint_option = "ENDPOINT"
    default_threshold = TENCENT_PASS_MARK
    accepts_url = False
    # The SDK signs every call with a fresh timestamp: a signature refused as expired passes
    # when sent again.
    can_resign = True
    base_image_limits = FACEID_LIMITS
    pii_keys = frozenset({"IdCard", "Name", "ImageBase64", "Encryption", "FaceInput"})
    catalogue = FACEID_CODES
    # Tencent keeps FaceID results for 3 days (face_idcard.services.withdraw tells the person).
    provider_keeps_results_days = 3
    precheck_api = PRECHECK_ACTION
    billing_rule = (
        "Tencent documents Success, CompareLowSimilarity and IdNameMisMatch as billed and the "
        "face and image failures as free; refusals before the comparison counted as free; "
        "the rest unknown."
    )

    def __init__(self, config: BackendSettings) -> None:
        super().__init__(config)
        self.encryptor = self._encryptor(self.option("ENCRYPTION_PUBLIC_KEY"))
        self.precheck_rate_limit_per_second = max(
            1, int(self.option("PRECHECK_RATE_LIMIT_PER_SECOND"))
        )
        try:
            self.client = FaceIdClient(
                str(self.option("SECRET_ID")),
                str(self.option("SECRET_KEY")),
                endpoint=str(self.option("ENDPOINT")),
                region=str(self.option("REGION")),
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                pool_maxsize=config.http_pool_maxsize,
            )
        except ValueError as exc:
            raise ImproperlyConfigured(f"face_idcard: backend {self.alias!r}: {exc}") from None

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

    def call_provider(self, request: VerificationRequest) -> ProviderOutcome:
        # Never a url here: Backend.verify refuses one, as accepts_url is off.
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

    @classmethod
    def liveness_precheck(cls, config: BackendSettings) -> bool:
        return cls.option_value(config, "LIVENESS_PRECHECK") is not False

    def call_liveness_precheck(self, request: VerificationRequest) -> ProviderOutcome:
        params = {
            "FaceInput": base64.b64encode(request.image or b"").decode("ascii"),
            "FaceInputType": FACE_INPUT_IMAGE,
        }
        return self.precheck_outcome(self.client.detect_ai_fake_faces(params))

    def precheck_outcome(self, answer: FaceIdAnswer) -> ProviderOutcome:
        """The neutral form of a DetectAIFakeFaces answer: its risk level as a verdict."""
        fields: dict[str, Any] = {
            "request_id": answer.request_id,
            "raw": answer.raw,
            "http_status": 200,
            "elapsed": answer.elapsed,
        }
        error_code = answer.error_code
        if error_code is not None:
            code = error_code or TRANSPORT_BAD_RESPONSE
            info = self.catalogue.lookup(code)
            # A business code here is still no verdict on liveness: never a success.
            error_class = ErrorClass.INPUT if info.error_class is ErrorClass.SUCCESS else None
            return ProviderOutcome.from_code(
                self.catalogue,
                code,
                error_class=error_class,
                message=answer.error_message,
                **fields,
            )
        level = answer.response.get("AttackRiskLevel")
        if level not in RISK_LEVELS:
            return ProviderOutcome.from_code(self.catalogue, TRANSPORT_BAD_RESPONSE, **fields)
        details = answer.response.get("AttackRiskDetailList")
        attacks = tuple(
            str(item["Type"])
            for item in (details if isinstance(details, list) else [])
            if isinstance(item, dict) and isinstance(item.get("Type"), str)
        )
        verdict = Liveness.PASSED if level == "Low" else Liveness.SPOOF_SUSPECTED
        return ProviderOutcome.from_code(
            self.catalogue,
            SUCCESS,
            provider_result=str(level),
            liveness=LivenessVerdict(
                verdict, PRECHECK_SOURCE, str(level), attacks, high_risk=level == "High"
            ),
            **fields,
        )

    def close(self) -> None:
        self.client.close()

    @classmethod
    def option_problems(cls, config: BackendSettings) -> list[OptionProblem]:
        problems: list[OptionProblem] = []
        pem = cls.option_value(config, "ENCRYPTION_PUBLIC_KEY")
        if pem:
            try:
                load_public_key(pem)
            except ValueError as exc:
                problems.append(
                    OptionProblem(
                        "unloadable",
                        "ENCRYPTION_PUBLIC_KEY",
                        f"cannot be loaded: {exc}. Paste the RSA public key (PEM) from the "
                        "FaceID console; SM2 keys are not supported",
                    )
                )
        threshold = config.threshold
        if threshold is not None and threshold < TENCENT_PASS_MARK:
            problems.append(
                OptionProblem(
                    "below_provider_bar",
                    "THRESHOLD",
                    f"is {threshold:g}, below Tencent's fixed bar of {TENCENT_PASS_MARK:g} for "
                    "ImageRecognitionV2 (its recommendation: a false accept rate of 1 in 10,000); "
                    "photos Tencent itself calls CompareLowSimilarity will match",
                )
            )
        return problems
