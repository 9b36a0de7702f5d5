"""FaceID ``ImageRecognitionV2`` (Tencent Cloud API 3.0, version 2018-03-01), PROTOCOLS.md §3.

``POST /`` with ``X-TC-Action: ImageRecognitionV2``, ``X-TC-Version: 2018-03-01``,
``X-TC-Timestamp``, a TC3-HMAC-SHA256 ``Authorization`` and a JSON body ``IdCard``, ``Name``,
``ImageBase64`` (JPEG or PNG, at most 3 MB of Base64 text), optional ``Extra`` (at most 10
characters, echoed back), ``Encryption`` (:mod:`..encryption`) and ``Optional``.

Order of checks, first failure answers (codes in :mod:`..faceid_codes`):

1. Body over 10 MB by ``Content-Length``: ``RequestSizeLimitExceeded``, connection closed.
2. Headers: ``MissingParameter`` for a missing X-TC-Action, X-TC-Version or X-TC-Timestamp;
   ``InvalidAction``, ``NoSuchVersion``; ``InvalidParameter`` for a Content-Type other than
   ``application/json`` or a timestamp that is not a number.
3. Signature (:func:`..tc3.verify`): ``AuthFailure.InvalidAuthorization``, ``.InvalidSecretId``,
   ``.SecretIdNotFound``, ``.SignatureExpire`` (more than 5 minutes off), ``.SignatureFailure``.
4. Quota and injected faults: ``RequestLimitExceeded``, ``InternalError``,
   ``FailedOperation.CompareSystemError``, ``UnauthorizedOperation.Arrears``, HTML 502, drop,
   hang.
5. Body: ``InvalidParameter`` (not UTF-8 JSON, not an object, a field of the wrong type),
   ``UnknownParameter``, ``MissingParameter``, ``InvalidParameterValue`` (``Extra`` over 10
   characters, a malformed ``Encryption``), ``InvalidParameter.UnsupportEncryptField``;
   ``FailedOperation.DecryptSystemError``; ``FailedOperation.NameFormatError``;
   ``FailedOperation.ImageSizeTooLarge``; ``FailedOperation.ImageDecodeFailed`` (not Base64).
6. The shared core, as for the legacy protocol, with JPEG and PNG the only formats; a score
   under 70 answers ``FailedOperation.CompareLowSimilarity`` with its ``Sim``.

Every answer is HTTP 200 with ``Content-Type: application/json`` exactly (the SDK reads an
error body under no other type).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import encryption, faceid_codes, tc3
from ..core import Verdict, VerificationInput
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

__all__ = ["ACTION", "MAX_IMAGE_BASE64_CHARS", "SERVICE", "VERSION", "FaceIdImageRecognitionV2"]

ACTION = "ImageRecognitionV2"
VERSION = "2018-03-01"
SERVICE = "faceid"
#: "Base64 编码后的图片数据大小不超过 3M" (the SDK's model page).
MAX_IMAGE_BASE64_CHARS = 3 * 1024 * 1024
MAX_EXTRA_CHARS = 10
#: API 3.0 refuses larger POST bodies; room for a 3 MB image and the other fields.
MAX_BODY_BYTES = 10 * 1024 * 1024
IMAGE_FORMATS = frozenset({"JPEG", "PNG"})
#: Longest name accepted as well formed (longer minority names exist but stay far below).
MAX_NAME_CHARS = 64
MIDDLE_DOT = "\u00b7"

_REQUIRED = ("IdCard", "Name", "ImageBase64")
_OPTIONAL_STRINGS = ("Extra", "Optional")
_KNOWN = frozenset({*_REQUIRED, *_OPTIONAL_STRINGS, "Encryption"})
#: A parameter name safe to quote back in a message (a client's key may be anything).
_QUOTABLE = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,63}")


@dataclass(frozen=True)
class _Refusal:
    """A parameter error: its code and its English message (never quoting a value)."""

    code: str
    message: str


@dataclass(frozen=True)
class _Fields:
    idcard: str = field(repr=False)
    name: str = field(repr=False)
    image_base64: str = field(repr=False)


class FaceIdImageRecognitionV2(ProtocolHandler):
    name = "faceid"
    method = "POST"
    path = "/"

    def max_body_bytes(self, core: SimulatorCore) -> int:
        return MAX_BODY_BYTES

    def too_large(self, core: SimulatorCore, received_at: float) -> Reply:
        answer = _Answer(core, _request_id(), english=False)
        return answer.verdict(Verdict(Outcome.BODY_TOO_LARGE), close=True)

    def handle(self, request: Request, core: SimulatorCore) -> Reply:
        headers = {name.lower(): value for name, value in request.headers.items()}
        english = headers.get("x-tc-language", "").lower().startswith("en")
        answer = _Answer(core, _request_id(), english=english)
        header_refusal, timestamp = _check_headers(headers)
        if header_refusal is not None:
            return answer.refusal(header_refusal)
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
        injected = core.admit()
        if injected is not None:
            return answer.verdict(injected)
        parsed = _parse_body(request.body)
        if isinstance(parsed, _Refusal):
            return answer.refusal(parsed)
        answer.extra = parsed.get("Extra") or ""
        fields_or_failure = _decrypt(parsed, core)
        if isinstance(fields_or_failure, _Refusal):
            return answer.refusal(fields_or_failure)
        if isinstance(fields_or_failure, Verdict):
            return answer.verdict(fields_or_failure)
        fields = fields_or_failure
        if not _well_formed_name(fields.name):
            return answer.verdict(Verdict(Outcome.INVALID_NAME))
        if len(fields.image_base64) > MAX_IMAGE_BASE64_CHARS:
            return answer.verdict(Verdict(Outcome.IMAGE_TOO_LARGE))
        try:
            image = base64.b64decode(fields.image_base64, validate=True)
        except (binascii.Error, ValueError):
            return answer.verdict(Verdict(Outcome.UNDECODABLE_IMAGE))
        verdict = core.verify(
            VerificationInput(
                idcard_number=fields.idcard,
                idcard_name=fields.name,
                image=image,
                image_formats=IMAGE_FORMATS,
            )
        )
        return answer.verdict(verdict)


def _request_id() -> str:
    return str(uuid.uuid4())


def _check_headers(headers: dict[str, str]) -> tuple[_Refusal | None, int | None]:
    """The common parameters carried in headers, before the signature is looked at."""
    return _check_headers_for(headers, ACTION)


def _check_headers_for(headers: dict[str, str], action: str) -> tuple[_Refusal | None, int | None]:
    """:func:`_check_headers` for ``action`` (the pre-check's protocol shares them)."""
    for header in ("x-tc-action", "x-tc-version", "x-tc-timestamp"):
        if not headers.get(header, "").strip():
            name = "X-TC-" + header[5:].capitalize()
            return _Refusal("MissingParameter", f"The request is missing the {name} header."), None
    if headers["x-tc-action"].strip() != action:
        return _Refusal("InvalidAction", "The requested action does not exist."), None
    if headers["x-tc-version"].strip() != VERSION:
        return _Refusal("NoSuchVersion", f"The action exists in version {VERSION} only."), None
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return _Refusal("InvalidParameter", "The Content-Type must be application/json."), None
    raw = headers["x-tc-timestamp"].strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return _Refusal("InvalidParameter", "X-TC-Timestamp must be Unix seconds."), None
    return None, int(raw)


def _parse_body(body: bytes) -> dict[str, Any] | _Refusal:
    try:
        document: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # deep nesting: RecursionError
        return _Refusal("InvalidParameter", "The body is not valid UTF-8 JSON.")
    if not isinstance(document, dict):
        return _Refusal("InvalidParameter", "The body must be a JSON object.")
    for key in document:
        if key not in _KNOWN:
            quoted = f" `{key}`" if _QUOTABLE.fullmatch(key) else ""
            return _Refusal("UnknownParameter", f"The parameter{quoted} is not recognized.")
    present = {key: value for key, value in document.items() if value is not None}
    for key in _REQUIRED:
        if key not in present:
            return _Refusal("MissingParameter", f"The request is missing the parameter `{key}`.")
    for key in (*_REQUIRED, *_OPTIONAL_STRINGS):
        if key in present and not isinstance(present[key], str):
            return _Refusal("InvalidParameter", f"The parameter `{key}` must be a string.")
    if len(present.get("Extra", "")) > MAX_EXTRA_CHARS:
        return _Refusal(
            "InvalidParameterValue", f"Extra must be at most {MAX_EXTRA_CHARS} characters."
        )
    return present


def _decrypt(parsed: dict[str, Any], core: SimulatorCore) -> _Fields | _Refusal | Verdict:
    values = dict(parsed)
    if "Encryption" in parsed:
        try:
            spec = encryption.parse_spec(parsed["Encryption"])
        except encryption.UnsupportedEncryptField:
            return _Refusal(
                "InvalidParameter.UnsupportEncryptField", "EncryptList may name IdCard and Name."
            )
        except encryption.InvalidEncryption as exc:
            return _Refusal("InvalidParameterValue", f"Encryption: {exc}.")
        pem = core.config.faceid_private_key
        key = encryption.load_private_key(pem) if pem is not None else None
        try:
            values.update(encryption.decrypt_fields(key, spec, parsed))
        except encryption.DecryptionError:
            return Verdict(Outcome.DECRYPT_FAILED)
    return _Fields(
        idcard=values["IdCard"],
        name=values["Name"],
        image_base64=values["ImageBase64"],
    )


def _well_formed_name(name: str) -> bool:
    """Letters (with their combining marks) and single middle dots between them."""
    text = name.strip()
    if not text or len(text) > MAX_NAME_CHARS:
        return False
    if text.startswith(MIDDLE_DOT) or text.endswith(MIDDLE_DOT) or MIDDLE_DOT * 2 in text:
        return False
    return all(char == MIDDLE_DOT or unicodedata.category(char)[0] in ("L", "M") for char in text)


class _Answer:
    """Encodes verdicts and refusals for one request (its RequestId, language and Extra)."""

    def __init__(self, core: SimulatorCore, request_id: str, *, english: bool) -> None:
        self.request_id = request_id
        self.english = english
        self.extra = ""
        self.business_in_result = core.config.faceid_business_answer == "result"
        self.oversized_bytes = core.config.oversized_answer_bytes

    def refusal(self, refusal: _Refusal) -> Reply:
        record = self._record(refusal.code, Verdict(Outcome.BAD_REQUEST))
        return self._error(refusal.code, refusal.message, record)

    def verdict(self, verdict: Verdict, *, close: bool = False) -> Reply:
        if verdict.outcome in PADDED_OUTCOMES:
            # A Success answer (a match), padded: read whole, it would be a usable answer.
            match = self.verdict(Verdict(Outcome.COMPARED, similarity=MATCH_SIMILARITY))
            record = self._record(None, verdict)
            return padded_reply(match, verdict.outcome, self.oversized_bytes, record)
        code = faceid_codes.code_for(verdict.outcome, verdict.similarity)
        record = self._record(code, verdict)
        transport = transport_reply(verdict.outcome, record)
        if transport is not None:
            return transport
        assert code is not None
        text = faceid_codes.CATALOGUE[code]
        description = text.en if self.english else text.zh
        in_result = code == faceid_codes.SUCCESS or (
            self.business_in_result and faceid_codes.is_business_result(code)
        )
        if not in_result:
            return self._error(code, description, record, close=close)
        compared = verdict.outcome is Outcome.COMPARED
        body = {
            "Response": {
                "Sim": round(float(verdict.similarity), 2) if compared else 0.0,
                "Result": code,
                "Description": description,
                "Extra": self.extra,
                "RequestId": self.request_id,
            }
        }
        return Reply(body=_json(body), delay_ms=verdict.delay_ms, close=close, record=record)

    def _error(
        self, code: str, message: str, record: PendingRecord, *, close: bool = False
    ) -> Reply:
        body = {
            "Response": {"Error": {"Code": code, "Message": message}, "RequestId": self.request_id}
        }
        return Reply(body=_json(body), close=close, record=record)

    def _record(self, code: str | None, verdict: Verdict) -> PendingRecord:
        number = verdict.idcard_number
        return PendingRecord(
            session_id=self.request_id,
            code=code,
            outcome=verdict.outcome.value,
            billable=verdict.outcome.billable,
            injected=verdict.injected,
            idcard_masked=mask_idcard(number) if number else "",
        )


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
