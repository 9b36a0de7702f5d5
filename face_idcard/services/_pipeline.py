"""``run``: claim an attempt, call the backend outside any transaction, record the outcome.

Only the worker whose conditional UPDATE claimed the attempt calls the provider, so a
duplicate delivery or a second worker never pays twice for one attempt. The outcome is written
with another conditional UPDATE that also checks the claim token: a worker whose lease was taken
back by the sweeper cannot overwrite what the next worker recorded (:mod:`._leases` decides what
becomes of its late result).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from django.db import DatabaseError, transaction
from django.db.models import Case, Field, Q, Value, When
from django.utils import timezone

from .. import _audit as audit
from .. import _consent as consent
from .. import _ratelimit as ratelimit
from .. import crypto
from ..backends import Backend, VerificationRequest, usable_backend
from ..exceptions import BackendUnavailable, ConcurrentTransition
from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..outcome import (
    GENERIC,
    INTERNAL_BACKEND_UNAVAILABLE,
    INTERNAL_CONSENT_NOT_COVERING,
    INTERNAL_ERROR,
    INTERNAL_PII_UNREADABLE,
    TRANSPORT_CONNECTION,
    ErrorClass,
    Liveness,
    LivenessVerdict,
    ProviderOutcome,
    Reason,
)
from ..sensitive import Sensitive, SensitiveBytes, forget_locals_on_error
from ..signals import attempt_decided, attempt_finished
from ..states import (
    CLAIMABLE,
    Decision,
    Status,
    transition,
    transition_with_events,
)
from . import _audit_sample as audit_sample
from . import _breaker as breaker
from . import _leases as leases
from . import _liveness as liveness
from . import _retries as retries
from . import _slots as slots
from . import dispatch
from ._claim import claim
from ._common import load_selfie, send_after_commit
from ._retention import erase_selfie_once_final
from ._retries import backoff

logger = logging.getLogger("face_idcard.pipeline")

__all__ = ["RunOutcome", "backoff", "decide", "run"]


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


def _decision(
    outcome: ProviderOutcome, threshold: float, review_band: float
) -> tuple[Decision, Reason]:
    """The decision on a completed comparison and its reason: the provider's own verdict
    where the backend lets the provider decide, else the threshold on the similarity. A match
    or a no-match reads the same whoever decided; a review the provider advises keeps the
    outcome's reason (what kept it from deciding)."""
    if outcome.verdict is not None:
        decision = Decision(outcome.verdict.value)
        if decision is Decision.REVIEW:
            return decision, outcome.reason
        return decision, Reason.MATCH if decision is Decision.MATCH else Reason.LOW_SIMILARITY
    assert outcome.similarity is not None
    decision = decide(outcome.similarity, threshold, review_band)
    return decision, Reason.MATCH if outcome.similarity >= threshold else Reason.LOW_SIMILARITY


def _local(code: str, **fields: Any) -> ProviderOutcome:
    """An outcome of our own making (no provider answer), from the shared pseudo-codes."""
    return ProviderOutcome.from_code(GENERIC, code, **fields)


def _as_uuid(value: UUID | str) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


def _backend_or_none(alias: str) -> Backend | None:
    try:
        return usable_backend(alias)
    except BackendUnavailable:
        # Logged by usable_backend; recorded on the attempt as a configuration failure.
        return None


def _request(
    attempt: VerificationAttempt, number: Sensitive[str], name: Sensitive[str]
) -> VerificationRequest:
    """The provider request, with the selfie read and decrypted (storage may be slow).

    The values are revealed only into the request (whose repr is masked): the backend's
    ``verify`` is the provider boundary."""
    url = Sensitive(
        crypto.decrypt_text(attempt.url_encrypted, attempt_id=attempt.pk, field=crypto.URL) or None
    )
    image = SensitiveBytes(
        load_selfie(attempt.selfie_name, attempt.selfie_storage, attempt.pk)
        if not url and attempt.selfie_name
        else b""
    )
    request = VerificationRequest(
        idcard_number=number.reveal(),
        idcard_name=name.reveal(),
        image=image.reveal() or None,
        image_content_type=attempt.selfie_content_type or "image/jpeg",
        url=url.reveal(),
        correlation_id=attempt.pk.hex,
    )
    del image, url
    return request


def _call(backend: Backend, request: VerificationRequest) -> ProviderOutcome:
    """One provider call, never raising: ``Backend.verify`` turns transport failures into
    outcomes of the backend's catalogue and scrubs the answer."""
    return backend.verify(request)


def _holds_slot(attempt: VerificationAttempt) -> bool:
    """Whether the attempt's reserved rate-limit slot is open now."""
    start, end = attempt.next_attempt_at, attempt.slot_ends_at
    if start is None or end is None:
        return False
    return ratelimit.holds(start.timestamp(), end.timestamp())


@forget_locals_on_error
def run(attempt_id: UUID | str) -> RunOutcome:
    """Process one attempt once. Safe to call any number of times, concurrently.

    permit → claim → decrypt → call → record, with the permit last: the quota is checked
    right before the provider call, after the selfie is loaded, so a slow storage read cannot
    push a request past its slot. A cheap look at the current slot before the selfie is read
    saves that read when the attempt will wait anyway. Before any of that, the alias's
    circuit breaker (:mod:`._breaker`) may hold the attempt off a provider that is down. The
    backend is the one the attempt's row names.
    """
    pk = _as_uuid(attempt_id)
    if pk is None:
        logger.warning("run: %r is not an attempt id", type(attempt_id).__name__)
        return RunOutcome("done")
    now = timezone.now()
    attempt = claim(pk, now)
    if attempt is None:
        early = _not_claimed(pk, now)
        if early.action != "defer" or early.countdown > slots.WAIT_IN_PROCESS_SECONDS:
            return early
        # Its reserved slot opens within the wait (a message sent at once for a near slot, or
        # a duplicate): wait for it here rather than through the broker.
        time.sleep(early.countdown)
        now = timezone.now()
        attempt = claim(pk, now)
        if attempt is None:
            return _not_claimed(pk, now)
    token = attempt.claim_token
    assert token is not None
    dispatch.claimed(token)  # given back at once if an outage stops this run
    service = _backend_or_none(attempt.backend)
    calls_before = attempt.provider_calls - 1
    if service is not None and not consent.covers(
        attempt.consent_recipients, attempt.consent_over_internet, service
    ):
        # The alias now sends to a company the person was not told of (its provider changed
        # after they consented): never sent, nothing decrypted, nothing billed.
        logger.warning(
            "attempt %s: its consent does not name the recipient of backend %r; not sent",
            attempt.pk,
            attempt.backend,
        )
        return _record_local_failure(attempt, token, calls_before, INTERNAL_CONSENT_NOT_COVERING)

    try:
        number = Sensitive.id_number(
            crypto.decrypt_text(
                attempt.idcard_number_encrypted, attempt_id=attempt.pk, field=crypto.NUMBER
            )
        )
        name = Sensitive.name(
            crypto.decrypt_text(
                attempt.idcard_name_encrypted, attempt_id=attempt.pk, field=crypto.NAME
            )
        )
    except Exception as exc:
        logger.error(
            "attempt %s: personal information unreadable (%s)", attempt.pk, type(exc).__name__
        )
        return _record_local_failure(attempt, token, calls_before, INTERNAL_PII_UNREADABLE)
    if not number or not name:
        return _record_local_failure(attempt, token, calls_before, INTERNAL_PII_UNREADABLE)
    if service is None:
        return _record_local_failure(attempt, token, calls_before, INTERNAL_BACKEND_UNAVAILABLE)

    # Before the rate limit: an attempt held off a provider that is down takes no permit.
    gate = breaker.admit(service.alias, now)
    if not gate.allowed:
        return _wait_for_provider(attempt, token, calls_before, gate)
    try:
        return _call_when_permitted(attempt, token, calls_before, service, gate, number, name)
    except BaseException:
        # A probe that raised before its call (a worker stopping, a cache or database error)
        # must not hold the breaker until its lease ends; the original error is what counts.
        with contextlib.suppress(DatabaseError):
            breaker.release(gate)
        raise


def _call_when_permitted(
    attempt: VerificationAttempt,
    token: UUID,
    calls_before: int,
    service: Backend,
    gate: breaker.Gate,
    number: Sensitive[str],
    name: Sensitive[str],
) -> RunOutcome:
    """The rate limit's permit, the request, the call and its record (``gate`` let it
    through the breaker)."""
    limit = service.rate_limit_per_second
    # A pending liveness pre-check is paced by its own quota: a reserved slot is its slot.
    precheck = liveness.wants_precheck(attempt, service)
    # The quota this run's first call counts against.
    first_limit, first_scope = (
        (service.precheck_rate_limit_per_second, service.precheck_scope())
        if precheck
        else (limit, service.alias)
    )
    # A slot reserved for one quota is no permit under the other.
    reserved = (
        first_limit is not None and attempt.slot_for_liveness == precheck and _holds_slot(attempt)
    )
    if (
        first_limit is not None
        and not reserved
        and not ratelimit.available(limit=first_limit, scope=first_scope)
    ):
        deferred = _wait_for_slot(
            attempt, token, calls_before, first_limit, first_scope, precheck=precheck
        )
        if deferred is not None:
            breaker.release(gate)
            return deferred
        reserved = True
    try:
        request = _request(attempt, number, name)
    except Exception as exc:
        # A storage failure on our side: recorded, never retried automatically.
        logger.error("attempt %s: unexpected %s loading the selfie", attempt.pk, type(exc).__name__)
        breaker.release(gate)
        return _record(attempt, token, service, _local(INTERNAL_ERROR))
    if precheck:
        if (
            first_limit is not None
            and not reserved
            and not ratelimit.acquire(limit=first_limit, scope=first_scope).allowed
        ):
            deferred = _wait_for_slot(
                attempt, token, calls_before, first_limit, first_scope, precheck=True
            )
            if deferred is not None:
                breaker.release(gate)
                return deferred
        checked = _precheck(attempt, service, request)
        if liveness.skips_comparison(service, checked.verdict):
            breaker.release(gate)
            return _decide_without_comparison(attempt, token, service, checked)
        # The reservation, if any, was the pre-check's: the comparison takes its own permit.
        reserved = False
    else:
        checked = None
    if (
        limit is not None
        and not reserved
        and not ratelimit.acquire(limit=limit, scope=service.alias).allowed
    ):
        deferred = _wait_for_slot(
            attempt, token, calls_before, limit, service.alias, checked=checked
        )
        if deferred is not None:
            breaker.release(gate)
            return deferred
    dispatch.calling()
    try:
        outcome = _call(service, request)
    except Exception as exc:
        # A bug on our side: recorded, never retried automatically.
        logger.error("attempt %s: unexpected %s during the call", attempt.pk, type(exc).__name__)
        outcome = _local(INTERNAL_ERROR)
    breaker.record(gate, outcome, timezone.now())
    return _record(attempt, token, service, outcome, checked)


def _precheck(
    attempt: VerificationAttempt, service: Backend, request: VerificationRequest
) -> liveness.Precheck:
    """The liveness pre-check's call, made; written with whatever this run records next (the
    comparison's outcome, a deferral, a decision without comparison), in its transaction."""
    dispatch.calling()
    try:
        outcome = service.precheck(request)
    except Exception as exc:
        # A bug on our side: no verdict, the comparison goes on.
        logger.error("attempt %s: unexpected %s in the pre-check", attempt.pk, type(exc).__name__)
        outcome = _local(INTERNAL_ERROR, liveness=LivenessVerdict(Liveness.UNAVAILABLE))
    return liveness.Precheck.of(attempt, service, outcome)


def _decide_without_comparison(
    attempt: VerificationAttempt, token: UUID, service: Backend, checked: liveness.Precheck
) -> RunOutcome:
    """Decide on the pre-check alone: no comparison made (the claim counted one; take it
    back), the attempt completed as the policy says."""
    now = timezone.now()
    verdict = checked.verdict
    decision, reason = liveness.failure_decision(service, verdict)
    events = [
        checked.event,
        audit.event(
            attempt,
            EventKind.DECIDED,
            decision=decision.value,
            similarity=None,
            threshold=service.threshold,
            backend=service.alias,
            liveness=verdict.verdict.value,
            comparison="skipped",
        ),
    ]
    try:
        transition_with_events(
            attempt,
            Status.COMPLETED,
            events,
            expected_claim_token=token,
            **checked.fields,
            provider_calls=attempt.provider_calls - 1,
            error_code="",
            error_class=ErrorClass.SUCCESS.value,
            error_message="",
            reason=reason.value,
            threshold=service.threshold,
            decision=decision.value,
            finished_at=now,
            lease_expires_at=None,
            claim_token=None,
            slot_ends_at=None,
        )
    except ConcurrentTransition:
        return RunOutcome("done", status=attempt.status)
    send_after_commit(attempt_decided, attempt)
    send_after_commit(attempt_finished, attempt)
    logger.info("attempt %s: decided on the liveness pre-check, no comparison", attempt.pk)
    return RunOutcome("done", status=attempt.status)


def _wait_for_provider(
    attempt: VerificationAttempt, token: UUID, calls_before: int, gate: breaker.Gate
) -> RunOutcome:
    """Hold the attempt off a provider the breaker says is down: give the claim (and the
    call it counted) back and come back when the breaker lets a probe through; failed
    once the attempt's retry window is over."""
    now = timezone.now()
    if not retries.within_window(attempt, now):
        code = attempt.error_code or TRANSPORT_CONNECTION
        with transaction.atomic():
            transition(
                attempt,
                Status.FAILED,
                expected_claim_token=token,
                provider_calls=calls_before,
                error_code=code,
                error_class=ErrorClass.TRANSIENT.value,
                error_message=GENERIC.lookup(TRANSPORT_CONNECTION).en
                if code == TRANSPORT_CONNECTION
                else attempt.error_message,
                reason=Reason.PROVIDER_UNAVAILABLE.value,
                finished_at=now,
                lease_expires_at=None,
                claim_token=None,
            )
            audit.record(
                attempt, EventKind.FINISHED, status=attempt.status, code=code, reason="retry_window"
            )
            send_after_commit(attempt_finished, attempt)
        return RunOutcome("done", status=attempt.status)
    assert gate.wait_until is not None
    # Spread over one interval: the backlog does not come back all at one instant.
    until = max(gate.wait_until, now) + timedelta(seconds=breaker.jitter())
    first_wait = attempt.reason != Reason.PROVIDER_UNAVAILABLE.value
    events = (
        [audit.event(attempt, EventKind.WAITING_FOR_PROVIDER, until=until.isoformat())]
        if first_wait
        else []
    )
    transition_with_events(
        attempt,
        Status.RETRY_WAIT,
        events,
        expected_claim_token=token,
        provider_calls=calls_before,
        reason=Reason.PROVIDER_UNAVAILABLE.value,
        next_attempt_at=until,
        lease_expires_at=None,
        claim_token=None,
        slot_ends_at=None,
        **retries.window_fields(attempt, now),
    )
    logger.info("attempt %s: waiting for the provider until %s", attempt.pk, until.isoformat())
    return RunOutcome("retry", (until - now).total_seconds(), attempt.status)


def _wait_for_slot(
    attempt: VerificationAttempt,
    token: UUID,
    calls_before: int,
    limit: int,
    scope: str,
    *,
    precheck: bool = False,
    checked: liveness.Precheck | None = None,
) -> RunOutcome | None:
    """Take the attempt's turn under ``scope``'s quota (``limit`` per second). A slot
    reserved within :data:`._slots.WAIT_IN_PROCESS_SECONDS` is waited for here, holding the
    claim: None, the caller may call now, in its slot. A place in line further ahead is a
    deferral (``checked``: a pre-check made in this run, recorded with it)."""
    deadline = time.monotonic() + slots.WAIT_IN_PROCESS_SECONDS
    while True:
        slot = slots.reserve(limit, scope)
        if not slot.reserved or time.monotonic() + slot.wait > deadline:
            return _defer(attempt, token, calls_before, slot, precheck=precheck, checked=checked)
        time.sleep(slot.wait)
        # A busy machine can oversleep a short slot: then its place is lost (the quota is
        # under-used, never exceeded) and the next one is reserved, while the wait allows.
        if slot.is_open():
            return None


def _defer(
    attempt: VerificationAttempt,
    token: UUID,
    calls_before: int,
    slot: slots.Slot,
    *,
    precheck: bool = False,
    checked: liveness.Precheck | None = None,
) -> RunOutcome:
    """Record the attempt's turn (``slot``) on the attempt, give the claim back, and come
    back once, when the turn comes (``checked``: a pre-check made in this run, recorded with
    the deferral).

    A turn further ahead than the broker can safely hold a message is parked: no message
    goes out, and the sweeper publishes one when the turn comes within reach.
    """
    transition_with_events(
        attempt,
        Status.QUEUED,
        [checked.event] if checked is not None else [],
        expected_claim_token=token,
        provider_calls=calls_before,
        lease_expires_at=None,
        claim_token=None,
        slot_for_liveness=precheck,
        **(checked.fields if checked is not None else {}),
        **slot.fields,
    )
    if slot.countdown is None:
        logger.debug("attempt %s: rate limited, parked until its slot", attempt.pk)
        return RunOutcome("done", status=attempt.status)
    logger.debug("attempt %s: rate limited, slot in %.3fs", attempt.pk, slot.countdown)
    return RunOutcome("defer", slot.countdown, attempt.status)


def _not_claimed(pk: UUID, now: datetime) -> RunOutcome:
    """Why the claim failed, and what the caller should do about it."""
    attempt = VerificationAttempt.objects.filter(pk=pk).first()
    if attempt is None:
        logger.warning("attempt %s: not found, nothing to do", pk)
        return RunOutcome("done")
    if attempt.status in CLAIMABLE and attempt.next_attempt_at and attempt.next_attempt_at > now:
        if attempt.parked:
            # Its slot is beyond what the broker may hold: the sweeper publishes it when due.
            return RunOutcome("done", status=attempt.status)
        # An early message (a duplicate, or the sweeper): come back when the wait is over.
        return RunOutcome("defer", (attempt.next_attempt_at - now).total_seconds(), attempt.status)
    logger.info("attempt %s: %s, not claimed", pk, attempt.status)
    return RunOutcome("done", status=attempt.status)


def _record_local_failure(
    attempt: VerificationAttempt, token: UUID, calls_before: int, code: str
) -> RunOutcome:
    """Fail without a provider call (the claim counted one; take it back)."""
    outcome = _local(code)
    now = timezone.now()
    with transaction.atomic():
        transition(
            attempt,
            Status.FAILED,
            expected_claim_token=token,
            provider_calls=calls_before,
            error_code=code,
            error_class=outcome.error_class.value,
            error_message=outcome.description.en,
            reason=outcome.reason.value,
            finished_at=now,
            lease_expires_at=None,
            claim_token=None,
        )
        audit.record(attempt, EventKind.FINISHED, status=attempt.status, code=code)
        send_after_commit(attempt_finished, attempt)
    return RunOutcome("done", status=attempt.status)


def _next_step(
    attempt: VerificationAttempt, outcome: ProviderOutcome
) -> tuple[Status, float, dict[str, Any]]:
    """The status to move to, the retry countdown and the counters to write."""
    error_class = outcome.error_class
    if error_class is ErrorClass.SUCCESS:
        return Status.COMPLETED, 0.0, {}
    if error_class is ErrorClass.INPUT:
        return Status.REJECTED, 0.0, {}
    if error_class.retryable and retries.may_retry(attempt, error_class):
        return (
            Status.RETRY_WAIT,
            retries.countdown(attempt, error_class),
            retries.next_counters(attempt, error_class, timezone.now()),
        )
    # Configuration/account, unknown, or retries used up.
    return Status.FAILED, 0.0, {}


#: The record's condition on the hot path: the attempt was not redacted during the call (a
#: withdrawal while it was in flight), so the provider's identifiers go in as plain values.
_NOT_REDACTED = Q(redacted_at__isnull=True)


def _unless_withdrawn(answered: dict[str, Any]) -> dict[str, Any]:
    """The provider's identifiers of the call and its answer, written only where the attempt
    was not redacted during the call (a withdrawal while it was in flight): the late result
    is stored without what leads back to the person. One CASE per value: the record's
    second try only (:func:`_write_record`), after the hot path's UPDATE found the row
    redacted or the claim lost; on the hot path they doubled the UPDATE's CPU."""
    guarded: dict[str, Any] = {}
    for name, value in answered.items():
        field = VerificationAttempt._meta.get_field(name)
        assert isinstance(field, Field)
        erased = None if name == "raw_response" else ""
        guarded[name] = Case(
            When(redacted_at__isnull=True, then=Value(value, output_field=field)),
            default=Value(erased, output_field=field),
            output_field=field,
        )
    return guarded


def _write_record(
    attempt: VerificationAttempt,
    token: UUID,
    target: Status,
    outcome: ProviderOutcome,
    events: list[AttemptEvent],
    fields: dict[str, Any],
    answered: dict[str, Any],
) -> bool:
    """Write the run's record: ``fields``, the provider's identifiers (``answered``) unless
    the attempt was redacted during the call, and ``events``. False when the claim was lost
    and the result not kept (:func:`._leases.record_late` audited it).

    The hot path is one conditional UPDATE with the identifiers as plain values, on the
    condition that the row is not redacted. Where it matches nothing (a withdrawal while the
    call was in flight, or a lease taken back: both rare), the record is tried again with the
    identifiers guarded per value, then handed to the late-result rules."""
    try:
        transition_with_events(
            attempt,
            target,
            events,
            expected_claim_token=token,
            condition=_NOT_REDACTED,
            **fields,
            **answered,
        )
        return True
    except ConcurrentTransition:
        pass
    guarded = {**fields, **_unless_withdrawn(answered)}
    try:
        transition_with_events(attempt, target, events, expected_claim_token=token, **guarded)
    except ConcurrentTransition:
        # The sweeper took the attempt back while we were calling (our lease expired).
        if not leases.record_late(attempt, token, target, outcome, events, guarded):
            return False
    # The instance holds what the provider said (transition() set the guarded expressions).
    for name, value in answered.items():
        setattr(attempt, name, value)
    return True


def _record(
    attempt: VerificationAttempt,
    token: UUID,
    backend: Backend,
    outcome: ProviderOutcome,
    checked: liveness.Precheck | None = None,
) -> RunOutcome:
    now = timezone.now()
    target, countdown, counters = _next_step(attempt, outcome)
    latency_ms = outcome.elapsed * 1000 if outcome.elapsed is not None else None
    fields: dict[str, Any] = {
        "error_code": outcome.code,
        "error_class": outcome.error_class.value,
        "error_message": ""
        if outcome.error_class is ErrorClass.SUCCESS
        else outcome.description.en[:255],
        "reason": outcome.reason.value,
        "provider_latency_ms": latency_ms,
        "lease_expires_at": None,
        "claim_token": None,
        "slot_ends_at": None,
        **counters,
    }
    answered: dict[str, Any] = {}
    if outcome.session_id:
        answered["provider_session_id"] = outcome.session_id[:128]
    if outcome.request_id:
        answered["provider_request_id"] = outcome.request_id[:128]
    if outcome.raw is not None:
        answered["raw_response"] = outcome.raw
    if checked is not None:
        fields.update(checked.fields)
    if outcome.liveness is not None:
        fields.update(liveness.fields_for(outcome.liveness))
    verdict = outcome.liveness or (
        checked.verdict if checked is not None else liveness.stored_verdict(attempt)
    )
    events: list[AttemptEvent] = []
    # The pre-check made in this run, written with the comparison's record.
    earlier = [checked.event] if checked is not None else []
    call_event = audit.event(
        attempt,
        EventKind.PROVIDER_CALL,
        call=attempt.provider_calls,
        code=outcome.code,
        error_class=outcome.error_class.value,
        reason=outcome.reason.value,
        latency_ms=round(latency_ms, 1) if latency_ms is not None else None,
        http_status=outcome.http_status,
        billable=outcome.billable,
    )
    # A call whose answer was lost after it left may have been billed: audited as a worker's
    # lost call is (insight.stats counts both as possibly billed, no result).
    lost_answer = (
        [
            audit.event(
                attempt,
                EventKind.POSSIBLY_BILLED,
                call=attempt.provider_calls,
                reason="answer_lost",
            )
        ]
        if outcome.answer_lost
        else []
    )
    if target is Status.COMPLETED:
        threshold = backend.threshold
        decision, reason = liveness.apply_policy(
            backend, verdict, *_decision(outcome, threshold, backend.review_band)
        )
        sampled = audit_sample.draw(decision)
        fields.update(
            similarity=outcome.similarity,
            threshold=threshold,
            decision=decision.value,
            audit_sample=sampled,
            reason=reason.value,
            finished_at=now,
        )
        events.append(
            audit.event(
                attempt,
                EventKind.DECIDED,
                decision=decision.value,
                similarity=outcome.similarity,
                threshold=threshold,
                backend=backend.alias,
                audit_sample=sampled,
                liveness=verdict.verdict.value,
            )
        )
    elif target is Status.RETRY_WAIT:
        fields["next_attempt_at"] = now + timedelta(seconds=countdown)
        events.append(
            audit.event(
                attempt,
                EventKind.RETRY_SCHEDULED,
                countdown=round(countdown, 3),
                error_class=outcome.error_class.value,
                retry=retries.total_retries(attempt) + 1,
            )
        )
    else:
        fields["finished_at"] = now
        events.append(
            audit.event(attempt, EventKind.FINISHED, status=target.value, code=outcome.code)
        )

    if not _write_record(
        attempt,
        token,
        target,
        outcome,
        [*earlier, call_event, *lost_answer, *events],
        fields,
        answered,
    ):
        return RunOutcome("done", status=attempt.status)
    if target is Status.COMPLETED:
        send_after_commit(attempt_decided, attempt)
        erase_selfie_once_final(attempt)
    if target is not Status.RETRY_WAIT:
        send_after_commit(attempt_finished, attempt)
    if outcome.error_class is ErrorClass.CONFIGURATION:
        # Credentials, account (arrears, quota) or service setup: not the user's fault, and
        # every further attempt will fail the same way until an operator acts.
        logger.error(
            "attempt %s: provider refused the account or configuration, backend=%s code=%s (%s)",
            attempt.pk,
            backend.alias,
            outcome.code,
            outcome.description.en,
        )
    logger.info(
        "attempt %s: %s code=%s class=%s reason=%s latency_ms=%s",
        attempt.pk,
        target.value,
        outcome.code,
        outcome.error_class.value,
        outcome.reason.value,
        f"{latency_ms:.1f}" if latency_ms is not None else "-",
    )
    if target is Status.RETRY_WAIT:
        return RunOutcome("retry", countdown, target.value)
    return RunOutcome("done", status=target.value)
