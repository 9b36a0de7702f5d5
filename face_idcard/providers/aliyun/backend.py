"""Cloudauth ``ContrastFaceVerify`` as a backend: :class:`CloudauthClient` answers turned into
neutral outcomes.

Options per alias: ``ACCESS_KEY_ID``, ``ACCESS_KEY_SECRET`` (a RAM user's AccessKey with
``AliyunAntCloudAuthFullAccess``) and ``SCENE_ID`` (the scene created in the console),
required; ``ENDPOINT`` (default ``https://cloudauth.aliyuncs.com``; a url such as
``http://127.0.0.1:8701`` for the simulator), ``MODEL`` (``FRONT_CAMERA_LIVENESS``, the API's
default when not sent, ``REAR_CAMERA_LIVENESS`` or ``NO_LIVENESS``) and ``THRESHOLD_POLICY``
(``"passed"``, the default: Alibaba Cloud's ``Passed`` decides, as it advises; ``"score"``: the
alias's ``THRESHOLD`` decides on ``verifyScore``); and the generic ``THRESHOLD``,
``REVIEW_BAND``, ``RATE_LIMIT_PER_SECOND`` (default here 50, the account's quota),
``CONNECT_TIMEOUT_SECONDS``, ``READ_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import base64
import re
import uuid
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
    ProviderVerdict,
)
from ...settings_spec import IDENTIFIER, STRING
from .client import DEFAULT_ENDPOINT, CloudauthAnswer, CloudauthClient
from .codes import (
    ALIYUN_CODES,
    MATCH,
    NO_MATCH,
    PASSED_VERDICTS,
    REVIEW_CODES,
    SPOOF_SUSPECTED,
    catalogue_key,
    missing_parameter,
)

#: "图片大小不超过 1MB", resolution "640*480 ~ 1920*1080", JPEG (document 163107). The shared
#: preparation bounds the longer side: 1080 keeps any aspect ratio inside 1920×1080 (both
#: readings of that box: the longer side, or each side). Room is kept under 1 MB. The lower
#: bound is refused here, before any call: at least 640 on the longer side and 480 on the
#: shorter. "Height greater than width" is not enforced: the same page accepts photos turned
#: by 90/180/270 degrees, so whether a landscape file is refused is not settled (a camera's
#: portrait photo is sent as it is).
ALIYUN_LIMITS = ImageLimits(
    max_bytes=1024 * 1024 - 16 * 1024,
    formats=frozenset({"JPEG"}),
    min_box=(640, 480),
    max_side=1080,
)
#: ``OuterOrderNo``: "at most 32 alphanumerics".
OUTER_ORDER_NO_CHARS = 32
#: Alibaba Cloud's quota for the photo variant: 50 calls per second per account.
ACCOUNT_CALLS_PER_SECOND = 50
PRODUCT_CODE = "ID_MIN"
CERT_TYPE = "IDENTITY_CARD"
MODELS = ("FRONT_CAMERA_LIVENESS", "REAR_CAMERA_LIVENESS", "NO_LIVENESS")
THRESHOLD_POLICIES = ("passed", "score")
#: The model that turns the built-in liveness check off.
NO_LIVENESS = "NO_LIVENESS"
#: Where the verdict comes from, as stored on the attempt.
LIVENESS_API = "ContrastFaceVerify"
LIVENESS_SOURCE = "aliyun." + LIVENESS_API

_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]")

ALIYUN_OPTIONS: Mapping[str, Option] = MappingProxyType(
    {
        "ACCESS_KEY_ID": Option(
            type=STRING,
            required=True,
            doc=_(
                "The AccessKey ID of a RAM user with AliyunAntCloudAuthFullAccess (never the "
                "account's own key)."
            ),
        ),
        "ACCESS_KEY_SECRET": Option(
            type=STRING,
            required=True,
            secret=True,
            doc=_("The AccessKey secret: read it from the environment or a secret store."),
        ),
        "SCENE_ID": Option(
            type=IDENTIFIER,
            required=True,
            doc=_("The number of the scene created in the console for this site."),
        ),
        "ENDPOINT": Option(
            type=STRING,
            default=DEFAULT_ENDPOINT,
            doc=_(
                "The API's address, or a url such as http://127.0.0.1:8701 for the simulator "
                "(check --deploy refuses a loopback or plain-http endpoint)."
            ),
        ),
        "MODEL": Option(
            type=STRING,
            choices=MODELS,
            default="",
            doc=_(
                "The liveness model: not sent unless set, and the API's default is "
                "FRONT_CAMERA_LIVENESS; NO_LIVENESS turns the built-in liveness check off."
            ),
        ),
        "THRESHOLD_POLICY": Option(
            type=STRING,
            choices=THRESHOLD_POLICIES,
            default="passed",
            doc=_(
                '"passed": Alibaba Cloud\'s own Passed decides, as it advises; "score": the '
                "alias's THRESHOLD decides on verifyScore."
            ),
        ),
    }
)


def outer_order_no(correlation_id: str) -> str:
    """``OuterOrderNo`` from the attempt's id: its alphanumerics, at most 32 (a fresh random
    one when the request carries none; Alibaba Cloud asks it to be unique)."""
    value = _NOT_ALPHANUMERIC.sub("", correlation_id)[:OUTER_ORDER_NO_CHARS]
    return value or uuid.uuid4().hex


class AliyunBackend(Backend):
    provider = "aliyun"
    recipient = "alibaba_cloud"
    recipient_name = _("Alibaba Cloud")
    options = ALIYUN_OPTIONS
    endpoint_option = "ENDPOINT"
    # Used by the "score" policy only; Alibaba Cloud publishes no bar for verifyScore.
    default_threshold = 70.0
    # Only urls of an OSS bucket authorised to Cloudauth may be sent: photos go as Base64.
    accepts_url = False
    # Every call is signed afresh (date and nonce): a stale or replayed refusal passes again.
    can_resign = True
    base_image_limits = ALIYUN_LIMITS
    pii_keys = frozenset({"CertName", "CertNo", "FaceContrastPicture", "IdentityInfo"})
    catalogue = ALIYUN_CODES
    # The account's quota, shared by all its RAM users: paced at it unless the site says.
    default_rate_limit_per_second = ACCOUNT_CALLS_PER_SECOND
    liveness_api = LIVENESS_API
    billing_rule = (
        "Alibaba Cloud bills a call that ran (Code 200) whatever its SubCode 200-206; "
        "refusals (other Codes, gateway errors) are counted as free."
    )

    def __init__(self, config: BackendSettings) -> None:
        super().__init__(config)
        problems = [p for p in self.option_problems(config) if p.kind == "unloadable"]
        if problems:
            raise ImproperlyConfigured(
                f"face_idcard: backend {self.alias!r}: {problems[0].key} {problems[0].text} "
                "(system check face_idcard.E017)."
            )
        self.scene_id = str(self.option("SCENE_ID")).strip()
        self.model = str(self.option("MODEL") or "")
        self.passed_decides = self.option("THRESHOLD_POLICY") == "passed"
        self.checks_liveness = self.model != NO_LIVENESS
        try:
            self.client = CloudauthClient(
                str(self.option("ACCESS_KEY_ID")),
                str(self.option("ACCESS_KEY_SECRET")),
                endpoint=str(self.option("ENDPOINT")),
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                pool_maxsize=config.http_pool_maxsize,
            )
        except ValueError as exc:
            raise ImproperlyConfigured(f"face_idcard: backend {self.alias!r}: {exc}") from None

    @classmethod
    def option_problems(cls, config: BackendSettings) -> list[OptionProblem]:
        problems: list[OptionProblem] = []
        scene = cls.option_value(config, "SCENE_ID")
        if scene is not None and not str(scene).strip().isdigit():
            problems.append(OptionProblem("unloadable", "SCENE_ID", "must be the scene's number"))
        return problems

    @classmethod
    def liveness_builtin(cls, config: BackendSettings) -> bool:
        # ContrastFaceVerify checks liveness unless the alias asks for NO_LIVENESS.
        return bool(cls.option_value(config, "MODEL") != NO_LIVENESS)

    def fields(self, request: VerificationRequest) -> dict[str, str]:
        """The form fields of one call (``Model`` goes in the query)."""
        return {
            "SceneId": self.scene_id,
            "OuterOrderNo": outer_order_no(request.correlation_id),
            "ProductCode": PRODUCT_CODE,
            "CertType": CERT_TYPE,
            "CertName": request.idcard_name,
            "CertNo": request.idcard_number,
            "FaceContrastPicture": base64.b64encode(request.image or b"").decode("ascii"),
        }

    def call_provider(self, request: VerificationRequest) -> ProviderOutcome:
        # Never a url here: Backend.verify refuses one, as accepts_url is off.
        answer = self.client.contrast_face_verify(self.fields(request), model=self.model or None)
        return self.outcome(answer)

    def outcome(self, answer: CloudauthAnswer) -> ProviderOutcome:
        """The neutral form of one answer: API, business result or gateway error."""
        key = catalogue_key(answer.code, answer.sub_code)
        fields: dict[str, Any] = {
            "session_id": answer.certify_id,
            "request_id": answer.request_id,
            "message": answer.message,
            "provider_result": answer.passed,
            "raw": answer.raw,
            "http_status": answer.http_status,
            "elapsed": answer.elapsed,
        }
        if key == "200.":
            # Code 200 without a SubCode is not the documented shape.
            return ProviderOutcome.from_code(self.catalogue, TRANSPORT_BAD_RESPONSE, **fields)
        info = self.catalogue.lookup(key)
        if info.error_class is not ErrorClass.SUCCESS:
            return ProviderOutcome.from_code(
                self.catalogue, key, error_class=missing_parameter(key), **fields
            )
        score = answer.verify_score
        verdict = self._verdict(key, answer.passed)
        if verdict is None and score is None:
            # The "score" policy with a comparison that carries no score.
            return ProviderOutcome.from_code(self.catalogue, TRANSPORT_BAD_RESPONSE, **fields)
        return ProviderOutcome.from_code(
            self.catalogue,
            key,
            similarity=score,
            verdict=verdict,
            liveness=self._liveness(key, answer.face_attack),
            **fields,
        )

    def _liveness(self, key: str, face_attack: str) -> LivenessVerdict | None:
        """``faceAttack`` (``T``: attack suspected) or SubCode 205 as a liveness verdict; None
        when the alias turned the check off."""
        if not self.checks_liveness:
            return None
        if key == SPOOF_SUSPECTED or face_attack == "T":
            return LivenessVerdict(Liveness.SPOOF_SUSPECTED, LIVENESS_SOURCE)
        if face_attack == "F":
            return LivenessVerdict(Liveness.PASSED, LIVENESS_SOURCE)
        # The call ran with the check on and said nothing about it.
        return LivenessVerdict(Liveness.UNAVAILABLE, LIVENESS_SOURCE)

    def _verdict(self, key: str, passed: str) -> ProviderVerdict | None:
        if key in REVIEW_CODES:
            return ProviderVerdict.REVIEW
        if not self.passed_decides:
            return None
        if key in (MATCH, NO_MATCH) and passed in ("T", "F"):
            # Passed is what Alibaba Cloud says to decide on; the SubCode agrees with it.
            return ProviderVerdict.MATCH if passed == "T" else ProviderVerdict.NO_MATCH
        return PASSED_VERDICTS.get(key)

    def close(self) -> None:
        self.client.close()
