"""Cloudauth codes: the data in ``codes.json``, and the rules that read an answer with it.

A ``ContrastFaceVerify`` answer carries a ``Code`` (``200``: the call ran) and, with 200, a
``ResultObject.SubCode``. The catalogue keys a Code other than 200 by itself (``"417"``), a
SubCode as ``"200.<SubCode>"`` (``"200.204"``: Code 200 and SubCode 204 share digits) and a
gateway error by its name (``"SignatureDoesNotMatch"``). Billing: Alibaba Cloud bills the
SubCodes 200-206; every other answer is counted as not billed.

Where Alibaba Cloud advises a manual review (Code 405, a person under 14; Code 417 and
SubCodes 202/203, no registry source; SubCodes 205/206, a liveness risk or a policy), the
catalogue's class is success and :data:`REVIEW_CODES` makes the provider's verdict a review.
Free of Django.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ...outcome import ErrorClass, ProviderVerdict, load_catalogue, normalise_code

__all__ = [
    "ALIYUN_CODES",
    "MATCH",
    "MISSING_PARAMETER_PREFIX",
    "NO_MATCH",
    "PASSED_VERDICTS",
    "REVIEW_CODES",
    "SPOOF_SUSPECTED",
    "SUCCESS_CODE",
    "catalogue_key",
    "missing_parameter",
]

ALIYUN_CODES = load_catalogue(__name__.rpartition(".")[0])

#: The Code of a call that ran: its SubCode says how it ended.
SUCCESS_CODE = "200"
MATCH = "200.200"
NO_MATCH = "200.204"
#: SubCode 205: "liveness risk" (``faceAttack`` T), billed; Alibaba Cloud advises a review.
SPOOF_SUSPECTED = "200.205"
#: The gateway names a missing parameter ``Missing<Parameter>``; any such code is our defect.
MISSING_PARAMETER_PREFIX = "Missing"

#: Answers Alibaba Cloud says a person should review, whatever the threshold policy.
REVIEW_CODES = frozenset({"405", "417", "200.202", "200.203", "200.205", "200.206"})
#: How ``Passed`` decides a comparison (the default threshold policy).
PASSED_VERDICTS: Mapping[str, ProviderVerdict] = MappingProxyType(
    {MATCH: ProviderVerdict.MATCH, NO_MATCH: ProviderVerdict.NO_MATCH}
)


def catalogue_key(code: object, sub_code: object = None) -> str:
    """The catalogue key of an answer: its Code, or ``200.<SubCode>`` for a call that ran."""
    key = normalise_code(code if isinstance(code, int | str) else None)
    if key == SUCCESS_CODE:
        return f"{SUCCESS_CODE}.{normalise_code(sub_code if isinstance(sub_code, int | str) else None)}"
    return key


def missing_parameter(key: str) -> ErrorClass | None:
    """CONFIGURATION for a ``Missing<Parameter>`` gateway code the catalogue does not list."""
    if key.startswith(MISSING_PARAMETER_PREFIX) and key not in ALIYUN_CODES:
        return ErrorClass.CONFIGURATION
    return None
