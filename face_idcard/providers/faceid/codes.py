"""FaceID codes: the data in ``codes.json``, and what the backend needs beside it.

``codes.json`` beside this module holds every code ImageRecognitionV2 can answer, with class,
neutral reason, billing, meanings and sources: the Chinese meanings are those of the official
SDK's ``tencentcloud/faceid/v20180301/errorcodes.py`` (tencentcloud-sdk-python-faceid 3.1.179;
it lists the codes of every FaceID action, and all of them are there, since Tencent does not say
which of them ImageRecognitionV2 can answer), plus the common API 3.0 codes of Tencent's
"公共错误码" table that the SDK file leaves out. The English meanings are ours.

Billing, :data:`BILLING_SOURCE` (from each entry's ``billing_source``):

* ``DOC_BILLED`` / ``DOC_FREE``: Tencent's "计费相关返回码" page for FaceID
  (https://cloud.tencent.com/document/product/1007/47911, section 人脸核验类) says so.
* ``OURS_FREE``: Tencent says nothing; the request was refused before any comparison
  (signature, account, parameters, quota, the service's own failures), counted as free.
* ``UNKNOWN``: Tencent says nothing and the call may have reached the registry: ``None``.

Free of Django.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...outcome import CodeInfo, load_catalogue

__all__ = [
    "BILLING_SOURCE",
    "FACEID_CODES",
    "LOW_SIMILARITY",
    "SUCCESS",
    "TENCENT_PASS_MARK",
]

SUCCESS = "Success"
LOW_SIMILARITY = "FailedOperation.CompareLowSimilarity"
#: Tencent's fixed bar for ``Result`` (the SDK's model: "采用固定阈值70 … 不支持调整阈值").
TENCENT_PASS_MARK = 70.0

DOC_BILLED = "tencent: billed"
DOC_FREE = "tencent: not billed"
OURS_FREE = "ours: refused before the comparison, not billed"
UNKNOWN = "unknown"

FACEID_CODES = load_catalogue(__name__.rpartition(".")[0])


def _billing_basis(info: CodeInfo) -> str:
    """What ``info``'s billing flag rests on, by the ``billing_source`` keys of codes.json."""
    if info.billing_source == "tencent-billing-page":
        return DOC_BILLED if info.billable else DOC_FREE
    if info.billing_source == "ours-refused":
        return OURS_FREE
    return UNKNOWN


#: Where each code's billing comes from (see the module docstring), for the README and audits.
BILLING_SOURCE: Mapping[str, str] = {
    code: _billing_basis(info) for code, info in FACEID_CODES.entries.items()
}
