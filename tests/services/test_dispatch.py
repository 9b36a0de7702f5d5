"""The dispatcher (``face_idcard.services.dispatch``): the services hand attempt ids to it and
to nothing else; Celery is one dispatcher among others, plugged in from ``face_idcard.tasks``,
and the services work, and import, without it.
"""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from face_idcard import services, tasks
from face_idcard.models import AttemptEvent, VerificationAttempt
from face_idcard.services import dispatch
from face_idcard.services._common import enqueue
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support.dispatchers import BrokenDispatcher, RecordingDispatcher
from tests.support.factories import submit_attempt
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
SERVICES = ROOT / "face_idcard" / "services"
NAME = "李四"


submit = functools.partial(submit_attempt, idcard_name=NAME)


@pytest.fixture
def no_default() -> Iterator[None]:
    """As if Celery were not installed: no default dispatcher (Celery's comes back after)."""
    dispatch.set_default_dispatcher(None)
    yield
    dispatch.set_default_dispatcher(tasks.CeleryDispatcher())


# --- The registry ----------------------------------------------------------------------------


def test_celery_is_the_default_dispatcher() -> None:
    assert isinstance(dispatch.get_dispatcher(), tasks.CeleryDispatcher)


def test_a_site_dispatcher_wins_over_the_default_registered_after_it(no_default: None) -> None:
    mine = RecordingDispatcher()
    dispatch.set_dispatcher(mine)
    try:
        # face_idcard's ready() may run after the site's: the site's choice still stands.
        dispatch.set_default_dispatcher(tasks.CeleryDispatcher())
        assert dispatch.get_dispatcher() is mine
    finally:
        dispatch.set_dispatcher(None)
    assert isinstance(dispatch.get_dispatcher(), tasks.CeleryDispatcher)


def test_an_object_without_dispatch_is_refused() -> None:
    with pytest.raises(TypeError, match="dispatch"):
        dispatch.set_dispatcher(object())  # type: ignore[arg-type]
    assert isinstance(dispatch.get_dispatcher(), tasks.CeleryDispatcher)


def test_without_any_dispatcher_enqueue_reports_it(no_default: None) -> None:
    with pytest.raises(ImproperlyConfigured, match="set_dispatcher"):
        dispatch.get_dispatcher()
    assert enqueue(uuid.uuid4()) == "ImproperlyConfigured"


# --- What the services hand over ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_submit_hands_over_its_id_once_after_the_commit(
    face_settings: Any, dispatched: RecordingDispatcher
) -> None:
    with transaction.atomic():  # the caller's transaction
        attempt = submit()
        assert dispatched.sent == []  # nothing before the commit
    # The id, no countdown (no rate limit), and nothing of the person.
    assert dispatched.sent == [(attempt.pk, None)]
    assert isinstance(dispatched.sent[0][0], uuid.UUID)


@pytest.mark.django_db(transaction=True)
def test_a_rate_limited_submit_hands_over_its_countdown(
    settings: Any,
    face_settings: Any,
    dispatched: RecordingDispatcher,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # A cache of its own: no slot taken by another test.
    settings.CACHES = {
        **settings.CACHES,
        "dispatch_slots": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "dispatch_slots",
        },
    }
    face_settings(RATE_LIMIT_PER_SECOND=1, RATE_LIMIT_CACHE="dispatch_slots")
    with django_capture_on_commit_callbacks(execute=True):
        first, second = submit(), submit()
    assert dispatched.ids == [first.pk, second.pk]
    # The second waits for its own slot, the next second.
    (_id, early), (_id, late) = dispatched.sent
    assert late is not None and late > (early or 0.0)


@pytest.mark.django_db(transaction=True)
def test_submit_without_enqueue_hands_over_nothing(
    face_settings: Any, dispatched: RecordingDispatcher, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        attempt = submit(enqueue=False)
    assert dispatched.sent == []
    assert enqueue(attempt.pk) is None
    assert dispatched.sent == [(attempt.pk, None)]


@pytest.mark.django_db(transaction=True)
def test_a_failed_dispatch_is_audited_and_left_to_the_sweeper(
    face_settings: Any, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken = BrokenDispatcher()
    dispatch.set_dispatcher(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            attempt = submit()
    finally:
        dispatch.set_dispatcher(None)
    assert broken.tries == 1
    attempt.refresh_from_db()
    assert attempt.status == Status.QUEUED
    last = AttemptEvent.objects.filter(attempt=attempt).order_by("id").last()
    assert last is not None and last.data == {
        "published": False,
        "error": "ConnectionError",
        "recovery": "sweeper",
    }
    assert any("could not publish" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_hands_over_through_the_dispatcher(
    face_settings: Any, dispatched: RecordingDispatcher
) -> None:
    lost = submit(enqueue=False)
    VerificationAttempt.objects.filter(pk=lost.pk).update(
        queued_at=timezone.now() - timedelta(seconds=601)
    )
    dead = submit(enqueue=False)
    VerificationAttempt.objects.filter(pk=dead.pk).update(
        status=Status.PROCESSING.value,
        claim_token=uuid.uuid4(),
        lease_expires_at=timezone.now() - timedelta(seconds=10),
        provider_calls=1,
    )
    counts = services.sweep()
    assert (counts["expired_leases"], counts["lost_queued"]) == (1, 1)
    assert sorted(dispatched.ids) == sorted([lost.pk, dead.pk])
    assert [countdown for _id, countdown in dispatched.sent] == [None, None]


@pytest.mark.django_db(transaction=True)
def test_a_task_that_must_come_back_goes_through_the_dispatcher(
    face_settings: Any, simulator: Any, dispatched: RecordingDispatcher
) -> None:
    attempt = submit(magic.flaky(1), enqueue=False)
    # The task's body, run here: a transient failure, so it asks for a retry.
    assert tasks.verify_attempt.run(str(attempt.pk)) == "retry"
    assert dispatched.ids == [attempt.pk]
    countdown = dispatched.sent[0][1]
    assert countdown is not None and countdown >= 0.0


def test_the_celery_dispatcher_publishes_the_id_only(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(
        tasks.verify_attempt,
        "apply_async",
        lambda args, **options: published.append((args, options)),
    )
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "CELERY_QUEUE": "faces"}
    attempt_id = uuid.uuid4()
    tasks.CeleryDispatcher().dispatch(attempt_id, 2.5)
    tasks.CeleryDispatcher().dispatch(attempt_id, None)
    assert published == [
        (
            (str(attempt_id),),
            {
                "argsrepr": repr((str(attempt_id),)),
                "kwargsrepr": "{}",
                "countdown": 2.5,
                "queue": "faces",
            },
        ),
        (
            (str(attempt_id),),
            {"argsrepr": repr((str(attempt_id),)), "kwargsrepr": "{}", "queue": "faces"},
        ),
    ]


# --- The services without Celery ------------------------------------------------------------


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved (anywhere in the file)."""
    package = "face_idcard.services"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_imported_modules_resolves_relative_imports(tmp_path: Path) -> None:
    # The check below must see through "from .. import tasks" and "from ..tasks import x".
    sample = tmp_path / "sample.py"
    sample.write_text("from .. import tasks\nfrom ..tasks import verify_attempt\nimport celery\n")
    found = _imported_modules(sample)
    assert {"face_idcard.tasks", "face_idcard.tasks.verify_attempt", "celery"} <= found


@pytest.mark.parametrize("path", sorted(SERVICES.glob("*.py")), ids=lambda path: path.name)
def test_no_service_module_imports_celery_or_the_tasks(path: Path) -> None:
    forbidden = [
        name
        for name in _imported_modules(path)
        if name == "celery"
        or name.startswith("celery.")
        or name == "face_idcard.tasks"
        or name.startswith("face_idcard.tasks.")
    ]
    assert forbidden == []


_WITHOUT_CELERY = textwrap.dedent(
    """
    import sys

    sys.modules["celery"] = None  # "import celery" raises ImportError: as if not installed

    import django
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    django.setup()
    call_command("migrate", verbosity=0)

    from face_idcard import services
    from face_idcard.services import dispatch
    from face_idcard.simulator import magic
    from tests.support import imagefactory

    try:
        dispatch.get_dispatcher()
    except Exception as exc:
        print("no dispatcher:", type(exc).__name__)


    class Recorder:
        def __init__(self):
            self.sent = []

        def dispatch(self, attempt_id, countdown):
            self.sent.append((attempt_id, countdown))


    recorder = Recorder()
    dispatch.set_dispatcher(recorder)
    with transaction.atomic():
        attempt = services.submit(
            idcard_number=magic.MATCH,
            idcard_name="李四",
            image=imagefactory.jpeg(320, 240),
            consent_at=timezone.now(),
        )
    print("sent:", recorder.sent == [(attempt.pk, None)])
    services._common.delete_selfie(attempt.selfie_name, attempt.selfie_storage)
    print("loaded:", sorted(n for n in sys.modules if n == "face_idcard.tasks" or
                            (n.startswith("celery") and sys.modules[n] is not None)))
    """
)


def test_the_services_work_without_celery(tmp_path: Path) -> None:
    script = tmp_path / "without_celery.py"
    script.write_text(_WITHOUT_CELERY, encoding="utf-8")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    env.pop("FACE_IDCARD_TEST_DB", None)  # SQLite in memory: no test database needed
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "no dispatcher: ImproperlyConfigured",
        "sent: True",
        "loaded: []",
    ]
