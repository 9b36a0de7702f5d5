"""The legacy ``POST /face/idcardcompare`` protocol (idcardcompare.md, PROTOCOLS.md §2).

Order of checks, first failure answers:

1. Body over 6 MB by ``Content-Length``: 23, decided before reading the body; the connection
   is closed after the answer (the server discards what the client still sends).
2. Signature, from the ``Authorization`` header alone: 4 empty or missing; 5 not Base64, too
   short, not ``key=value`` pairs, or a required field (``a``, ``k``, ``e``, ``t``, ``r``)
   missing, empty or not a number where one is due; 11 unknown SecretId; 12 appid of the
   signature is not the account's; 14 HMAC mismatch (constant-time); 9 expired (``e`` < now).
3. Target: 6 if the body's ``appid`` (or ``bucket``, when both name one) differs from the
   signature's.
4. Quota and injected faults (:mod:`..faults`): 15, 213, -5802, 3, HTML 502, drop, hang.
5. Body: 21 if the content type is neither JSON nor multipart, the JSON is bad or not an
   object, the multipart is malformed, a text field is not UTF-8, or ``appid`` is missing.
6. The shared core (:meth:`..core.SimulatorCore.verify`): -5801 number or name missing;
   -5804 invalid number (``stdnum.cn.ric``); magic numbers; -5805 no image / url download
   failed; -1400 GIF (Tencent's "unsupported image format"); -4016 undecodable image;
   -4009 a valid number with no registered photo (our choice: the real service has no
   entry for it either); -5803 name mismatch; -4015 no face (blank image); 0 with the
   similarity.

Every JSON answer is HTTP 200 and exactly ``{"data": {"similarity": <float>, "session_id":
"<str>"}, "code": <int>, "message": "<str>"}``; the session_id is echoed, or generated when
the request had none.

The signature is checked by :mod:`..legacy_signature` and the codes and messages come from
:mod:`..legacy_codes`: the simulator's own, written from the spec, never the app's client
modules that it is there to check.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import legacy_signature
from ..core import Verdict, VerificationInput
from ..legacy_codes import code_for, message_for
from ..magic import MATCH_SIMILARITY
from ..multipart import MultipartError, parse_form_data
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

__all__ = ["LegacyIdCardCompare"]

_REQUIRED_SIGNATURE_FIELDS = ("a", "k", "e", "t", "r")
_NUMERIC_SIGNATURE_FIELDS = ("e", "t", "r")


class _BadRequest(Exception):
    pass


class LegacyIdCardCompare(ProtocolHandler):
    name = "legacy"
    method = "POST"
    path = "/face/idcardcompare"

    def too_large(self, core: SimulatorCore, received_at: float) -> Reply:
        return self._answer(Verdict(Outcome.BODY_TOO_LARGE), _new_session_id(), close=True)

    def handle(self, request: Request, core: SimulatorCore) -> Reply:
        parsed: _Form | None
        try:
            parsed = _parse_body(request)
        except _BadRequest:
            parsed = None
        form = parsed.fields if parsed is not None else None
        session_id = (form or {}).get("session_id") or _new_session_id()

        failure = self._authenticate(request, core, form)
        if failure is not None:
            return self._answer(Verdict(failure), session_id)
        injected = core.admit()
        if injected is not None:
            return self._answer(
                injected, session_id, oversized_bytes=core.config.oversized_answer_bytes
            )
        if parsed is None or form is None or not form.get("appid"):
            return self._answer(Verdict(Outcome.BAD_REQUEST), session_id)
        verdict = core.verify(
            VerificationInput(
                idcard_number=form.get("idcard_number", ""),
                idcard_name=form.get("idcard_name", ""),
                image=parsed.image,
                url=form.get("url") or None,
            )
        )
        return self._answer(verdict, session_id)

    def _authenticate(
        self, request: Request, core: SimulatorCore, form: dict[str, str] | None
    ) -> Outcome | None:
        header = (request.headers.get("Authorization") or "").strip()
        if not header:
            return Outcome.SIGNATURE_EMPTY
        try:
            parsed = legacy_signature.parse(header)
        except legacy_signature.MalformedSignature:
            return Outcome.SIGNATURE_MALFORMED
        fields = parsed.fields
        if any(not fields.get(name) for name in _REQUIRED_SIGNATURE_FIELDS):
            return Outcome.SIGNATURE_MALFORMED
        if any(parsed.number(name) is None for name in _NUMERIC_SIGNATURE_FIELDS):
            return Outcome.SIGNATURE_MALFORMED
        if len(fields["r"]) > 10:
            return Outcome.SIGNATURE_MALFORMED
        account = core.config
        if fields["k"] != account.secret_id:
            return Outcome.UNKNOWN_SECRET_ID
        if fields["a"] != account.appid:
            return Outcome.APPID_SECRET_ID_MISMATCH
        if not legacy_signature.verify(parsed, account.secret_key):
            return Outcome.SIGNATURE_MISMATCH
        expiry = parsed.number("e")
        assert expiry is not None
        if expiry < int(time.time()):
            return Outcome.SIGNATURE_EXPIRED
        signed_bucket = fields.get("b", "")
        if account.bucket and signed_bucket and signed_bucket != account.bucket:
            return Outcome.SIGNATURE_TARGET_MISMATCH
        if form is not None:
            body_appid = form.get("appid")
            if body_appid and body_appid != fields["a"]:
                return Outcome.SIGNATURE_TARGET_MISMATCH
            body_bucket = form.get("bucket")
            if body_bucket and signed_bucket and body_bucket != signed_bucket:
                return Outcome.SIGNATURE_TARGET_MISMATCH
        return None

    def _answer(
        self, verdict: Verdict, session_id: str, *, close: bool = False, oversized_bytes: int = 0
    ) -> Reply:
        outcome = verdict.outcome
        record = PendingRecord(
            session_id=session_id,
            code=code_for(outcome),
            outcome=outcome.value,
            billable=outcome.billable,
            injected=verdict.injected,
            idcard_masked=mask_idcard(verdict.idcard_number) if verdict.idcard_number else "",
        )
        if outcome in PADDED_OUTCOMES:
            # A code 0 answer (a match), padded: read whole, it would be a usable answer.
            match = self._answer(Verdict(Outcome.COMPARED, similarity=MATCH_SIMILARITY), session_id)
            return padded_reply(match, outcome, oversized_bytes, record)
        transport = transport_reply(outcome, record)
        if transport is not None:
            return transport
        body = {
            "data": {"similarity": float(verdict.similarity), "session_id": session_id},
            "code": code_for(outcome),
            "message": message_for(outcome),
        }
        return Reply(
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            delay_ms=verdict.delay_ms,
            close=close,
            record=record,
        )


def _new_session_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class _Form:
    fields: dict[str, str] = field(repr=False)
    image: bytes | None = field(default=None, repr=False)


def _parse_body(request: Request) -> _Form:
    """The text fields of a JSON or multipart body, and the multipart ``image`` part."""
    content_type = request.headers.get("Content-Type") or ""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        try:
            document: Any = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # deep nesting
            raise _BadRequest from exc
        if not isinstance(document, dict):
            raise _BadRequest
        # JSON mode carries a url, never image bytes (idcardcompare.md).
        return _Form(
            {
                key: value if isinstance(value, str) else json.dumps(value)
                for key, value in document.items()
                if value is not None and key != "image"
            }
        )
    if media_type == "multipart/form-data":
        try:
            parts = parse_form_data(request.body, content_type)
            text = {key: value.decode("utf-8") for key, value in parts.items() if key != "image"}
        except (MultipartError, UnicodeDecodeError) as exc:
            raise _BadRequest from exc
        return _Form(text, parts.get("image") or None)
    raise _BadRequest
