"""A liveness pre-check whose answer was lost is counted as possibly billed (issue 32, the
pre-check's side of issue 27 item 6), over real HTTP to the simulator.

The simulator's DetectAIFakeFaces does the check and bills it, then either closes the
connection without answering (``LOST_WIDTH``: a reset after the request was sent) or answers
after the client's read timeout (``LATE_WIDTH``). Either way the pre-check's audit event says
its answer was lost, its billing unknown, and the liveness figures count it as possibly billed,
so the pre-check's bill (the simulator's ledger) lies between the billable pre-checks and those
plus the possibly billed ones. A pre-check that never left (the connection refused) costs
nothing and is not counted.
"""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from face_idcard.backends import VerificationRequest, get_backend
from face_idcard.insight import liveness as figures
from face_idcard.insight.windows import Scope
from face_idcard.models import EventKind
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import SimulatorServer, magic
from face_idcard.simulator.portraits import portrait_jpeg
from face_idcard.simulator.protocols.faceid_precheck import LATE_MS, LATE_WIDTH, LOST_WIDTH
from tests.support.admin_helpers import client_for
from tests.support.celery_app import FAST
from tests.support.faceid import NAME, faceid_alias
from tests.support.factories import submit_attempt
from tests.support.insight_helpers import STATISTICS

pytestmark = pytest.mark.django_db(transaction=True)

#: Well under the simulator's LATE_MS: the late answer comes after the client gave up.
READ_TIMEOUT_SECONDS = 0.5


def _use(settings: Any, endpoint: SimulatorServer | str) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        **FAST,
        "LIVENESS": "record",
        "BACKENDS": {
            "default": faceid_alias(
                endpoint,
                READ_TIMEOUT_SECONDS=READ_TIMEOUT_SECONDS,
                PRECHECK_RATE_LIMIT_PER_SECOND=1000,
            )
        },
    }


def _prechecks_billed(simulator: SimulatorServer, expect: int) -> int:
    """The simulator's billed pre-checks, once the late one (recorded when it answers) is in."""
    deadline = time.monotonic() + LATE_MS / 1000 + 3.0
    while time.monotonic() < deadline:
        calls = [c for c in simulator.ledger.calls() if c.protocol == "faceid.precheck"]
        if len(calls) >= expect:
            return sum(call.billable for call in calls)
        time.sleep(0.05)
    raise AssertionError("the simulator recorded no pre-check")


@pytest.mark.parametrize("width", [LOST_WIDTH, LATE_WIDTH], ids=["reset-after-sending", "late"])
def test_a_precheck_whose_answer_was_lost_is_possibly_billed(
    settings: Any, simulator: SimulatorServer, dispatched: Any, width: int
) -> None:
    _use(settings, simulator)
    attempt = submit_attempt(magic.MATCH, image=portrait_jpeg(3, size=(width, 400)))
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    # No verdict; under record the comparison goes on and decides.
    assert (attempt.status, attempt.decision, attempt.liveness) == (
        "completed",
        "match",
        "unavailable",
    )
    (check,) = attempt.events.filter(kind=EventKind.LIVENESS_CHECK)
    assert check.data["billable"] is None
    assert check.data["answer_lost"] is True
    assert check.data["http_status"] is None

    (row,) = figures.compute(Scope.last(timedelta(hours=1)))
    assert (row.precheck_calls, row.precheck_billable, row.precheck_possibly_billed) == (1, 0, 1)
    # The provider did the check and billed it: the bill is within what the figures allow.
    billed = _prechecks_billed(simulator, 1)
    assert billed == 1
    assert row.precheck_billable <= billed <= row.precheck_billable + row.precheck_possibly_billed

    client, _ = client_for("precheck-bill-viewer", "view_verificationattempt")
    html = client.get(STATISTICS).content.decode()
    assert 'data-figure="precheck_possibly_billed">1<' in html
    assert "Pre-checks possibly billed, no answer" in html


def test_an_answered_precheck_is_not_possibly_billed(
    settings: Any, simulator: SimulatorServer, dispatched: Any
) -> None:
    _use(settings, simulator)
    attempt = submit_attempt(magic.MATCH, image=portrait_jpeg(3))
    pipeline.run(attempt.pk)
    (check,) = [e.data for e in attempt.events.filter(kind=EventKind.LIVENESS_CHECK)]
    assert check["billable"] is True and "answer_lost" not in check
    (row,) = figures.compute(Scope.last(timedelta(hours=1)))
    assert (row.precheck_billable, row.precheck_possibly_billed) == (1, 0)
    assert _prechecks_billed(simulator, 1) == 1


def test_a_precheck_that_never_left_costs_nothing(settings: Any) -> None:
    """A refused connection: nothing reached a provider, so nothing is possibly billed
    (urllib3 reports a refusal as a kind of connect timeout; it is no lost answer)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    _use(settings, f"http://127.0.0.1:{port}")
    outcome = get_backend("default").precheck(
        VerificationRequest(
            idcard_number=magic.MATCH,
            idcard_name=NAME,
            image=portrait_jpeg(3),
            image_content_type="image/jpeg",
            url=None,
            correlation_id="0" * 32,
        )
    )
    assert outcome.liveness is not None and outcome.liveness.verdict.value == "unavailable"
    assert outcome.billable is False


def test_a_run_lost_after_its_precheck_leaves_the_precheck_possibly_billed(
    settings: Any,
    simulator: SimulatorServer,
    dispatched: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker dies once the pre-check has answered (and been billed), before anything is
    recorded: the sweeper's possibly_billed event says a pre-check was due, and the liveness
    figures count it as possibly billed."""
    from face_idcard import services
    from face_idcard.services import _liveness

    class WorkerKilled(BaseException):
        pass

    def die(*args: Any, **kwargs: Any) -> Any:
        raise WorkerKilled

    _use(settings, simulator)
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "CLAIM_LEASE_SECONDS": 120}
    attempt = submit_attempt(magic.MATCH, image=portrait_jpeg(3))
    monkeypatch.setattr(_liveness.Precheck, "of", classmethod(die))
    with pytest.raises(WorkerKilled):
        pipeline.run(attempt.pk)
    monkeypatch.undo()
    assert _prechecks_billed(simulator, 1) == 1
    assert not attempt.events.filter(kind=EventKind.LIVENESS_CHECK).exists()

    services.sweep(timezone.now() + timedelta(seconds=121))
    lost = attempt.events.get(kind=EventKind.POSSIBLY_BILLED)
    assert lost.data["precheck"] is True
    (row,) = figures.compute(Scope.last(timedelta(hours=1)))
    assert (row.precheck_billable, row.precheck_possibly_billed) == (0, 1)
    assert row.precheck_billable <= 1 <= row.precheck_billable + row.precheck_possibly_billed
