"""Protocol-neutral outcomes of one simulated call, and the billing rule.

A protocol module maps each outcome to its own wire format (the legacy API's integer codes,
FaceID V2's ``FailedOperation.*`` strings …); the ledger records the outcome's name.

Billing rule: a call is billable when the service looked the person up, i.e. the request was
authenticated, admitted by the quota, well formed, carried a decodable image, and reached the
identity database: a comparison (legacy code 0; FaceID ``Success`` or
``CompareLowSimilarity``), a name that does not match the number (-5803, ``IdNameMisMatch``),
a number with no registered person (-4009, ``IdNoExistSystem``) or no registered photo
(``IdPhotoNoExist``), and a photo in which the face cannot be used: no face (-4015,
``LifePhotoDetectNoFaces``), several faces (``LifePhotoDetectFaces``), a fake
(``LifePhotoDetectFake``), poor quality (``LifePhotoPoorQuality``). Nothing else is billable:
signature and account errors, rate limiting, internal errors, malformed, undecryptable or
oversized input, missing or undecodable images, and every injected fault (an oversized or
gzip-bomb answer included: it looks like a match, but the call is recorded as the fault).
"""

from __future__ import annotations

import enum


class Outcome(str, enum.Enum):
    COMPARED = "compared"
    NAME_MISMATCH = "name_mismatch"
    NOT_REGISTERED = "not_registered"
    NO_FACE = "no_face"
    ID_PHOTO_MISSING = "id_photo_missing"
    MULTIPLE_FACES = "multiple_faces"
    SPOOFED = "spoofed"
    POOR_QUALITY = "poor_quality"
    MISSING_FIELDS = "missing_fields"
    INVALID_ID = "invalid_id"
    INVALID_NAME = "invalid_name"
    NO_IMAGE = "no_image"
    URL_FETCH_FAILED = "url_fetch_failed"
    UNSUPPORTED_FORMAT = "unsupported_format"
    UNDECODABLE_IMAGE = "undecodable_image"
    BAD_REQUEST = "bad_request"
    BODY_TOO_LARGE = "body_too_large"
    IMAGE_TOO_LARGE = "image_too_large"
    DECRYPT_FAILED = "decrypt_failed"
    SIGNATURE_EMPTY = "signature_empty"
    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_TARGET_MISMATCH = "signature_target_mismatch"
    SIGNATURE_EXPIRED = "signature_expired"
    UNKNOWN_SECRET_ID = "unknown_secret_id"  # noqa: S105 (a name, not a secret)
    INVALID_SECRET_ID = "invalid_secret_id"  # noqa: S105
    APPID_SECRET_ID_MISMATCH = "appid_secret_id_mismatch"  # noqa: S105
    SIGNATURE_MISMATCH = "signature_mismatch"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    ARREARS = "arrears"
    NOT_ACTIVATED = "not_activated"
    # Transport-level misbehaviour: no JSON answer at all.
    BAD_GATEWAY = "bad_gateway"
    DROP = "drop"
    HANG = "hang"
    #: A well-formed comparison answer padded past any sane size (a broken or hostile
    #: endpoint or proxy); written in pieces, never held whole by the simulator.
    OVERSIZED = "oversized"
    #: The same, gzip-encoded: a small body on the wire that inflates past any sane size.
    GZIP_BOMB = "gzip_bomb"

    @property
    def billable(self) -> bool:
        return self in _BILLABLE


_BILLABLE = frozenset(
    {
        Outcome.COMPARED,
        Outcome.NAME_MISMATCH,
        Outcome.NOT_REGISTERED,
        Outcome.ID_PHOTO_MISSING,
        Outcome.NO_FACE,
        Outcome.MULTIPLE_FACES,
        Outcome.SPOOFED,
        Outcome.POOR_QUALITY,
    }
)
