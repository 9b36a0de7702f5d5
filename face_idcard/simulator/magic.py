"""Magic ID numbers: documented test numbers that produce one outcome every time.

Like Stripe's test card numbers. Every number below is a syntactically valid resident ID
number (18 characters, valid address code and birth date, correct check character), so it
passes every client-side validation; the simulator recognises it before looking at its
registry. Any name is accepted with a magic number, except with ``NAME_MISMATCH`` which
always answers -5803. The FaceID protocol answers the same numbers with its own codes (see
:mod:`.faceid_codes`); the last five exist for FaceID codes the legacy API has no match for.

==========================  ======================  ==========================================
Constant                    ID number               Legacy answer (``idcardcompare``)
==========================  ======================  ==========================================
``MATCH``                   ``110101190001010014``  code 0, similarity ``MATCH_SIMILARITY`` 95.0
``NO_MATCH``                ``110101190001010022``  code 0, similarity ``NO_MATCH_SIMILARITY`` 20.0
``REVIEW``                  ``110101190001010030``  code 0, similarity ``REVIEW_SIMILARITY`` 74.0
``NAME_MISMATCH``           ``110101190001010049``  code -5803, whatever the name
``NO_FACE``                 ``110101190001010057``  code -4015 (no face in the photo)
``RATE_LIMITED``            ``110101190001010065``  code 15 (rate limited)
``INTERNAL_ERROR``          ``110101190001010073``  code 213 (internal error)
``SERVICE_UNAVAILABLE``     ``110101190001010081``  code -5802 (service unavailable)
``ARREARS``                 ``11010119000101009X``  code 3, message ``account abnormal,errorno is:2``
``HANG``                    ``110101190001010102``  no answer until the server stops (or 60 s)
``BAD_GATEWAY``             ``110101190001010110``  HTTP 502 with an HTML body (not JSON)
``DROP``                    ``110101190001010129``  connection closed without any response
``ID_PHOTO_MISSING``        ``110101190001010137``  code -4009 (the registry has no photo)
``MULTIPLE_FACES``          ``110101190001010145``  code -1101 (several faces in the photo)
``SPOOFED``                 ``110101190001010153``  code -1101 (a photo of a photo, a mask)
``POOR_QUALITY``            ``110101190001010161``  code -1101 (resolution too low)
``NOT_ACTIVATED``           ``11010119000101017X``  code 24 (the service is not activated)
``flaky(n)``                ``110102…`` (computed)  code 213 ``n`` times, then a match (95.0)
``slow(ms)``                ``110105…`` (computed)  a match (95.0) after ``ms`` milliseconds
==========================  ======================  ==========================================

Order of checks: the outcomes of the service side (rate limited, internal error, service
unavailable, arrears, not activated, hang, 502, drop and the failures of a flaky number)
come right after the ID number is validated, before the image is looked at, so they need no
image. The person outcomes (match, no match, review, name mismatch, no face, no registered
photo, several faces, spoofed, poor quality, a flaky number's final success, slow) come after the image has been received and decoded, as on the real service:
a request without an image still gets -5805.

``flaky(n)`` counts failures per ID number (not per session_id, because a retrying client
may or may not keep its session_id), across all sessions, until :meth:`reset` of the server.
Use ``flaky(n, variant=k)`` for independent counters in one test. Numbers with address code
110102 and a birth date from 1900-01-01 to 1900-04-10 are flaky numbers; numbers with address
code 110105 and a birth date from 1900-01-01 to 1900-03-02 are slow numbers (up to 60 s).
Other numbers with these address codes are ordinary.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from stdnum.cn import ric

__all__ = [
    "ARREARS",
    "BAD_GATEWAY",
    "DROP",
    "HANG",
    "ID_PHOTO_MISSING",
    "INTERNAL_ERROR",
    "MATCH",
    "MATCH_SIMILARITY",
    "MULTIPLE_FACES",
    "NAME_MISMATCH",
    "NOT_ACTIVATED",
    "NO_FACE",
    "NO_MATCH",
    "NO_MATCH_SIMILARITY",
    "POOR_QUALITY",
    "RATE_LIMITED",
    "REVIEW",
    "REVIEW_SIMILARITY",
    "SERVICE_UNAVAILABLE",
    "SPOOFED",
    "Behaviour",
    "MagicNumber",
    "flaky",
    "lookup",
    "slow",
]

#: Similarity answered for ``MATCH`` (and a flaky or slow number's success).
MATCH_SIMILARITY = 95.0
#: Similarity answered for ``NO_MATCH``.
NO_MATCH_SIMILARITY = 20.0
#: Similarity answered for ``REVIEW``: just under Tencent's recommended threshold of 75.
REVIEW_SIMILARITY = 74.0

#: Longest delay ``slow()`` accepts, milliseconds.
MAX_SLOW_MS = 60_000
#: Largest failure count and variant ``flaky()`` accepts.
MAX_FLAKY_FAILURES = 999
MAX_FLAKY_VARIANT = 99

_FIXED_ADDRESS = "110101"  # 北京市东城区
_FLAKY_ADDRESS = "110102"  # 北京市西城区
_SLOW_ADDRESS = "110105"  # 北京市朝阳区
_EPOCH = datetime.date(1900, 1, 1)


class Behaviour(str, enum.Enum):
    MATCH = "match"
    NO_MATCH = "no_match"
    REVIEW = "review"
    NAME_MISMATCH = "name_mismatch"
    NO_FACE = "no_face"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    ARREARS = "arrears"
    HANG = "hang"
    BAD_GATEWAY = "bad_gateway"
    DROP = "drop"
    ID_PHOTO_MISSING = "id_photo_missing"
    MULTIPLE_FACES = "multiple_faces"
    SPOOFED = "spoofed"
    POOR_QUALITY = "poor_quality"
    NOT_ACTIVATED = "not_activated"
    FLAKY = "flaky"
    SLOW = "slow"

    @property
    def before_image(self) -> bool:
        """True for service-side outcomes that the simulator answers before reading the image."""
        return self not in _PERSON_BEHAVIOURS


_PERSON_BEHAVIOURS = frozenset(
    {
        Behaviour.MATCH,
        Behaviour.NO_MATCH,
        Behaviour.REVIEW,
        Behaviour.NAME_MISMATCH,
        Behaviour.NO_FACE,
        Behaviour.ID_PHOTO_MISSING,
        Behaviour.MULTIPLE_FACES,
        Behaviour.SPOOFED,
        Behaviour.POOR_QUALITY,
        Behaviour.SLOW,
    }
)


@dataclass(frozen=True)
class MagicNumber:
    behaviour: Behaviour
    #: Failures before success (``FLAKY``) or delay in milliseconds (``SLOW``); 0 otherwise.
    parameter: int = 0


def _complete(first17: str) -> str:
    """Append the check character (PROTOCOLS.md §4)."""
    # Annotated: python-stdnum before 2.0 has no type hints (its answer would be Any).
    check: str = ric.calc_check_digit(first17 + "0")
    return first17 + check


def _encode(address: str, value: int) -> str:
    """A number whose birth date and sequence carry ``value`` (days since 1900 * 1000 + seq)."""
    days, sequence = divmod(value, 1000)
    birth = _EPOCH + datetime.timedelta(days=days)
    return _complete(f"{address}{birth:%Y%m%d}{sequence:03d}")


def _decode(number: str) -> int | None:
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    days = (birth - _EPOCH).days
    if days < 0:
        return None
    return days * 1000 + int(number[14:17])


MATCH = _complete(f"{_FIXED_ADDRESS}19000101001")
NO_MATCH = _complete(f"{_FIXED_ADDRESS}19000101002")
REVIEW = _complete(f"{_FIXED_ADDRESS}19000101003")
NAME_MISMATCH = _complete(f"{_FIXED_ADDRESS}19000101004")
NO_FACE = _complete(f"{_FIXED_ADDRESS}19000101005")
RATE_LIMITED = _complete(f"{_FIXED_ADDRESS}19000101006")
INTERNAL_ERROR = _complete(f"{_FIXED_ADDRESS}19000101007")
SERVICE_UNAVAILABLE = _complete(f"{_FIXED_ADDRESS}19000101008")
ARREARS = _complete(f"{_FIXED_ADDRESS}19000101009")
HANG = _complete(f"{_FIXED_ADDRESS}19000101010")
BAD_GATEWAY = _complete(f"{_FIXED_ADDRESS}19000101011")
DROP = _complete(f"{_FIXED_ADDRESS}19000101012")
ID_PHOTO_MISSING = _complete(f"{_FIXED_ADDRESS}19000101013")
MULTIPLE_FACES = _complete(f"{_FIXED_ADDRESS}19000101014")
SPOOFED = _complete(f"{_FIXED_ADDRESS}19000101015")
POOR_QUALITY = _complete(f"{_FIXED_ADDRESS}19000101016")
NOT_ACTIVATED = _complete(f"{_FIXED_ADDRESS}19000101017")

_FIXED: dict[str, Behaviour] = {
    MATCH: Behaviour.MATCH,
    NO_MATCH: Behaviour.NO_MATCH,
    REVIEW: Behaviour.REVIEW,
    NAME_MISMATCH: Behaviour.NAME_MISMATCH,
    NO_FACE: Behaviour.NO_FACE,
    RATE_LIMITED: Behaviour.RATE_LIMITED,
    INTERNAL_ERROR: Behaviour.INTERNAL_ERROR,
    SERVICE_UNAVAILABLE: Behaviour.SERVICE_UNAVAILABLE,
    ARREARS: Behaviour.ARREARS,
    HANG: Behaviour.HANG,
    BAD_GATEWAY: Behaviour.BAD_GATEWAY,
    DROP: Behaviour.DROP,
    ID_PHOTO_MISSING: Behaviour.ID_PHOTO_MISSING,
    MULTIPLE_FACES: Behaviour.MULTIPLE_FACES,
    SPOOFED: Behaviour.SPOOFED,
    POOR_QUALITY: Behaviour.POOR_QUALITY,
    NOT_ACTIVATED: Behaviour.NOT_ACTIVATED,
}


def flaky(n: int, *, variant: int = 0) -> str:
    """An ID number that fails ``n`` times with code 213, then answers a match.

    Failures are counted per ID number until the server's ``reset()``; each ``variant``
    (0..99) is a separate number with its own counter.
    """
    if not 0 <= n <= MAX_FLAKY_FAILURES:
        raise ValueError(f"n must be between 0 and {MAX_FLAKY_FAILURES}")
    if not 0 <= variant <= MAX_FLAKY_VARIANT:
        raise ValueError(f"variant must be between 0 and {MAX_FLAKY_VARIANT}")
    return _encode(_FLAKY_ADDRESS, variant * 1000 + n)


def slow(ms: int) -> str:
    """An ID number that answers a match after ``ms`` milliseconds (at most 60 000)."""
    if not 0 <= ms <= MAX_SLOW_MS:
        raise ValueError(f"ms must be between 0 and {MAX_SLOW_MS}")
    return _encode(_SLOW_ADDRESS, ms)


def lookup(number: str) -> MagicNumber | None:
    """The magic behaviour of a (valid, upper-case) ID number, or None for an ordinary one."""
    behaviour = _FIXED.get(number)
    if behaviour is not None:
        return MagicNumber(behaviour)
    if len(number) != 18 or number[:6] not in (_FLAKY_ADDRESS, _SLOW_ADDRESS):
        return None
    value = _decode(number)
    if value is None:
        return None
    if number[:6] == _FLAKY_ADDRESS:
        variant, failures = divmod(value, 1000)
        if variant <= MAX_FLAKY_VARIANT:
            return MagicNumber(Behaviour.FLAKY, failures)
        return None
    if value <= MAX_SLOW_MS:
        return MagicNumber(Behaviour.SLOW, value)
    return None
