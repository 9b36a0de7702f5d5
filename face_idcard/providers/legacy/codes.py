"""The legacy idcardcompare API's codes: the data in ``codes.json``, the logic that reads it.

``codes.json`` beside this module holds every code with its class, neutral reason, billing,
meanings and sources. The classes follow ``shared/spec/PROTOCOLS.md`` §2.4. Tencent publishes no
classification for this API, nor which outcomes it bills; both are ours: a comparison, or a
refusal made after the identity lookup (name mismatch, no face in the selfie, no usable registry
photo), is counted as billed; errors before the lookup (signature, account, parameters) are
not. What stays here is logic: the url-mode reading of the download codes and the arrears
marker of code 3. Free of Django so the client can use it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...outcome import (
    GENERIC,
    TRANSPORT_BAD_RESPONSE,
    TRANSPORT_CONNECTION,
    TRANSPORT_TIMEOUT,
    CodeInfo,
    ErrorClass,
    load_catalogue,
    normalise_code,
)

__all__ = [
    "ARREARS_MESSAGE_MARKER",
    "CATALOGUE",
    "LEGACY_CODES",
    "TRANSPORT_BAD_RESPONSE",
    "TRANSPORT_CONNECTION",
    "TRANSPORT_TIMEOUT",
    "URL_MODE_FETCH_CODES",
    "CodeInfo",
    "ErrorClass",
    "classify",
    "is_account_in_arrears",
    "lookup",
    "normalise_code",
]

#: The message the legacy API returns with code 3 when the account is in arrears.
ARREARS_MESSAGE_MARKER = "errorno is:2"

#: Codes that mean "the url could not be fetched" when the request was in url mode.
URL_MODE_FETCH_CODES = frozenset({"-5805", "-1308", "-1403"})

LEGACY_CODES = load_catalogue(__name__.rpartition(".")[0])

#: Every code this API can answer with, plus the shared transport and internal pseudo-codes.
CATALOGUE: Mapping[str, CodeInfo] = {**GENERIC.entries, **LEGACY_CODES.entries}


def lookup(code: int | str | None) -> CodeInfo:
    """The catalogue entry for ``code``; an unknown code gets an UNKNOWN entry, never an error."""
    return LEGACY_CODES.lookup(code)


def classify(code: int | str | None, *, url_mode: bool = False) -> ErrorClass:
    """The class of ``code``. In url mode, download failures (-5805 …) are URL_FETCH."""
    key = normalise_code(code)
    if url_mode and key in URL_MODE_FETCH_CODES:
        return ErrorClass.URL_FETCH
    if not url_mode and key in URL_MODE_FETCH_CODES:
        # Without a url there was nothing to download: the image itself was missing or bad.
        return ErrorClass.INPUT
    return lookup(key).error_class


def is_account_in_arrears(code: int | str | None, message: str | None) -> bool:
    """Code 3 with ``errorno is:2`` is the legacy API's way of saying the account is suspended."""
    return normalise_code(code) == "3" and ARREARS_MESSAGE_MARKER in (message or "")
