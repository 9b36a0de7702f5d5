"""FaceID ``DetectAIFakeFaces`` (the AI face shield, version 2018-03-01): the liveness pre-check.

``POST /`` on the FaceID port with ``X-TC-Action: DetectAIFakeFaces``, TC3 signed like
``ImageRecognitionV2`` (:mod:`.faceid`), a JSON body ``FaceInput`` (Base64 image) and
``FaceInputType`` (1: an image; 2, a video, is refused here). The answer is
``AttackRiskLevel`` (``Low``, ``Mid``, ``High``) with ``AttackRiskDetailList`` (``Type`` of
each suspected attack), ``ExtraInfo`` and ``RequestId``.

Magic images (the decoded image's size in pixels, kept by the app's photo preparation):

===================  =========================================================
Width                Answer
===================  =========================================================
``MID_RISK_WIDTH``   611: ``Mid``
``HIGH_RISK_WIDTH``  612: ``High``
``FAILING_WIDTH``    613: ``FailedOperation.UnKnown`` (the check fails, not billed)
``LOST_WIDTH``       614: checked and billed (``Low``), then the connection is closed
                     without an answer: a reset after the request was sent
``LATE_WIDTH``       615: checked and billed (``Low``), answered after ``LATE_MS``
                     (a client with a shorter read timeout never sees the answer)
anything else        ``Low``, no attack
===================  =========================================================

With ``Mid`` or ``High``, the height picks the attack type: ``ATTACK_HEIGHT + i`` (401 to 407)
answers ``ATTACK_TYPES[i]``, any other height ``SuspectedSpoofingAttack``.

Its own quota, apart from the comparison's: at most ``SimulatorConfig.precheck_qps`` calls
(:data:`QUOTA_PER_SECOND`, 5, by default; ``--precheck-qps``) in any sliding second, the others answer ``RequestLimitExceeded`` (not billed). The injected faults
of the server (error rates, hangs, latency) apply as to every protocol. Each call goes to the
ledger as protocol ``faceid.precheck``, billable when it answered a risk level.
"""

from __future__ import annotations

import base64
import binascii
import collections
import io
import json
import threading
from email.message import Message
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from .. import tc3
from ..core import Verdict
from ..outcomes import Outcome
from .base import PendingRecord, ProtocolHandler, Reply, ReplyAction, Request
from .faceid import SERVICE, _Answer, _check_headers_for, _request_id

if TYPE_CHECKING:
    from ..core import SimulatorCore

__all__ = [
    "ACTION",
    "ATTACK_HEIGHT",
    "ATTACK_TYPES",
    "FAILING_WIDTH",
    "HIGH_RISK_WIDTH",
    "LATE_MS",
    "LATE_WIDTH",
    "LOST_WIDTH",
    "MID_RISK_WIDTH",
    "QUOTA_PER_SECOND",
    "FaceIdDetectAIFakeFaces",
]

ACTION = "DetectAIFakeFaces"
MID_RISK_WIDTH = 611
HIGH_RISK_WIDTH = 612
FAILING_WIDTH = 613
LOST_WIDTH = 614
LATE_WIDTH = 615
LATE_MS = 2000.0
ATTACK_HEIGHT = 401
#: The attack types of the SDK's ``AttackRiskDetail.Type``.
ATTACK_TYPES = (
    "SuspectedSpoofingAttack",
    "SuspectedSynthesisImage",
    "SuspectedSynthesisVideo",
    "SuspectedAnomalyAttack",
    "SuspectedAdversarialAttack",
    "SuspectedBlackIndustry",
    "SuspectedWatermark",
)
QUOTA_PER_SECOND = 5
MAX_BODY_BYTES = 10 * 1024 * 1024
_KNOWN = frozenset({"FaceInput", "FaceInputType", "Encryption", "EncryptedBody"})


class FaceIdDetectAIFakeFaces(ProtocolHandler):
    name = "faceid.precheck"
    method = "POST"
    path = "/"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrivals: collections.deque[float] = collections.deque()

    def claims(self, headers: Message) -> bool:
        return (headers.get("x-tc-action") or "").strip() == ACTION

    def reset(self) -> None:
        with self._lock:
            self._arrivals.clear()

    def max_body_bytes(self, core: SimulatorCore) -> int:
        return MAX_BODY_BYTES

    def too_large(self, core: SimulatorCore, received_at: float) -> Reply:
        answer = _Answer(core, _request_id(), english=False)
        return answer.verdict(Verdict(Outcome.BODY_TOO_LARGE), close=True)

    def _within_quota(self, now: float, quota: int | None) -> bool:
        if quota is None:
            return True
        with self._lock:
            while self._arrivals and self._arrivals[0] <= now - 1.0:
                self._arrivals.popleft()
            if len(self._arrivals) >= quota:
                return False
            self._arrivals.append(now)
            return True

    def handle(self, request: Request, core: SimulatorCore) -> Reply:
        headers = {name.lower(): value for name, value in request.headers.items()}
        english = headers.get("x-tc-language", "").lower().startswith("en")
        request_id = _request_id()
        answer = _Answer(core, request_id, english=english)
        refusal, timestamp = _check_headers_for(headers, ACTION)
        if refusal is not None:
            return answer.refusal(refusal)
        assert timestamp is not None
        auth_failure = tc3.verify(
            header=headers.get("authorization", ""),
            headers=headers,
            method=request.method,
            uri=request.path,
            body=request.body,
            timestamp=timestamp,
            now=request.received_at,
            service=SERVICE,
            credentials=tc3.Credentials(core.config.secret_id, core.config.secret_key),
        )
        if auth_failure is not None:
            return answer.verdict(Verdict(auth_failure))
        if not self._within_quota(request.received_at, core.config.precheck_qps):
            return answer.verdict(Verdict(Outcome.RATE_LIMITED))
        injected = core.admit()
        if injected is not None:
            return answer.verdict(injected)
        size = _image_size(request.body)
        if isinstance(size, str):
            return _error(request_id, "InvalidParameter", size)
        if size is None:
            return answer.verdict(Verdict(Outcome.UNDECODABLE_IMAGE))
        width, height = size
        if width == FAILING_WIDTH:
            return _error(request_id, "FailedOperation.UnKnown", "Internal error.")
        level = {MID_RISK_WIDTH: "Mid", HIGH_RISK_WIDTH: "High"}.get(width, "Low")
        attacks: list[dict[str, str]] = []
        if level != "Low":
            index = height - ATTACK_HEIGHT
            kind = ATTACK_TYPES[index] if 0 <= index < len(ATTACK_TYPES) else ATTACK_TYPES[0]
            attacks.append({"Type": kind})
        body = {
            "Response": {
                "AttackRiskLevel": level,
                "AttackRiskDetailList": attacks,
                "ExtraInfo": {},
                "RequestId": request_id,
            }
        }
        record = PendingRecord(
            session_id=request_id,
            code=level,
            outcome=f"risk_{level.lower()}",
            billable=True,
            injected=False,
        )
        if width == LOST_WIDTH:
            # The provider did the work (and bills it); the answer never reaches the client.
            return Reply(action=ReplyAction.DROP, record=record)
        if width == LATE_WIDTH:
            return Reply(body=_json(body), record=record, delay_ms=LATE_MS)
        return Reply(body=_json(body), record=record)


def _image_size(body: bytes) -> tuple[int, int] | str | None:
    """The decoded image's (width, height); a refusal text for a malformed body; None for an
    image that does not decode."""
    try:
        document: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "The body is not valid UTF-8 JSON."
    if not isinstance(document, dict) or set(document) - _KNOWN:
        return "The body must be an object of known parameters."
    face_input, input_type = document.get("FaceInput"), document.get("FaceInputType")
    if not isinstance(face_input, str) or input_type != 1:
        return "FaceInput must be a Base64 image with FaceInputType 1."
    try:
        data = base64.b64decode(face_input, validate=True)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return int(width), int(height)
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError):
        return None


def _error(request_id: str, code: str, message: str) -> Reply:
    body = {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}
    record = PendingRecord(
        session_id=request_id, code=code, outcome="error", billable=False, injected=False
    )
    return Reply(body=_json(body), record=record)


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
