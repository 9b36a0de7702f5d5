"""Legacy idcardcompare codes the simulator answers, and which outcome answers each.

The simulator's own table, from ``idcardcompare.md`` (错误码) and PROTOCOLS.md §2.4, independent
of the app's catalogue it is checked against. The API documents its messages only for success
(``OK``) and arrears (code 3 with ``account abnormal,errorno is:2``); the other messages are an
English rendering of the page's meanings. Billing is the outcome's (:mod:`.outcomes`).
"""

from __future__ import annotations

from types import MappingProxyType

from .outcomes import Outcome

__all__ = ["ARREARS_MESSAGE", "MESSAGES", "OUTCOME_CODES", "code_for", "message_for"]

#: Code 3's message when the account is suspended for arrears (idcardcompare.md, 错误码).
ARREARS_MESSAGE = "account abnormal,errorno is:2"

#: Outcome -> legacy code. Transport outcomes (502, drop, hang) have none.
OUTCOME_CODES: MappingProxyType[Outcome, int] = MappingProxyType(
    {
        Outcome.COMPARED: 0,
        Outcome.NAME_MISMATCH: -5803,
        Outcome.NOT_REGISTERED: -4009,
        Outcome.NO_FACE: -4015,
        # The legacy API has no finer codes for these (they exist for FaceID's codes).
        Outcome.ID_PHOTO_MISSING: -4009,
        Outcome.MULTIPLE_FACES: -1101,
        Outcome.SPOOFED: -1101,
        Outcome.POOR_QUALITY: -1101,
        Outcome.NOT_ACTIVATED: 24,
        # Never produced by this protocol; mapped so that every outcome has a code.
        Outcome.INVALID_NAME: 21,
        Outcome.IMAGE_TOO_LARGE: 23,
        Outcome.DECRYPT_FAILED: 21,
        Outcome.INVALID_SECRET_ID: 11,
        Outcome.MISSING_FIELDS: -5801,
        Outcome.INVALID_ID: -5804,
        Outcome.NO_IMAGE: -5805,
        Outcome.URL_FETCH_FAILED: -5805,
        Outcome.UNSUPPORTED_FORMAT: -1400,
        Outcome.UNDECODABLE_IMAGE: -4016,
        Outcome.BAD_REQUEST: 21,
        Outcome.BODY_TOO_LARGE: 23,
        Outcome.SIGNATURE_EMPTY: 4,
        Outcome.SIGNATURE_MALFORMED: 5,
        Outcome.SIGNATURE_TARGET_MISMATCH: 6,
        Outcome.SIGNATURE_EXPIRED: 9,
        Outcome.UNKNOWN_SECRET_ID: 11,
        Outcome.APPID_SECRET_ID_MISMATCH: 12,
        Outcome.SIGNATURE_MISMATCH: 14,
        Outcome.RATE_LIMITED: 15,
        Outcome.INTERNAL_ERROR: 213,
        Outcome.SERVICE_UNAVAILABLE: -5802,
        Outcome.ARREARS: 3,
    }
)

#: Code -> the ``message`` the simulator sends with it.
MESSAGES: MappingProxyType[int, str] = MappingProxyType(
    {
        0: "OK",
        3: "Bad request",
        4: "The signature is empty",
        5: "The signature string is malformed",
        6: "The appid/bucket in the signature does not match the request",
        9: "The signature has expired",
        11: "The SecretId does not exist",
        12: "The appid and SecretId do not match",
        14: "Signature verification failed",
        15: "Too many requests: rate limit reached",
        21: "Invalid parameter",
        23: "The request body is too large",
        24: "Not authorised: the service has not been applied for",
        213: "Internal error",
        -1101: "Face detection failed",
        -1400: "Unsupported image format",
        -4009: "Feature extraction from the ID card photo failed",
        -4015: "No face detected in the selfie",
        -4016: "The selfie could not be decoded",
        -5801: "The ID number or name is missing",
        -5802: "Internal server error: the service is temporarily unavailable",
        -5803: "The name does not match the ID number",
        -5804: "The ID number is invalid",
        -5805: "No image was given, or the url could not be downloaded",
    }
)


def code_for(outcome: Outcome) -> int | None:
    """The code that answers ``outcome``; None for transport outcomes (no JSON answer)."""
    return OUTCOME_CODES.get(outcome)


def message_for(outcome: Outcome) -> str:
    """The ``message`` of the answer to ``outcome`` (which must have a code)."""
    if outcome is Outcome.ARREARS:
        return ARREARS_MESSAGE
    return MESSAGES[OUTCOME_CODES[outcome]]
