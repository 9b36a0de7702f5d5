"""The neutral result every backend turns its provider's answer into.

Generic code (the pipeline, the sweeper, exceptions, messages shown to people, the admin and
the API) reads only what is here: an :class:`ErrorClass` (what to do about it), a
:class:`Reason` from one taxonomy shared by all providers (what happened, in words a person
understands) and a billing flag. The provider's own code, message and request id travel
beside them, for staff and for audits, but nothing generic branches on them.

Each provider keeps its codes as data in a :class:`Catalogue`: a code the catalogue does not
know passes through as UNKNOWN (recorded as it came, never retried automatically), never an
error. Free of Django, so provider clients and the simulator can import it.
"""

from __future__ import annotations

import enum
import functools
import importlib.resources
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


class ErrorClass(str, enum.Enum):
    """What a caller should do about an outcome."""

    SUCCESS = "success"
    #: Retry with backoff and jitter, bounded (network faults, 5xx, rate limits, internal errors).
    TRANSIENT = "transient"
    #: The provider refused the call as stale or replayed (an expired signature or timestamp):
    #: sent again at once, signed afresh, once. Only a backend that signs each call can do
    #: that (``Backend.can_resign``); for any other ``Backend.verify`` makes it CONFIGURATION.
    RESIGN = "resign"
    #: The provider could not download the image from the url: at most one retry, then fail.
    #: Only in url mode (``Backend.accepts_url``); otherwise ``Backend.verify`` makes it INPUT.
    URL_FETCH = "url_fetch"
    #: Credentials, account or service configuration: no retry, alert operators, not the user's fault.
    CONFIGURATION = "configuration"
    #: The input or the person: final result for this attempt, no retry.
    INPUT = "input"
    #: A code the catalogue does not know: recorded as it came, never retried automatically.
    UNKNOWN = "unknown"

    @property
    def retryable(self) -> bool:
        return self in (ErrorClass.TRANSIENT, ErrorClass.RESIGN, ErrorClass.URL_FETCH)


class Reason(str, enum.Enum):
    """What happened, in one vocabulary for every provider (stored on each attempt)."""

    MATCH = "match"
    LOW_SIMILARITY = "low_similarity"
    NAME_MISMATCH = "name_mismatch"
    ID_NOT_FOUND = "id_not_found"
    NO_REGISTRY_PHOTO = "no_registry_photo"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    POOR_QUALITY = "poor_quality"
    SPOOF_SUSPECTED = "spoof_suspected"
    #: The liveness policy requires a passing verdict and there is none (the check failed,
    #: or nobody could check).
    LIVENESS_UNVERIFIED = "liveness_unverified"
    IMAGE_UNREADABLE = "image_unreadable"
    IMAGE_FETCH_FAILED = "image_fetch_failed"
    INVALID_INPUT = "invalid_input"
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    SIGNATURE_REJECTED = "signature_rejected"
    ACCOUNT_PROBLEM = "account_problem"
    CONFIGURATION = "configuration"
    INTERNAL = "internal"
    UNKNOWN = "unknown"

    @property
    def user_fixable(self) -> bool:
        """The person can get a different result by trying again with other input."""
        return self in _USER_FIXABLE


_USER_FIXABLE = frozenset(
    {
        Reason.LOW_SIMILARITY,
        Reason.NAME_MISMATCH,
        Reason.NO_FACE,
        Reason.MULTIPLE_FACES,
        Reason.POOR_QUALITY,
        Reason.IMAGE_UNREADABLE,
        Reason.IMAGE_FETCH_FAILED,
        Reason.INVALID_INPUT,
    }
)


@dataclass(frozen=True)
class CodeInfo:
    """One provider code as data: its class, its neutral reason, billing and meanings."""

    code: str
    error_class: ErrorClass
    reason: Reason
    #: Whether the provider charges for a call that ends so (None: it cannot be known).
    billable: bool | None
    zh_hans: str
    en: str
    #: Keys into the catalogue file's ``sources``: where the code and its meaning come from,
    #: and where its billing flag comes from (empty for entries made in code).
    source: str = ""
    billing_source: str = ""

    def message(self, language: str | None = None) -> str:
        """The meaning in ``language`` (``zh-hans`` or ``en``; English for anything else)."""
        if language and language.lower().replace("_", "-").startswith("zh"):
            return self.zh_hans
        return self.en


def normalise_code(code: int | str | None) -> str:
    """The catalogue key for a code as it came from a provider (int, str or missing)."""
    if code is None:
        return ""
    return str(code).strip()


class Catalogue:
    """A provider's codes, looked up by their string form; unknown codes pass through.

    ``fallback`` (usually :data:`GENERIC`) answers for codes this catalogue does not list, so
    every provider shares the transport and internal pseudo-codes.
    """

    def __init__(
        self,
        entries: Iterable[CodeInfo],
        *,
        fallback: Catalogue | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self._entries: Mapping[str, CodeInfo] = MappingProxyType(
            {entry.code: entry for entry in entries}
        )
        self._fallback = fallback
        #: What each entry's ``source`` and ``billing_source`` key stands for (a page, a section).
        self.sources: Mapping[str, str] = MappingProxyType(dict(sources or {}))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Catalogue:
        """The catalogue in the JSON file at ``path``, validated (see :func:`load_catalogue`)."""
        location = os.fspath(path)
        with open(location, encoding="utf-8") as stream:
            return _parse_catalogue(stream.read(), location)

    def __contains__(self, code: object) -> bool:
        key = normalise_code(code)  # type: ignore[arg-type]
        return key in self._entries or (self._fallback is not None and key in self._fallback)

    def __iter__(self) -> Any:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> Mapping[str, CodeInfo]:
        return self._entries

    def lookup(self, code: int | str | None) -> CodeInfo:
        key = normalise_code(code)
        info = self._entries.get(key)
        if info is not None:
            return info
        if self._fallback is not None and key in self._fallback:
            return self._fallback.lookup(key)
        return unknown_code(key)


def unknown_code(key: str) -> CodeInfo:
    return CodeInfo(
        key,
        ErrorClass.UNKNOWN,
        Reason.UNKNOWN,
        None,
        f"未知错误码 {key}",
        f"Unknown error code {key}",
    )


# Pseudo-codes for outcomes that have no provider code: the transport failed before a usable
# body arrived, or something went wrong on our side. They are stored in the same column so
# every attempt has a code to filter on.
TRANSPORT_TIMEOUT = "transport.timeout"
TRANSPORT_CONNECTION = "transport.connection"
TRANSPORT_BAD_RESPONSE = "transport.bad_response"
INTERNAL_ERROR = "internal.error"
INTERNAL_PII_UNREADABLE = "internal.pii_unreadable"
INTERNAL_WORKER_LOST = "internal.worker_lost"
INTERNAL_BACKEND_UNAVAILABLE = "internal.backend_unavailable"
#: The attempt's consent does not name the company its alias now sends the face to (the
#: site changed the alias's provider after the person consented): never sent.
INTERNAL_CONSENT_NOT_COVERING = "internal.consent_not_covering"

_T = ErrorClass.TRANSIENT

#: The codes every provider shares. The timeout's billing is unknown: the provider may have
#: finished, and charged, the call after we stopped waiting.
GENERIC = Catalogue(
    [
        CodeInfo(
            TRANSPORT_TIMEOUT,
            _T,
            Reason.PROVIDER_UNAVAILABLE,
            None,
            "请求超时",
            "The request timed out",
        ),
        CodeInfo(
            TRANSPORT_CONNECTION,
            _T,
            Reason.PROVIDER_UNAVAILABLE,
            False,
            "无法连接服务器",
            "Could not connect to the service",
        ),
        CodeInfo(
            TRANSPORT_BAD_RESPONSE,
            _T,
            Reason.PROVIDER_UNAVAILABLE,
            False,
            "服务器返回了无法解析的应答",
            "The service sent a response that is not valid JSON",
        ),
        CodeInfo(
            INTERNAL_ERROR,
            ErrorClass.UNKNOWN,
            Reason.INTERNAL,
            False,
            "内部错误",
            "Internal error",
        ),
        CodeInfo(
            INTERNAL_PII_UNREADABLE,
            ErrorClass.CONFIGURATION,
            Reason.CONFIGURATION,
            False,
            "个人信息无法解密",
            "The personal information could not be decrypted",
        ),
        CodeInfo(
            INTERNAL_WORKER_LOST,
            ErrorClass.UNKNOWN,
            Reason.INTERNAL,
            None,
            "处理该请求的进程中断",
            "The worker processing the attempt was lost",
        ),
        CodeInfo(
            INTERNAL_BACKEND_UNAVAILABLE,
            ErrorClass.CONFIGURATION,
            Reason.CONFIGURATION,
            False,
            "该认证服务的配置不可用",
            "The attempt's backend is not configured",
        ),
        CodeInfo(
            INTERNAL_CONSENT_NOT_COVERING,
            ErrorClass.CONFIGURATION,
            Reason.CONFIGURATION,
            False,
            "用户的同意未涵盖该认证服务的接收方，未发送",
            "The person's consent does not name this backend's recipient; nothing was sent",
        ),
    ]
)


class ProviderVerdict(str, enum.Enum):
    """A provider's own decision on a comparison, for a provider that decides itself (its
    answer is a verdict, or its advice is a manual review) rather than giving a score for our
    threshold. The values are those of the attempt's decision."""

    MATCH = "match"
    NO_MATCH = "no_match"
    REVIEW = "review"


class Liveness(str, enum.Enum):
    """Whether the photo came from a live person, in one vocabulary for every provider."""

    PASSED = "passed"
    #: The provider suspects an attack (a print, a screen replay, a mask, a synthetic face).
    SPOOF_SUSPECTED = "spoof_suspected"
    #: Nobody looked: the policy is off, or the provider cannot tell.
    NOT_CHECKED = "not_checked"
    #: A check was asked for and failed (an error, a timeout, no usable answer).
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class LivenessVerdict:
    """One liveness verdict and where it comes from (``source``: ``"<provider>.<API>"``)."""

    verdict: Liveness
    source: str = ""
    #: The provider's own risk level (such as ``Low``, ``Mid``, ``High``), as it came.
    risk_level: str = ""
    #: The provider's names of the attacks it suspects, as they came.
    attack_types: tuple[str, ...] = ()
    #: The provider rates the risk as high (its highest level): a pre-check so rated may
    #: spare the comparison under the ``require`` policy.
    high_risk: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict is Liveness.PASSED


NOT_CHECKED = LivenessVerdict(Liveness.NOT_CHECKED)


@dataclass(frozen=True)
class ProviderOutcome:
    """One call's result, in the neutral form: what to do, why, and whether it was billed.

    Backends build it from their catalogue (:meth:`from_code`); the pipeline reads nothing
    else. ``raw`` is the provider's parsed body; callers remove PII before storing it.
    """

    code: str
    error_class: ErrorClass
    reason: Reason
    billable: bool | None
    #: The catalogue's meaning of ``code`` (zh-hans and en).
    description: CodeInfo = field(repr=False)
    similarity: float | None = None
    #: The provider's id for the comparison and for the request, where it gives them.
    session_id: str = ""
    request_id: str = ""
    #: The provider's own message and result field, if any: staff screens only,
    #: never exception texts, and out of the repr (we do not control what providers echo).
    message: str = field(default="", repr=False)
    provider_result: str = ""
    raw: dict[str, Any] | None = field(default=None, repr=False, hash=False, compare=False)
    http_status: int | None = None
    #: Seconds of wall time for the exchange.
    elapsed: float | None = None
    #: The provider's own decision, when the backend lets the provider decide: the attempt
    #: is decided so instead of by the threshold (None: the threshold decides on similarity).
    #: With a verdict, a success needs no similarity (a review the provider advises).
    verdict: ProviderVerdict | None = None
    #: What the call said about liveness, where the provider checks it with the comparison
    #: (None: the call said nothing about it).
    liveness: LivenessVerdict | None = None

    @property
    def retryable(self) -> bool:
        return self.error_class.retryable

    @property
    def user_fixable(self) -> bool:
        return self.reason.user_fixable

    @property
    def answer_lost(self) -> bool:
        """The request went out (or may have) and no answer came (a read timeout, the
        connection closed while waiting), with nothing saying the call was free: the provider
        may have done, and billed, it. Counted as possibly billed in the statistics."""
        return self.billable is None and self.code in (TRANSPORT_TIMEOUT, TRANSPORT_CONNECTION)

    @property
    def usable(self) -> bool:
        """A comparison the threshold can be applied to, or the provider's own verdict."""
        return self.error_class is ErrorClass.SUCCESS and (
            self.similarity is not None or self.verdict is not None
        )

    @classmethod
    def from_code(
        cls,
        catalogue: Catalogue,
        code: int | str | None,
        *,
        error_class: ErrorClass | None = None,
        **fields: Any,
    ) -> ProviderOutcome:
        """The outcome for ``code`` as ``catalogue`` describes it (``error_class`` overrides
        the catalogue's where the provider's context changes it, e.g. url mode)."""
        info = catalogue.lookup(code)
        return cls(
            code=info.code,
            error_class=error_class or info.error_class,
            reason=info.reason,
            billable=info.billable,
            description=info,
            **fields,
        )


# --- Catalogue files --------------------------------------------------------------------------
#
# A provider's catalogue is a JSON file in its package (``providers/<name>/codes.json``):
#
#     {"sources": {"<key>": "<the page or section it stands for>", ...},
#      "codes": [{"code": "...", "class": "<ErrorClass value>", "reason": "<Reason value>",
#                 "billable": true | false | null, "zh-hans": "...", "en": "...",
#                 "source": "<key>", "billing_source": "<key>"}, ...]}
#
# Retrying and whether the person can fix it are not stored: they follow from the class and the
# reason (:attr:`ErrorClass.retryable`, :attr:`Reason.user_fixable`), one rule for every code.

_ENTRY_KEYS = frozenset(
    {"code", "class", "reason", "billable", "zh-hans", "en", "source", "billing_source"}
)


@functools.cache
def load_catalogue(package: str, name: str = "codes.json") -> Catalogue:
    """The catalogue in the data file ``name`` of ``package``, read once and validated.

    Read through :mod:`importlib.resources`, so it works from a wheel or a zip as well as from a
    checkout. Codes it does not list fall back to :data:`GENERIC`. A malformed file raises
    :class:`~face_idcard.exceptions.CatalogueError` naming the file and the entry.
    """
    resource = importlib.resources.files(package).joinpath(name)
    return _parse_catalogue(resource.read_text(encoding="utf-8"), f"{package}/{name}")


def _parse_catalogue(text: str, origin: str) -> Catalogue:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise _catalogue_error(origin, f"not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or set(document) != {"sources", "codes"}:
        raise _catalogue_error(origin, 'the file must be an object with "sources" and "codes"')
    sources, rows = document["sources"], document["codes"]
    if not isinstance(sources, dict) or not all(
        isinstance(key, str) and isinstance(description, str) and key and description
        for key, description in sources.items()
    ):
        raise _catalogue_error(origin, '"sources" must map keys to non-empty descriptions')
    if not isinstance(rows, list) or not rows:
        raise _catalogue_error(origin, '"codes" must be a non-empty list')
    entries: dict[str, CodeInfo] = {}
    for index, row in enumerate(rows):
        entry = _parse_entry(row, sources, f"{origin}, entry {index}")
        if entry.code in entries:
            raise _catalogue_error(origin, f"entry {index}: code {entry.code!r} is listed twice")
        if entry.code in GENERIC.entries:
            raise _catalogue_error(
                origin, f"entry {index}: code {entry.code!r} is one of the shared pseudo-codes"
            )
        entries[entry.code] = entry
    return Catalogue(entries.values(), fallback=GENERIC, sources=sources)


def _parse_entry(row: object, sources: Mapping[str, str], where: str) -> CodeInfo:
    if not isinstance(row, dict):
        raise _catalogue_error(where, "an entry must be an object")
    code = row.get("code")
    if isinstance(code, str) and code:
        where = f"{where} (code {code!r})"
    if set(row) != _ENTRY_KEYS:
        missing, extra = sorted(_ENTRY_KEYS - set(row)), sorted(set(row) - _ENTRY_KEYS)
        raise _catalogue_error(where, f"missing keys {missing}, unknown keys {extra}")
    if not isinstance(code, str) or not code or normalise_code(code) != code:
        raise _catalogue_error(where, '"code" must be a non-empty string without blanks around it')
    try:
        error_class = ErrorClass(row["class"])
    except ValueError:
        raise _catalogue_error(where, f'"class" {row["class"]!r} is not an ErrorClass') from None
    try:
        reason = Reason(row["reason"])
    except ValueError:
        raise _catalogue_error(where, f'"reason" {row["reason"]!r} is not a Reason') from None
    billable = row["billable"]
    if billable is not None and not isinstance(billable, bool):
        raise _catalogue_error(where, '"billable" must be true, false or null')
    for language in ("zh-hans", "en"):
        value = row[language]
        if not isinstance(value, str) or not value.strip():
            raise _catalogue_error(where, f'the "{language}" text is missing')
    for key in ("source", "billing_source"):
        if row[key] not in sources:
            raise _catalogue_error(where, f'"{key}" {row[key]!r} is not a key of "sources"')
    return CodeInfo(
        code,
        error_class,
        reason,
        billable,
        row["zh-hans"],
        row["en"],
        source=row["source"],
        billing_source=row["billing_source"],
    )


def _catalogue_error(where: str, problem: str) -> Exception:
    # Imported here: exceptions imports this module.
    from .exceptions import CatalogueError

    return CatalogueError(f"{where}: {problem}")
