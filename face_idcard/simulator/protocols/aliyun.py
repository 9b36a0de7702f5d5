"""Alibaba Cloud Cloudauth ``ContrastFaceVerify`` (API 2019-03-07, RPC style), spec
``aliyun-cloudauth.md``.

``POST /`` with ``x-acs-action: ContrastFaceVerify`` and ``x-acs-version: 2019-03-07`` (the
server gives a request with ``x-acs-*`` headers to this protocol, any other ``POST /`` to
FaceID), ``Model`` in the query string, the other fields as an
``application/x-www-form-urlencoded`` body, signed with ACS3-HMAC-SHA256. The signature is
checked here with the simulator's own code, written from the spec: the canonical headers are
rebuilt from the ``SignedHeaders`` the request lists (the official SDK signs every header it
sends: ``accept``, ``user-agent``...).

Order of checks, first failure answers:

1. Body over 8 MB by ``Content-Length``: Code 421, connection closed.
2. Gateway (HTTP 400/404, ``{"RequestId", "HostId", "Code", "Message", "Recommend"}``):
   ``InvalidApi.NotFound`` (another action or version); ``IncompleteSignature`` (no or a
   malformed ``Authorization``, a required header unsigned or absent);
   ``InvalidAccessKeyId.NotFound`` (not the account's AccessKey ID, the simulator's
   ``secret_id``); ``InvalidTimeStamp.Expired`` (``x-acs-date`` more than 15 minutes off);
   ``SignatureDoesNotMatch`` (``x-acs-content-sha256`` is not the body's hash, or the HMAC
   keyed with the account's ``secret_key`` differs); ``SignatureNonceUsed`` (a nonce seen in
   the last 15 minutes, checked after the signature so a forgery burns none).
3. Quota and injected faults: ``Throttling.User`` (HTTP 400), Code 500, Code 412 (arrears),
   Code 402 (not activated), HTML 502, drop, hang.
4. Body: ``Missing<Parameter>`` (gateway, HTTP 400) for an absent required field; Code 400 for
   an empty one or no image source; Code 404 for a ``SceneId`` other than the simulator's
   scene (its ``appid``, ``1000000001`` by default); Code 401 for an invalid ``ProductCode``,
   ``CertType``, ``Model``, ``OuterOrderNo`` (over 32 or not alphanumeric), ``EncryptType``
   (SM2 is not simulated), name or ID number; Code 420 for two image sources; Code 419 for a
   url or OSS image (never an authorised bucket here) or a photo that is not Base64 JPEG;
   Code 423 for a ``CertifyId``; Code 421 for a photo over 1 MB.
5. Code 405 for a person under 14 (by the birth date in the number, at the request's date).
6. Code 417 for an identity resubmitted after SubCode 201 or 202 (until the server's reset).
7. The shared core: SubCode 200 (``Passed`` T) for a score of 70 or more, 204 under it
   (also poor quality and several faces: the largest face is compared), 201 name mismatch,
   202 not registered, 203 no registry photo, 205 spoof (``faceAttack`` T); Code 419 for no
   face or an image that cannot be decoded.

Billing (the ledger): every Code 200 answer (SubCodes 200-206), nothing else. Business
answers come with HTTP 200; ``business_errors_as_http=True`` answers a Code 4xx with HTTP 400
and 500 with HTTP 500 instead (the spec leaves it UNVERIFIED).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import threading
import unicodedata
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from stdnum.cn import ric

from ..core import Verdict, VerificationInput, unescape_name
from ..magic import MATCH_SIMILARITY
from ..outcomes import Outcome
from ..registry import mask_idcard
from .base import (
    PADDED_OUTCOMES,
    PendingRecord,
    ProtocolHandler,
    Reply,
    Request,
    padded_reply,
    transport_reply,
)

if TYPE_CHECKING:
    from ..core import SimulatorCore

__all__ = ["ACTION", "PASS_SCORE", "VERSION", "CloudauthContrastFaceVerify"]

ACTION = "ContrastFaceVerify"
VERSION = "2019-03-07"
ALGORITHM = "ACS3-HMAC-SHA256"
HOST_ID = "cloudauth.aliyuncs.com"
#: ``Passed`` is T from this verifyScore up (the simulator's own bar).
PASS_SCORE = 70.0
QUALITY_SCORE = 88.36
POOR_QUALITY_SCORE = 21.5
#: The gateway refuses a timestamp more than 15 minutes off, and remembers nonces as long.
TIMESTAMP_WINDOW_SECONDS = 15 * 60
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_IMAGE_BYTES = 1024 * 1024
MAX_OUTER_ORDER_NO = 32
MAX_NAME_CHARS = 64
MINIMUM_AGE = 14
MODELS = frozenset({"FRONT_CAMERA_LIVENESS", "REAR_CAMERA_LIVENESS", "NO_LIVENESS"})
_REQUIRED = ("SceneId", "OuterOrderNo", "ProductCode", "CertType", "CertName", "CertNo")
_SIGNED_REQUIRED = frozenset(
    {
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    }
)
_IMAGE_SOURCES = ("FaceContrastPicture", "FaceContrastPictureUrl", "OssObjectName", "CertifyId")

#: Codes of the API, with their messages (the Code table of the spec).
_CODES = {
    "200": "success",
    "400": "参数不能为空",
    "401": "参数非法",
    "402": "应用配置不存在",
    "404": "认证场景配置不存在",
    "405": "认证对象未满14周岁，不允许使用该产品",
    "412": "欠费中",
    "417": "无法使用该身份信息进行比对",
    "419": "传入图片不可用",
    "420": "传入了多个图片来源",
    "421": "传入图片超过1MB",
    "423": "CertifyId对应的认证未通过",
    "500": "系统错误",
}
#: Gateway errors: HTTP status and message.
_GATEWAY = {
    "InvalidApi.NotFound": (404, "Specified api is not found, please check your url and method."),
    "IncompleteSignature": (400, "The request signature does not conform to Aliyun standards."),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "SignatureDoesNotMatch": (400, "Specified signature does not match our calculation."),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
}

#: Outcomes of the shared core and of the faults, as (Code, SubCode).
_OUTCOME_ANSWERS: dict[Outcome, tuple[str, str]] = {
    Outcome.NAME_MISMATCH: ("200", "201"),
    Outcome.NOT_REGISTERED: ("200", "202"),
    Outcome.ID_PHOTO_MISSING: ("200", "203"),
    Outcome.MULTIPLE_FACES: ("200", "204"),
    Outcome.POOR_QUALITY: ("200", "204"),
    Outcome.SPOOFED: ("200", "205"),
    Outcome.NO_FACE: ("419", ""),
    Outcome.URL_FETCH_FAILED: ("419", ""),
    Outcome.UNSUPPORTED_FORMAT: ("419", ""),
    Outcome.UNDECODABLE_IMAGE: ("419", ""),
    Outcome.NO_IMAGE: ("400", ""),
    Outcome.MISSING_FIELDS: ("400", ""),
    Outcome.BAD_REQUEST: ("400", ""),
    Outcome.INVALID_ID: ("401", ""),
    Outcome.INVALID_NAME: ("401", ""),
    Outcome.IMAGE_TOO_LARGE: ("421", ""),
    Outcome.BODY_TOO_LARGE: ("421", ""),
    Outcome.INTERNAL_ERROR: ("500", ""),
    Outcome.SERVICE_UNAVAILABLE: ("500", ""),
    Outcome.ARREARS: ("412", ""),
    Outcome.NOT_ACTIVATED: ("402", ""),
}
_GATEWAY_OUTCOMES: dict[Outcome, str] = {
    Outcome.RATE_LIMITED: "Throttling.User",
    Outcome.SIGNATURE_EMPTY: "IncompleteSignature",
    Outcome.SIGNATURE_MALFORMED: "IncompleteSignature",
    Outcome.UNKNOWN_SECRET_ID: "InvalidAccessKeyId.NotFound",
    Outcome.SIGNATURE_EXPIRED: "InvalidTimeStamp.Expired",
    Outcome.SIGNATURE_MISMATCH: "SignatureDoesNotMatch",
}


@dataclass(frozen=True)
class _Answer:
    """What to answer before the shared core: a gateway error or an API Code."""

    code: str
    outcome: Outcome = Outcome.BAD_REQUEST
    number: str = ""


def _percent_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_request(
    method: str, path: str, query: str, headers: Message, signed: list[str], payload_hash: str
) -> str:
    """The canonical request of the V3 signature, over the headers the request says it signed
    (the spec's section 6)."""
    params = sorted(
        (_percent_encode(name), _percent_encode(value))
        for name, value in parse_qsl(query, keep_blank_values=True)
    )
    canonical_query = "&".join(f"{name}={value}" for name, value in params)
    canonical_headers = "".join(f"{name}:{(headers.get(name) or '').strip()}\n" for name in signed)
    return "\n".join(
        (method, path or "/", canonical_query, canonical_headers, ";".join(signed), payload_hash)
    )


def expected_signature(secret: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return hmac.new(
        secret.encode("utf-8"), f"{ALGORITHM}\n{digest}".encode(), hashlib.sha256
    ).hexdigest()


class _Nonces:
    """Nonces seen within the timestamp window (a replay inside it is refused)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_use(self, nonce: str, now: float) -> bool:
        with self._lock:
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if now - seen_at <= TIMESTAMP_WINDOW_SECONDS:
                    break
                del self._seen[oldest]
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


class CloudauthContrastFaceVerify(ProtocolHandler):
    name = "aliyun"
    method = "POST"
    path = "/"

    def __init__(self, *, business_errors_as_http: bool = False) -> None:
        self.business_errors_as_http = business_errors_as_http
        self._nonces = _Nonces()
        self._lock = threading.Lock()
        #: Identities (hashed) answered SubCode 201 or 202: the next try answers Code 417.
        self._refused_identities: set[str] = set()

    def claims(self, headers: Message) -> bool:
        return any(headers.get(name) for name in ("x-acs-action", "x-acs-version"))

    def reset(self) -> None:
        self._nonces.clear()
        with self._lock:
            self._refused_identities.clear()

    def max_body_bytes(self, core: SimulatorCore) -> int:
        return MAX_BODY_BYTES

    def too_large(self, core: SimulatorCore, received_at: float) -> Reply:
        return self._api(_Answer("421", Outcome.BODY_TOO_LARGE), _request_id(), close=True)

    def handle(self, request: Request, core: SimulatorCore) -> Reply:
        request_id = _request_id()
        refusal = self._authenticate(request, core)
        if refusal is not None:
            return self._gateway(refusal, request_id)
        injected = core.admit()
        if injected is not None:
            return self._verdict(injected, request_id, core)
        parsed = self._parse(request, core)
        if isinstance(parsed, _Answer):
            if parsed.code in _CODES:
                return self._api(parsed, request_id)
            return self._gateway(parsed, request_id)
        number, name, image = parsed
        if _under_age(number, request.received_at):
            return self._api(_Answer("405", Outcome.BAD_REQUEST, number), request_id)
        identity = _identity(number, name)
        with self._lock:
            resubmitted = identity in self._refused_identities
        if resubmitted:
            return self._api(_Answer("417", Outcome.BAD_REQUEST, number), request_id)
        verdict = core.verify(
            VerificationInput(
                idcard_number=number,
                idcard_name=name,
                image=image,
                image_formats=frozenset({"JPEG"}),
            )
        )
        if verdict.outcome in (Outcome.NAME_MISMATCH, Outcome.NOT_REGISTERED):
            with self._lock:
                self._refused_identities.add(identity)
        return self._verdict(verdict, request_id, core)

    # --- Checks ------------------------------------------------------------------------

    def _authenticate(self, request: Request, core: SimulatorCore) -> _Answer | None:
        headers = request.headers
        if (headers.get("x-acs-action") or "").strip() != ACTION or (
            headers.get("x-acs-version") or ""
        ).strip() != VERSION:
            return _Answer("InvalidApi.NotFound")
        authorization = (headers.get("Authorization") or "").strip()
        algorithm, _, rest = authorization.partition(" ")
        fields: dict[str, str] = {}
        for part in rest.split(","):
            key, _, value = part.strip().partition("=")
            fields[key] = value
        signed = [name for name in fields.get("SignedHeaders", "").split(";") if name]
        if (
            algorithm != ALGORITHM
            or not fields.get("Credential")
            or not fields.get("Signature")
            or signed != sorted({name.lower() for name in signed})
            or not _SIGNED_REQUIRED <= set(signed)
            or any(headers.get(name) is None for name in signed)
        ):
            return _Answer("IncompleteSignature", Outcome.SIGNATURE_MALFORMED)
        if not hmac.compare_digest(fields["Credential"], core.config.secret_id):
            return _Answer("InvalidAccessKeyId.NotFound", Outcome.UNKNOWN_SECRET_ID)
        try:
            date = datetime.datetime.strptime(
                (headers.get("x-acs-date") or "").strip(), "%Y-%m-%dT%H:%M:%SZ"
            ).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return _Answer("IncompleteSignature", Outcome.SIGNATURE_MALFORMED)
        if abs(date.timestamp() - request.received_at) > TIMESTAMP_WINDOW_SECONDS:
            return _Answer("InvalidTimeStamp.Expired", Outcome.SIGNATURE_EXPIRED)
        payload_hash = hashlib.sha256(request.body).hexdigest()
        canonical = canonical_request(
            request.method, request.path, request.query, headers, signed, payload_hash
        )
        expected = expected_signature(core.config.secret_key, canonical)
        if not hmac.compare_digest(
            (headers.get("x-acs-content-sha256") or "").strip(), payload_hash
        ) or not hmac.compare_digest(fields["Signature"], expected):
            return _Answer("SignatureDoesNotMatch", Outcome.SIGNATURE_MISMATCH)
        nonce = (headers.get("x-acs-signature-nonce") or "").strip()
        if not self._nonces.first_use(nonce, request.received_at):
            return _Answer("SignatureNonceUsed", Outcome.SIGNATURE_MISMATCH)
        return None

    def _parse(self, request: Request, core: SimulatorCore) -> tuple[str, str, bytes] | _Answer:
        media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip()
        if media_type.lower() != "application/x-www-form-urlencoded":
            return _Answer("400")
        try:
            pairs = parse_qsl(
                request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False
            )
        except (UnicodeDecodeError, ValueError):
            return _Answer("401")
        form = dict(pairs)
        for key in _REQUIRED:
            if key not in form:
                return _Answer("Missing" + key)
        if any(not form[key].strip() for key in _REQUIRED):
            return _Answer("400", Outcome.MISSING_FIELDS)
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        number = form["CertNo"].strip().upper()
        model = query.get("Model", "")
        order_no = form["OuterOrderNo"]
        if (
            form["ProductCode"] != "ID_MIN"
            or form["CertType"] != "IDENTITY_CARD"
            or (model and model not in MODELS)
            or len(order_no) > MAX_OUTER_ORDER_NO
            or not (order_no.isascii() and order_no.isalnum())
            or form.get("EncryptType", "")
        ):
            return _Answer("401", number=number)
        if form["SceneId"].strip() != core.config.appid:
            return _Answer("404", number=number)
        name = unescape_name(form["CertName"]).strip()
        if not _well_formed_name(name):
            return _Answer("401", Outcome.INVALID_NAME, number)
        if not ric.is_valid(number):
            return _Answer("401", Outcome.INVALID_ID, number)
        sources = [key for key in _IMAGE_SOURCES if form.get(key)]
        if len(sources) > 1:
            return _Answer("420", number=number)
        if not sources:
            return _Answer("400", Outcome.NO_IMAGE, number)
        if sources[0] == "CertifyId":
            return _Answer("423", number=number)
        if sources[0] != "FaceContrastPicture":
            return _Answer("419", Outcome.URL_FETCH_FAILED, number)
        try:
            image = base64.b64decode(form["FaceContrastPicture"], validate=True)
        except (binascii.Error, ValueError):
            return _Answer("419", Outcome.UNDECODABLE_IMAGE, number)
        if len(image) > MAX_IMAGE_BYTES:
            return _Answer("421", Outcome.IMAGE_TOO_LARGE, number)
        return number, name, image

    # --- Answers -----------------------------------------------------------------------

    def _verdict(self, verdict: Verdict, request_id: str, core: SimulatorCore) -> Reply:
        outcome = verdict.outcome
        record = _record(request_id, None, verdict, billable=False)
        if outcome in PADDED_OUTCOMES:
            match = self._verdict(
                Verdict(Outcome.COMPARED, similarity=MATCH_SIMILARITY), request_id, core
            )
            return padded_reply(match, outcome, core.config.oversized_answer_bytes, record)
        transport = transport_reply(outcome, record)
        if transport is not None:
            return transport
        if outcome in _GATEWAY_OUTCOMES:
            return self._gateway(
                _Answer(_GATEWAY_OUTCOMES[outcome], outcome, verdict.idcard_number),
                request_id,
                injected=verdict.injected,
            )
        if outcome is Outcome.COMPARED:
            passed = verdict.similarity >= PASS_SCORE
            return self._result(
                verdict,
                request_id,
                "200" if passed else "204",
                verify_score=verdict.similarity,
            )
        code, sub_code = _OUTCOME_ANSWERS.get(outcome, ("500", ""))
        if code == "200":
            quality = POOR_QUALITY_SCORE if outcome is Outcome.POOR_QUALITY else QUALITY_SCORE
            return self._result(
                verdict,
                request_id,
                sub_code,
                verify_score=10.0 if sub_code == "204" else None,
                quality=quality,
                attack=outcome is Outcome.SPOOFED,
            )
        return self._api(
            _Answer(code, outcome, verdict.idcard_number), request_id, injected=verdict.injected
        )

    def _result(
        self,
        verdict: Verdict,
        request_id: str,
        sub_code: str,
        *,
        verify_score: float | None,
        quality: float = QUALITY_SCORE,
        attack: bool = False,
    ) -> Reply:
        material: dict[str, Any] = {"faceAttack": "T" if attack else "F"}
        if verify_score is not None:
            material["facialPictureFront"] = {
                "qualityScore": quality,
                "verifyScore": round(float(verify_score), 2),
            }
        body = {
            "RequestId": request_id,
            "Code": "200",
            "Message": "success",
            "ResultObject": {
                "Passed": "T" if sub_code == "200" else "F",
                "SubCode": sub_code,
                "CertifyId": uuid.uuid4().hex,
                "MaterialInfo": json.dumps(material, separators=(",", ":")),
            },
        }
        record = _record(request_id, f"200.{sub_code}", verdict, billable=not verdict.injected)
        return Reply(body=_json(body), delay_ms=verdict.delay_ms, record=record)

    def _api(
        self, answer: _Answer, request_id: str, *, injected: bool = False, close: bool = False
    ) -> Reply:
        body = {"RequestId": request_id, "Code": answer.code, "Message": _CODES[answer.code]}
        status = 200
        if self.business_errors_as_http:
            status = 500 if answer.code.startswith("5") else 400
        verdict = Verdict(answer.outcome, injected=injected, idcard_number=answer.number)
        record = _record(request_id, answer.code, verdict, billable=False)
        return Reply(status=status, body=_json(body), close=close, record=record)

    def _gateway(self, answer: _Answer, request_id: str, *, injected: bool = False) -> Reply:
        status, message = _GATEWAY.get(
            answer.code, (400, f"{answer.code[len('Missing') :]} is mandatory for this action.")
        )
        body = {
            "RequestId": request_id,
            "HostId": HOST_ID,
            "Code": answer.code,
            "Message": message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={answer.code}",
        }
        verdict = Verdict(answer.outcome, injected=injected, idcard_number=answer.number)
        record = _record(request_id, answer.code, verdict, billable=False)
        return Reply(status=status, body=_json(body), record=record)


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _identity(number: str, name: str) -> str:
    return hashlib.sha256(f"{number}\n{name}".encode()).hexdigest()


def _under_age(number: str, at: float) -> bool:
    try:
        # Annotated: python-stdnum before 2.0 has no type hints (its answer would be Any).
        born: datetime.date = ric.get_birth_date(number)
    except ValueError:
        return False
    today = datetime.datetime.fromtimestamp(at, datetime.timezone.utc).date()
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return years < MINIMUM_AGE


def _well_formed_name(name: str) -> bool:
    """Letters (with their marks) and single middle dots between them."""
    dot = "\u00b7"
    if not name or len(name) > MAX_NAME_CHARS or name[0] == dot or name[-1] == dot:
        return False
    if dot * 2 in name:
        return False
    return all(char == dot or unicodedata.category(char)[0] in ("L", "M") for char in name)


def _record(
    request_id: str, code: str | None, verdict: Verdict, *, billable: bool
) -> PendingRecord:
    number = verdict.idcard_number
    return PendingRecord(
        session_id=request_id,
        code=code,
        outcome=verdict.outcome.value,
        billable=billable,
        injected=verdict.injected,
        idcard_masked=mask_idcard(number) if number else "",
    )


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
