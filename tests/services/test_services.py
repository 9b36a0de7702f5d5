"""The services layer used directly, without Celery: submit, run, review, cancel, reveal."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.utils import timezone

from face_idcard import services
from face_idcard.exceptions import (
    AttemptLimitExceeded,
    ConcurrentTransition,
    ConsentRequired,
    IllegalTransition,
)
from face_idcard.models import AttemptEvent, EventKind, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.signals import attempt_decided, attempt_finished, attempt_reviewed
from face_idcard.simulator import magic
from face_idcard.states import Decision, Status
from tests.support import imagefactory
from tests.support.celery_app import ledger_calls
from tests.support.factories import submit_attempt
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

NAME = "张三"
IMAGE = imagefactory.jpeg(320, 240)


submit = functools.partial(submit_attempt, enqueue=False)


@pytest.fixture
def received() -> Iterator[dict[str, list[dict[str, Any]]]]:
    log: dict[str, list[dict[str, Any]]] = {"finished": [], "decided": [], "reviewed": []}
    receivers: list[tuple[Any, Callable[..., None]]] = []
    for name, signal in (
        ("finished", attempt_finished),
        ("decided", attempt_decided),
        ("reviewed", attempt_reviewed),
    ):

        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            log[_name].append({"sender": sender, **kwargs})

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield log
    for signal, receiver in receivers:
        signal.disconnect(receiver)


# --- submit --------------------------------------------------------------------------------


def test_submit_stores_encrypted_masked_and_hashed(face_settings: Any) -> None:
    attempt = submit()
    stored = VerificationAttempt.objects.get(pk=attempt.pk)
    assert stored.status == Status.QUEUED
    assert stored.idcard_number_masked == "1101**********0014"
    assert stored.idcard_name_masked == "张*"
    assert magic.MATCH not in stored.idcard_number_encrypted
    assert NAME not in stored.idcard_name_encrypted
    assert len(stored.idcard_hash) == 64 and magic.MATCH not in stored.idcard_hash
    assert (
        stored.selfie_name
        and "张" not in stored.selfie_name
        and magic.MATCH not in stored.selfie_name
    )
    with services._common.selfie_storage().open(stored.selfie_name, "rb") as handle:
        on_disk = handle.read()
    assert IMAGE[100:140] not in on_disk
    assert services._common.load_selfie(stored.selfie_name, "", stored.pk) == IMAGE
    kinds = list(stored.events.values_list("kind", flat=True))
    assert kinds == [EventKind.CREATED.value, EventKind.QUEUED.value]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"idcard_number": "110110199909090909"},  # bad checksum
        {"idcard_name": "Zhang3"},
        {"image": b"not an image"},
        {"image": None, "url": "ftp://example.invalid/a.jpg"},
        {"image": None},  # neither image nor url
        {"url": "https://example.invalid/a.jpg"},  # both
    ],
)
def test_bad_input_stores_nothing(
    face_settings: Any, simulator: Any, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        submit(**kwargs)
    assert VerificationAttempt.objects.count() == 0
    assert AttemptEvent.objects.count() == 0
    time.sleep(0.05)
    assert simulator.ledger.total == 0


def test_consent_is_required(face_settings: Any) -> None:
    with pytest.raises(ConsentRequired):
        submit(consent_at=None)
    assert VerificationAttempt.objects.count() == 0


def test_limit_per_id_number(face_settings: Callable[..., None]) -> None:
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=2)
    submit()
    submit()
    with pytest.raises(AttemptLimitExceeded) as caught:
        submit()
    text = str(caught.value)
    assert magic.MATCH not in text and "0014" not in text
    # Another number is not affected; the same number is again after a day.
    submit(magic.NO_MATCH)
    VerificationAttempt.objects.update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    submit()


def test_limit_per_user_with_the_same_message(face_settings: Callable[..., None]) -> None:
    face_settings(MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=2)
    user = get_user_model().objects.create_user("carol")
    submit(magic.MATCH, user=user)
    submit(magic.NO_MATCH, user=user)
    with pytest.raises(AttemptLimitExceeded) as by_user:
        submit(magic.REVIEW, user=user)
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=1)
    submit(magic.MATCH)  # carol's attempt at the number does not count for another account
    with pytest.raises(AttemptLimitExceeded) as by_id:
        submit(magic.MATCH)
    assert str(by_user.value) == str(by_id.value)
    assert VerificationAttempt.objects.count() == 3
    submit(magic.REVIEW)  # anonymous: no per-user limit


# --- run without Celery ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "decision", "similarity"),
    [
        (magic.MATCH, Decision.MATCH, magic.MATCH_SIMILARITY),
        (magic.NO_MATCH, Decision.NO_MATCH, magic.NO_MATCH_SIMILARITY),
        (magic.REVIEW, Decision.REVIEW, magic.REVIEW_SIMILARITY),
    ],
)
def test_run_decides(
    face_settings: Any,
    simulator: Any,
    received: dict[str, list[dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
    number: str,
    decision: Decision,
    similarity: float,
) -> None:
    attempt = submit(number)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = pipeline.run(attempt.pk)
    assert (outcome.action, outcome.status) == ("done", Status.COMPLETED)
    attempt.refresh_from_db()
    assert attempt.decision == decision
    assert attempt.similarity == similarity
    assert attempt.threshold == 75.0  # the legacy API's default
    assert attempt.provider_calls == 1
    assert attempt.error_code == "0"
    assert attempt.finished_at is not None
    assert attempt.provider_latency_ms is not None
    calls = ledger_calls(simulator, attempt.pk)
    assert len(calls) == 1 and calls[0].billable
    assert [e["attempt"].pk for e in received["decided"]] == [attempt.pk]
    assert [e["attempt"].pk for e in received["finished"]] == [attempt.pk]
    assert received["decided"][0]["sender"] is VerificationAttempt
    kinds = list(attempt.events.values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.PROVIDER_CALL.value, EventKind.DECIDED.value]
    # Running again does nothing: no second call.
    assert pipeline.run(attempt.pk).action == "done"
    assert len(ledger_calls(simulator, attempt.pk)) == 1


def test_threshold_setting_and_review_band(face_settings: Callable[..., None]) -> None:
    face_settings(THRESHOLD=70.0, REVIEW_BAND=0)
    attempt = submit(magic.REVIEW)  # 74.0
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.decision, attempt.threshold) == (Decision.MATCH, 70.0)


def test_decide_boundaries() -> None:
    assert pipeline.decide(75.0, 75.0, 0) == Decision.MATCH
    assert pipeline.decide(74.99, 75.0, 0) == Decision.NO_MATCH
    assert pipeline.decide(77.0, 75.0, 2.5) == Decision.REVIEW
    assert pipeline.decide(72.6, 75.0, 2.5) == Decision.REVIEW
    assert pipeline.decide(77.5, 75.0, 2.5) == Decision.MATCH
    assert pipeline.decide(72.5, 75.0, 2.5) == Decision.NO_MATCH


def test_backoff_is_capped_full_jitter(face_settings: Callable[..., None]) -> None:
    face_settings(RETRY_BACKOFF_BASE_SECONDS=2.0, RETRY_BACKOFF_MAX_SECONDS=10.0)
    first = [pipeline.backoff(0) for _ in range(200)]
    late = [pipeline.backoff(8) for _ in range(200)]
    assert all(0 <= d <= 2.0 for d in first)
    assert all(0 <= d <= 10.0 for d in late)
    assert max(late) > 5.0  # jitter spreads over the whole capped range
    assert len(set(first)) > 100


def test_name_mismatch_is_rejected_not_retried(face_settings: Any, simulator: Any) -> None:
    attempt = submit(magic.NAME_MISMATCH)
    outcome = pipeline.run(attempt.pk)
    assert outcome.action == "done"
    attempt.refresh_from_db()
    assert attempt.status == Status.REJECTED
    assert (attempt.error_code, attempt.error_class) == ("-5803", "input")
    assert attempt.error_message == "The name does not match the ID number"
    assert attempt.decision == Decision.NONE
    assert len(ledger_calls(simulator, attempt.pk)) == 1


def test_transient_then_retry_outcome(face_settings: Any, simulator: Any) -> None:
    attempt = submit(magic.INTERNAL_ERROR)
    outcome = pipeline.run(attempt.pk)
    assert outcome.action == "retry"
    assert 0 <= outcome.countdown <= 0.1
    attempt.refresh_from_db()
    assert attempt.status == Status.RETRY_WAIT
    assert (attempt.error_code, attempt.retry_count) == ("213", 1)
    assert attempt.next_attempt_at is not None


def test_run_of_unknown_or_malformed_id_is_done() -> None:
    assert pipeline.run("00000000-0000-0000-0000-000000000000").action == "done"
    assert pipeline.run("not-a-uuid").action == "done"


# --- review, cancel, reveal ---------------------------------------------------------------------


def completed(number: str = magic.REVIEW) -> VerificationAttempt:
    attempt = submit(number)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    return attempt


@pytest.mark.parametrize(
    ("number", "verdict", "action"),
    [
        (magic.MATCH, "match", "confirmed"),
        (magic.MATCH, "no_match", "overridden"),
        (magic.REVIEW, "match", "decided"),
    ],
)
def test_review_confirm_or_override(
    face_settings: Any,
    received: dict[str, list[dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
    number: str,
    verdict: str,
    action: str,
) -> None:
    staff = user_with("reviewer", "review")
    attempt = completed(number)
    machine = attempt.decision
    with django_capture_on_commit_callbacks(execute=True):
        services.review(attempt, reviewer=staff, decision=verdict, reason="photo checked by hand")
    attempt.refresh_from_db()
    assert attempt.review_decision == verdict
    assert attempt.decision == machine  # the machine's decision is kept
    assert attempt.final_decision == verdict
    assert attempt.reviewer == staff and attempt.reviewed_at is not None
    event = attempt.events.get(kind=EventKind.REVIEWED.value)
    assert event.actor == staff
    assert event.data["action"] == action
    assert event.data["reason"] == "photo checked by hand"
    assert [(r["attempt"].pk, r["reviewer"]) for r in received["reviewed"]] == [(attempt.pk, staff)]
    with pytest.raises(IllegalTransition):
        services.review(attempt, reviewer=staff, decision="match", reason="again")


def test_review_needs_reason_valid_decision_and_completed(face_settings: Any) -> None:
    staff = user_with("reviewer2", "review")
    attempt = completed()
    with pytest.raises(ValidationError):
        services.review(attempt, reviewer=staff, decision="match", reason="  ")
    with pytest.raises(ValidationError):
        services.review(attempt, reviewer=staff, decision="maybe", reason="x")
    queued = submit()
    with pytest.raises(IllegalTransition):
        services.review(queued, reviewer=staff, decision="match", reason="x")


def test_cancel(
    face_settings: Any,
    simulator: Any,
    received: dict[str, list[dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    attempt = submit()
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel(attempt)
    attempt.refresh_from_db()
    assert attempt.status == Status.CANCELED and attempt.finished_at is not None
    assert attempt.events.filter(kind=EventKind.CANCELED.value).count() == 1
    assert [r["attempt"].pk for r in received["finished"]] == [attempt.pk]
    # A canceled attempt is never called, and cannot be canceled again.
    assert pipeline.run(attempt.pk).action == "done"
    time.sleep(0.05)
    assert simulator.ledger.total == 0
    with pytest.raises(IllegalTransition):
        services.cancel(attempt)


def test_cancel_loses_against_a_worker_claim(face_settings: Any) -> None:
    attempt = submit()
    stale = VerificationAttempt.objects.get(pk=attempt.pk)
    pipeline.run(attempt.pk)
    with pytest.raises(ConcurrentTransition):
        services.cancel(stale)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED


def test_cancel_of_completed_is_illegal(face_settings: Any) -> None:
    attempt = completed(magic.MATCH)
    with pytest.raises(IllegalTransition):
        services.cancel(attempt)


def test_reveal_pii_is_audited(face_settings: Any) -> None:
    staff = user_with("auditor", "view_pii")
    attempt = submit()
    assert services.reveal_pii(attempt, viewer=staff) == (magic.MATCH, NAME)
    event = attempt.events.get(kind=EventKind.PII_VIEWED.value)
    assert event.actor == staff
    assert magic.MATCH not in str(event.data) and NAME not in str(event.data)


def test_reveal_pii_needs_a_named_viewer(face_settings: Any) -> None:
    attempt = submit()
    for anonymous in (None, AnonymousUser()):
        with pytest.raises(ValidationError) as raised:
            services.reveal_pii(attempt, viewer=anonymous)
        assert raised.value.code == "viewer_required"
    assert not attempt.events.filter(kind=EventKind.PII_VIEWED.value).exists()


def test_a_finished_attempt_is_not_claimed_again(face_settings: Any, simulator: Any) -> None:
    """A second delivery of the message finds nothing to claim: one provider call."""
    from face_idcard.services import _claim as claim

    attempt = submit(magic.MATCH)
    outcome = pipeline.run(attempt.pk)
    assert (outcome.action, outcome.status) == ("done", Status.COMPLETED)
    assert pipeline.run(attempt.pk).action == "done"
    assert len(ledger_calls(simulator, attempt.pk)) == 1
    assert claim.claim(attempt.pk, timezone.now()) is None


def test_early_duplicate_of_a_waiting_attempt_is_deferred(face_settings: Any) -> None:
    attempt = submit(magic.INTERNAL_ERROR)
    assert pipeline.run(attempt.pk).action == "retry"
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        next_attempt_at=timezone.now() + timedelta(seconds=30)
    )
    outcome = pipeline.run(attempt.pk)
    assert outcome.action == "defer"
    assert 29 < outcome.countdown <= 30
    attempt.refresh_from_db()
    assert (attempt.status, attempt.provider_calls) == (Status.RETRY_WAIT, 1)


def test_url_fetch_failure_is_retried_once(face_settings: Any, simulator: Any) -> None:
    # Nothing listens on the discard port of loopback: the provider cannot fetch the image.
    face_settings(URL_ALLOW_PRIVATE=True)  # loopback, allowed on purpose
    attempt = submit(magic.MATCH, image=None, url="http://127.0.0.1:9/selfie.jpg")
    first = pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert first.action == "retry", attempt.error_code
    assert (attempt.error_class, attempt.url_fetch_count) == ("url_fetch", 1)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(next_attempt_at=None)
    assert pipeline.run(attempt.pk).action == "done"
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert len(ledger_calls(simulator, attempt.pk, expect=2)) == 2


@pytest.mark.parametrize(
    ("error_class", "counters", "expected"),
    [
        ("resign", {}, ("retry_wait", 0.0, {"resign_count": 1})),
        ("resign", {"resign_count": 1}, ("failed", 0.0, {})),
        ("url_fetch", {"url_fetch_count": 1}, ("failed", 0.0, {})),
        ("configuration", {}, ("failed", 0.0, {})),
        ("unknown", {}, ("failed", 0.0, {})),
        ("input", {}, ("rejected", 0.0, {})),
        ("transient", {"retry_count": 3}, ("failed", 0.0, {})),  # FAST: RETRY_MAX_COUNT=3
    ],
)
def test_next_step_by_error_class(
    face_settings: Any, error_class: str, counters: dict[str, int], expected: tuple[Any, ...]
) -> None:
    from face_idcard.outcome import ErrorClass, ProviderOutcome, Reason, unknown_code
    from face_idcard.services._pipeline import _next_step

    attempt = VerificationAttempt(backend="simulator", **counters)
    outcome = ProviderOutcome(
        code="x",
        error_class=ErrorClass(error_class),
        reason=Reason.UNKNOWN,
        billable=None,
        description=unknown_code("x"),
    )
    status, countdown, writes = _next_step(attempt, outcome)
    assert (status.value, countdown, writes) == expected


def test_account_problems_alert_operators(
    face_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    attempt = submit(magic.ARREARS)
    with caplog.at_level("ERROR", logger="face_idcard"):
        assert pipeline.run(attempt.pk).action == "done"
    alerts = [
        r for r in caplog.records if r.levelname == "ERROR" and r.name == "face_idcard.pipeline"
    ]
    assert len(alerts) == 1
    assert "code=3" in alerts[0].getMessage()
    attempt.refresh_from_db()
    assert (attempt.status, attempt.error_class, attempt.retry_count) == (
        "failed",
        "configuration",
        0,
    )


# --- backends ----------------------------------------------------------------------------------


def test_backend_registry(settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from face_idcard.backends import backend_class, get_backend
    from face_idcard.providers.legacy.backend import LegacyBackend, SimulatorBackend

    def aliases(**entries: dict[str, Any]) -> None:
        settings.FACE_IDCARD = {**settings.FACE_IDCARD, "BACKENDS": entries}

    aliases(sim={"BACKEND": "simulator", "ENDPOINT": "http://127.0.0.1:1"})
    simulator_backend = get_backend("sim")
    assert isinstance(simulator_backend, SimulatorBackend)
    assert simulator_backend.default_threshold == 75.0
    assert get_backend("sim") is simulator_backend  # one pooled client per process
    assert "GIF" not in simulator_backend.image_limits.formats
    # A settings change builds a new client from the new settings.
    aliases(sim={"BACKEND": "simulator", "ENDPOINT": "http://127.0.0.1:2"})
    rebuilt = get_backend("sim")
    assert rebuilt is not simulator_backend
    assert rebuilt.client.endpoint == "http://127.0.0.1:2"  # type: ignore[attr-defined]
    # legacy needs credentials; unknown names and non-backends are refused.
    aliases(main={"BACKEND": "legacy", "APPID": "", "SECRET_ID": "", "SECRET_KEY": ""})
    with pytest.raises(ImproperlyConfigured):
        get_backend("main")
    credentials = {
        "APPID": "1250000000",
        "SECRET_ID": "AKIDexample",
        "SECRET_KEY": "example-secret",
    }
    aliases(
        main={"BACKEND": "legacy", **credentials},
        # A dotted path names the same class as the built-in name.
        dotted={"BACKEND": "face_idcard.providers.legacy.backend.LegacyBackend", **credentials},
        tencent={"BACKEND": "faceid", "SECRET_ID": "AKIDexample", "SECRET_KEY": "example-secret"},
    )
    legacy = get_backend("main")
    assert isinstance(legacy, LegacyBackend)
    assert type(get_backend("dotted")) is LegacyBackend and get_backend("dotted") is not legacy
    assert "example-secret" not in repr(legacy.client)  # type: ignore[attr-defined]
    assert get_backend("tencent").provider == "faceid"
    # Only aliases resolve: a backend's name is not an alias.
    for name in ("legacy", "faceid", "face_idcard.providers.legacy.backend.LegacyBackend"):
        with pytest.raises(ImproperlyConfigured, match="unknown backend alias"):
            get_backend(name)
    for name in ("nosuchbackend", "face_idcard.models.VerificationAttempt", "no.such.Backend"):
        with pytest.raises(ImproperlyConfigured):
            backend_class(name)


@pytest.mark.parametrize(
    "path",
    [
        "face_idcard.errors",
        "face_idcard.client",
        "face_idcard.signing",
        "face_idcard.backends.legacy",
        "face_idcard.backends.simulator",
    ],
)
def test_the_old_import_paths_are_gone(path: str) -> None:
    """The provider modules have one home each, under face_idcard.providers.

    Looked up in the package's own folder: an editable install of another checkout may
    answer for the package's submodules through its own finder."""
    import importlib
    from importlib.machinery import PathFinder

    parent, _, _leaf = path.rpartition(".")
    package = importlib.import_module(parent)
    assert PathFinder.find_spec(path, list(package.__path__)) is None


def test_broker_outage_keeps_the_attempt_queued(
    face_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from face_idcard.tasks import verify_attempt

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(verify_attempt, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        attempt = submit(enqueue=True)
    attempt.refresh_from_db()
    assert attempt.status == Status.QUEUED  # stored; the sweeper will publish it again
    assert any("could not publish" in r.getMessage() for r in caplog.records)
