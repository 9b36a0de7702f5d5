"""``run``: claim an attempt, call the backend outside any transaction, record the outcome.

Only the worker whose conditional UPDATE claimed the attempt calls the provider, so a
duplicate delivery or a second worker never pays twice for one attempt. The outcome is written
with another conditional UPDATE that also checks the claim token: a worker whose lease was taken
back by the sweeper cannot overwrite what the next worker recorded.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from .. import audit, crypto, errors, ratelimit
from ..backends import get_backend
from ..conf import face_idcard_settings
from ..errors import ErrorClass
from ..exceptions import ProviderError
from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..signals import attempt_decided, attempt_finished
from ..states import (
    CLAIMABLE,
    ConcurrentTransition,
    Decision,
    Status,
    transition,
    transition_with_events,
)
from .claim import claim
from .common import load_selfie, send_after_commit

logger = logging.getLogger("face_idcard.pipeline")

#: Pseudo-codes for outcomes that happen on our side, not the provider's.
CODE_INTERNAL = "internal.error"
CODE_PII_UNREADABLE = "internal.pii_unreadable"
CODE_WORKER_LOST = "internal.worker_lost"

#: Re-sign (9, 13) and url-fetch outcomes are retried at most this many times.
RESIGN_RETRIES = 1
URL_FETCH_RETRIES = 1

# Keys of a provider response (or our request) that may carry personal information.
_PII_KEYS = frozenset({"idcard_number", "idcard_name", "url", "image", "IdCard", "Name"})
_REMOVED = "[removed]"


@dataclass(frozen=True)
class RunOutcome:
    """What the caller (the Celery task) should do next."""

    action: Literal["done", "retry", "defer"]
    #: Seconds to wait before running again (retry and defer).
    countdown: float = 0.0
    #: The attempt's status after this run ("" when the attempt does not exist).
    status: str = ""

    @property
    def again(self) -> bool:
        return self.action != "done"


def decide(similarity: float, threshold: float, review_band: float) -> Decision:
    """match at or above the threshold, else no match; close calls go to a human."""
    if review_band > 0 and abs(similarity - threshold) < review_band:
        return Decision.REVIEW
    return Decision.MATCH if similarity >= threshold else Decision.NO_MATCH


def backoff(retry_number: int) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**n)) seconds."""
    base = float(face_idcard_settings.RETRY_BACKOFF_BASE)
    cap = float(face_idcard_settings.RETRY_BACKOFF_MAX)
    ceiling = min(cap, base * (2 ** min(retry_number, 32)))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security


def scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with PII keys dropped and any string containing one of ``secrets`` removed."""
    if isinstance(value, dict):
        return {key: scrub(item, secrets) for key, item in value.items() if key not in _PII_KEYS}
    if isinstance(value, list):
        return [scrub(item, secrets) for item in value]
    if isinstance(value, str) and any(secret and secret in value for secret in secrets):
        return _REMOVED
    return value


#: Refusals that come after the provider looked the person up, so were probably charged.
_LOOKUP_CODES = frozenset({"-5803", "-4009", "-4010", "-4015", "-4017", "-4018"})


def billable_guess(code: str, error_class: ErrorClass) -> bool | None:
    """Whether the provider probably charged for this call (None: cannot tell).

    Tencent does not document it; our guess: a comparison, or a refusal made after the
    identity lookup (name mismatch, no face), is charged; errors before it are not.
    """
    if error_class is ErrorClass.SUCCESS or code in _LOOKUP_CODES:
        return True
    if code == errors.TRANSPORT_TIMEOUT:
        # The provider may have finished (and charged) the call after we stopped waiting.
        return None
    return False


@dataclass
class _CallResult:
    code: str
    error_class: ErrorClass
    similarity: float | None = None
    session_id: str = ""
    http_status: int | None = None
    latency_ms: float | None = None
    raw: dict[str, Any] | None = None


def _load(attempt_id: UUID) -> VerificationAttempt | None:
    try:
        attempt: VerificationAttempt = VerificationAttempt.objects.get(pk=attempt_id)
    except VerificationAttempt.DoesNotExist:
        return None
    return attempt


def _as_uuid(value: UUID | str) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


def _call(attempt: VerificationAttempt, number: str, name: str) -> _CallResult:
    """One provider call, never raising: transport failures become pseudo-codes."""
    backend = get_backend(attempt.backend)
    url = crypto.decrypt_text(attempt.url_encrypted) or None
    image = load_selfie(attempt.selfie_name) if url is None and attempt.selfie_name else None
    started = time.monotonic()
    try:
        result = backend.compare(
            idcard_number=number,
            idcard_name=name,
            image=image,
            url=url,
            session_id=attempt.pk.hex,
            image_content_type=attempt.selfie_content_type or "image/jpeg",
            image_filename="image" + _extension(attempt.selfie_content_type),
        )
    except ProviderError as exc:
        elapsed = exc.elapsed if exc.elapsed is not None else time.monotonic() - started
        return _CallResult(exc.code, exc.error_class, latency_ms=elapsed * 1000)
    error_class = result.error_class
    code = result.code
    if error_class is ErrorClass.SUCCESS and result.similarity is None:
        # Code 0 without a score is not a usable answer: treat it like a garbled response.
        code, error_class = errors.TRANSPORT_BAD_RESPONSE, ErrorClass.TRANSIENT
    return _CallResult(
        code=code,
        error_class=error_class,
        similarity=result.similarity,
        session_id=result.session_id or "",
        http_status=result.http_status,
        latency_ms=result.elapsed * 1000,
        raw=scrub(result.raw, (number, name)),
    )


def _extension(content_type: str) -> str:
    return {"image/png": ".png", "image/bmp": ".bmp"}.get(content_type, ".jpg")


def _threshold(attempt: VerificationAttempt) -> float:
    configured = face_idcard_settings.THRESHOLD
    if configured is not None:
        return float(configured)
    return float(get_backend(attempt.backend).default_threshold)


def run(attempt_id: UUID | str) -> RunOutcome:
    """Process one attempt once. Safe to call any number of times, concurrently."""
    pk = _as_uuid(attempt_id)
    if pk is None:
        logger.warning("run: %r is not an attempt id", type(attempt_id).__name__)
        return RunOutcome("done")
    # The quota first: a deferred run costs no database work at all.
    permit = ratelimit.acquire()
    if not permit.allowed:
        logger.debug("attempt %s: rate limited, deferred %.2fs", pk, permit.retry_after)
        return RunOutcome("defer", permit.retry_after)
    now = timezone.now()
    attempt = claim(pk, now)
    if attempt is None:
        return _not_claimed(pk, now)
    token = attempt.claim_token
    assert token is not None
    calls_before = attempt.provider_calls - 1

    try:
        number = crypto.decrypt_text(attempt.idcard_number_encrypted)
        name = crypto.decrypt_text(attempt.idcard_name_encrypted)
    except Exception as exc:
        logger.error(
            "attempt %s: personal information unreadable (%s)", attempt.pk, type(exc).__name__
        )
        return _record_local_failure(attempt, token, calls_before, CODE_PII_UNREADABLE)
    if not number or not name:
        return _record_local_failure(attempt, token, calls_before, CODE_PII_UNREADABLE)

    try:
        call = _call(attempt, number, name)
    except Exception as exc:
        # A bug or a storage failure on our side: recorded, never retried automatically.
        logger.error("attempt %s: unexpected %s during the call", attempt.pk, type(exc).__name__)
        call = _CallResult(CODE_INTERNAL, ErrorClass.UNKNOWN)
    return _record(attempt, token, call)


def _not_claimed(pk: UUID, now: datetime) -> RunOutcome:
    """Why the claim failed, and what the caller should do about it."""
    attempt = _load(pk)
    if attempt is None:
        logger.warning("attempt %s: not found, nothing to do", pk)
        return RunOutcome("done")
    if attempt.status in CLAIMABLE and attempt.next_attempt_at and attempt.next_attempt_at > now:
        # An early message (a duplicate, or the sweeper): come back when the backoff is over.
        return RunOutcome("defer", (attempt.next_attempt_at - now).total_seconds(), attempt.status)
    logger.info("attempt %s: %s, not claimed", pk, attempt.status)
    return RunOutcome("done", status=attempt.status)


def _record_local_failure(
    attempt: VerificationAttempt, token: UUID, calls_before: int, code: str
) -> RunOutcome:
    """Fail without a provider call (the claim counted one; take it back)."""
    now = timezone.now()
    with transaction.atomic():
        transition(
            attempt,
            Status.FAILED,
            expected_claim_token=token,
            provider_calls=calls_before,
            error_code=code,
            error_class=ErrorClass.CONFIGURATION.value,
            error_message=errors.lookup(code).en,
            finished_at=now,
            lease_expires_at=None,
            claim_token=None,
        )
        audit.record(attempt, EventKind.FINISHED, status=attempt.status, code=code)
        send_after_commit(attempt_finished, attempt)
    return RunOutcome("done", status=attempt.status)


def _next_step(
    attempt: VerificationAttempt, call: _CallResult
) -> tuple[Status, float, dict[str, Any]]:
    """The status to move to, the retry countdown and the counters to write."""
    error_class = call.error_class
    max_retries = int(face_idcard_settings.MAX_RETRIES)
    if error_class is ErrorClass.SUCCESS:
        return Status.COMPLETED, 0.0, {}
    if error_class is ErrorClass.INPUT:
        return Status.REJECTED, 0.0, {}
    if error_class is ErrorClass.TRANSIENT and attempt.retry_count < max_retries:
        return (
            Status.RETRY_WAIT,
            backoff(attempt.retry_count),
            {"retry_count": attempt.retry_count + 1},
        )
    if error_class is ErrorClass.RESIGN and attempt.resign_count < RESIGN_RETRIES:
        # A new signature is made for every call: try again straight away.
        return Status.RETRY_WAIT, 0.0, {"resign_count": attempt.resign_count + 1}
    if error_class is ErrorClass.URL_FETCH and attempt.url_fetch_count < URL_FETCH_RETRIES:
        return Status.RETRY_WAIT, backoff(0), {"url_fetch_count": attempt.url_fetch_count + 1}
    # Configuration/account, unknown, or retries used up.
    return Status.FAILED, 0.0, {}


def _record(attempt: VerificationAttempt, token: UUID, call: _CallResult) -> RunOutcome:
    now = timezone.now()
    target, countdown, counters = _next_step(attempt, call)
    fields: dict[str, Any] = {
        "error_code": call.code,
        "error_class": call.error_class.value,
        "error_message": ""
        if call.error_class is ErrorClass.SUCCESS
        else errors.lookup(call.code).en,
        "provider_latency_ms": call.latency_ms,
        "lease_expires_at": None,
        "claim_token": None,
        **counters,
    }
    if call.session_id:
        fields["provider_session_id"] = call.session_id[:128]
    if call.raw is not None:
        fields["raw_response"] = call.raw
    events: list[AttemptEvent] = []
    call_event = audit.event(
        attempt,
        EventKind.PROVIDER_CALL,
        call=attempt.provider_calls,
        code=call.code,
        error_class=call.error_class.value,
        latency_ms=round(call.latency_ms, 1) if call.latency_ms is not None else None,
        http_status=call.http_status,
        billable=billable_guess(call.code, call.error_class),
    )
    if target is Status.COMPLETED:
        assert call.similarity is not None
        threshold = _threshold(attempt)
        decision = decide(call.similarity, threshold, float(face_idcard_settings.REVIEW_BAND))
        fields.update(
            similarity=call.similarity,
            threshold=threshold,
            decision=decision.value,
            finished_at=now,
        )
        events.append(
            audit.event(
                attempt,
                EventKind.DECIDED,
                decision=decision.value,
                similarity=call.similarity,
                threshold=threshold,
            )
        )
    elif target is Status.RETRY_WAIT:
        fields["next_attempt_at"] = now + timedelta(seconds=countdown)
        events.append(
            audit.event(
                attempt,
                EventKind.RETRY_SCHEDULED,
                countdown=round(countdown, 3),
                error_class=call.error_class.value,
                retry=attempt.retry_count + attempt.resign_count + attempt.url_fetch_count + 1,
            )
        )
    else:
        fields["finished_at"] = now
        events.append(audit.event(attempt, EventKind.FINISHED, status=target.value, code=call.code))

    try:
        transition_with_events(
            attempt, target, [call_event, *events], expected_claim_token=token, **fields
        )
    except ConcurrentTransition:
        # The sweeper took the attempt back while we were calling (our lease expired). Keep
        # the record of the call we made; the outcome belongs to whoever holds the claim now.
        call_event.data["stale_claim"] = True
        audit.record_many([call_event])
        logger.warning("attempt %s: lease lost during the call; result discarded", attempt.pk)
        return RunOutcome("done", status=attempt.status)

    if target is Status.COMPLETED:
        send_after_commit(attempt_decided, attempt)
    if target is not Status.RETRY_WAIT:
        send_after_commit(attempt_finished, attempt)
    if call.error_class is ErrorClass.CONFIGURATION:
        # Credentials, account (arrears, quota) or service setup: not the user's fault, and
        # every further attempt will fail the same way until an operator acts.
        logger.error(
            "attempt %s: provider refused the account or configuration, code=%s (%s)",
            attempt.pk,
            call.code,
            errors.lookup(call.code).en,
        )
    logger.info(
        "attempt %s: %s code=%s class=%s latency_ms=%s",
        attempt.pk,
        target.value,
        call.code,
        call.error_class.value,
        f"{call.latency_ms:.1f}" if call.latency_ms is not None else "-",
    )
    if target is Status.RETRY_WAIT:
        return RunOutcome("retry", countdown, target.value)
    return RunOutcome("done", status=target.value)
