"""The circuit breaker of each backend alias, shared by every worker through the database.

A provider that is down (its calls time out, are refused, or answer "unavailable") should not
be called by every attempt until each has burnt its retries. After
``BREAKER_FAILURE_THRESHOLD`` calls in a row found it down, the alias's
:class:`~face_idcard.models.ProviderBreaker` row is *open* until ``open_until``
(``BREAKER_PROBE_INTERVAL_SECONDS`` ahead): an attempt that comes to call it waits instead
(``retry_wait``, reason ``provider_unavailable``, a ``waiting_for_provider`` event) and comes
back then. When that time has come, one worker (whose conditional UPDATE wrote its token into
``probe_token``) calls the provider: the *probe*. An answer closes the breaker, and the waiting
attempts run again as they come back (at the rate limit's pace where the alias has one); no
answer opens it for another interval. Every change is a conditional UPDATE, so of any number of
workers on any database exactly one holds the probe.

The healthy path costs no statement: a process reads the row only after it has seen the
provider down itself (a failed call) and until it sees it answer. A process that has not yet
seen the outage calls once, finds it down, and from then on waits like the others.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from django.core.signals import setting_changed
from django.db.models import Case, F, PositiveIntegerField, Q, Value, When
from django.dispatch import receiver

from ..conf import SETTING_NAME, face_idcard_settings
from ..models import ProviderBreaker
from ..outcome import INTERNAL_ERROR, ErrorClass, ProviderOutcome, Reason
from ._leases import lease_until

logger = logging.getLogger("face_idcard.breaker")

__all__ = ["Gate", "admit", "forget", "is_down", "jitter", "record", "release"]

# Aliases this process has seen down and not seen answer since: only for those is the row read
# before a call (the healthy path reads nothing).
_suspected: set[str] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class Gate:
    """Whether one call to ``alias`` may go now."""

    alias: str
    allowed: bool
    #: The probe's token when this call is the open breaker's probe.
    probe: UUID | None = None
    #: When a held-off attempt should come back (not allowed).
    wait_until: datetime | None = None
    #: The row counted failures when the call was let through: an answer resets it.
    troubled: bool = False


def _interval() -> timedelta:
    return timedelta(seconds=float(face_idcard_settings.BREAKER_PROBE_INTERVAL_SECONDS))


def jitter() -> float:
    """Seconds (up to one probe interval) added to a held-off attempt's wait, so that the
    attempts held off together do not all come back at one instant."""
    return random.uniform(0, _interval().total_seconds())  # noqa: S311 - spread, not security


def _suspect(alias: str) -> None:
    with _lock:
        _suspected.add(alias)


def forget(alias: str | None = None) -> None:
    """Stop suspecting ``alias`` (None: every alias), as a fresh process does not."""
    with _lock:
        if alias is None:
            _suspected.clear()
        else:
            _suspected.discard(alias)


@receiver(setting_changed)
def _forget_on_new_settings(*, setting: str, **kwargs: object) -> None:
    # Other backends or endpoints: what this process saw of the old ones no longer holds.
    if setting == SETTING_NAME:
        forget()


def is_down(outcome: ProviderOutcome) -> bool:
    """Whether the outcome says the provider is unreachable or unavailable (not a rate-limit
    answer: a provider that says "slow down" is up)."""
    return (
        outcome.error_class is ErrorClass.TRANSIENT
        and outcome.reason is Reason.PROVIDER_UNAVAILABLE
    )


def admit(alias: str, now: datetime) -> Gate:
    """May one call go to ``alias`` now? Reads the row only while this process suspects it."""
    with _lock:
        suspected = alias in _suspected
    if not suspected:
        return Gate(alias, True)
    breakers = ProviderBreaker.objects.filter(alias=alias)
    row = breakers.values_list("failures", "open_until").first()
    if row is None or (row[1] is None and not row[0]):
        forget(alias)  # closed and clean (another worker saw the provider answer)
        return Gate(alias, True)
    failures, open_until = row
    if open_until is None:
        return Gate(alias, True, troubled=True)
    if now < open_until:
        return Gate(alias, False, wait_until=open_until)
    token = uuid4()
    won = (
        breakers.filter(open_until__lte=now)
        .filter(Q(probe_token__isnull=True) | Q(probe_expires_at__lt=now))
        .update(probe_token=token, probe_expires_at=lease_until(now))
    )
    if won:
        logger.info("breaker %s: open since %d failures; probing", alias, failures)
        return Gate(alias, True, probe=token, troubled=True)
    # Another worker's probe is out: come back once it has had its time.
    return Gate(alias, False, wait_until=now + _interval())


def release(gate: Gate) -> None:
    """Give back a probe that did not call (a rate-limit deferral, an error of ours)."""
    if gate.probe is not None:
        ProviderBreaker.objects.filter(alias=gate.alias, probe_token=gate.probe).update(
            probe_token=None, probe_expires_at=None
        )


def record(gate: Gate, outcome: ProviderOutcome, now: datetime) -> None:
    """What the call let through by ``gate`` found: the provider down, or answering."""
    if is_down(outcome):
        _failed(gate, now)
    elif outcome.code == INTERNAL_ERROR:
        release(gate)  # our own error: nothing learnt about the provider
    elif gate.troubled:
        closed = ProviderBreaker.objects.filter(alias=gate.alias).update(
            failures=0,
            open_until=None,
            opened_at=None,
            last_failure_at=None,
            probe_token=None,
            probe_expires_at=None,
        )
        forget(gate.alias)
        if closed and gate.probe is not None:
            logger.warning("breaker %s: the provider answers again; closed", gate.alias)


def _failed(gate: Gate, now: datetime) -> None:
    _suspect(gate.alias)
    breakers = ProviderBreaker.objects.filter(alias=gate.alias)
    interval = _interval()
    if gate.probe is not None:
        breakers.filter(probe_token=gate.probe).update(
            open_until=now + interval,
            probe_token=None,
            probe_expires_at=None,
            failures=F("failures") + 1,
            last_failure_at=now,
        )
        return
    # Failures further apart than the interval are not in a row: the count starts again.
    count = {
        "failures": Case(
            When(last_failure_at__gte=now - interval, then=F("failures") + 1),
            default=Value(1),
            output_field=PositiveIntegerField(),
        ),
        "last_failure_at": now,
    }
    if not breakers.update(**count):
        ProviderBreaker.objects.bulk_create(
            [ProviderBreaker(alias=gate.alias)], ignore_conflicts=True
        )
        breakers.update(**count)
    threshold = int(face_idcard_settings.BREAKER_FAILURE_THRESHOLD)
    if breakers.filter(open_until__isnull=True, failures__gte=threshold).update(
        open_until=now + interval, opened_at=now
    ):
        logger.warning(
            "breaker %s: %d calls in a row found the provider down; open, one probe every %ss",
            gate.alias,
            threshold,
            interval.total_seconds(),
        )
