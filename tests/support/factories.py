"""Factories for the tests: one way to submit an attempt through the service, one way to store
an attempt's row directly. A module that needs other defaults (a name of its own, a smaller
photo, no enqueue) passes them as keywords, e.g. through ``functools.partial``; a module
that needs a row in some state after the submit passes ``update=``. Helpers outside this
package do not call ``services.submit`` themselves (tests/site/test_test_helpers.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from face_idcard import services
from face_idcard.models import VerificationAttempt
from face_idcard.simulator import magic
from tests.support import imagefactory

NAME = "张三"
IMAGE = imagefactory.jpeg(320, 240)


def submit_attempt(
    number: str = magic.MATCH, *, update: Mapping[str, Any] | None = None, **kw: Any
) -> VerificationAttempt:
    """``services.submit`` for ``number`` with a name, a photo and consent given now; any
    keyword overrides those or adds another argument (``enqueue=False``, ``user=``...; a
    ``url=`` needs ``image=None``).

    ``update``: fields then written onto the stored row with ``QuerySet.update`` (no
    ``save()``, no signal, no event), and the attempt read back (also for ``{}``): a row in
    a state the test sets up without running the pipeline (``{"status": "completed"}``)."""
    params: dict[str, Any] = {
        "idcard_number": number,
        "idcard_name": NAME,
        "image": IMAGE,
        "consent_at": timezone.now(),
    }
    params.update(kw)
    attempt = services.submit(**params)
    if update is not None:
        VerificationAttempt.objects.filter(pk=attempt.pk).update(**update)
        attempt.refresh_from_db()
    return attempt


def make_attempt(**fields: Any) -> VerificationAttempt:
    """An attempt's row stored as is (no validation, no service), on the simulator backend
    with consent given now unless ``fields`` say otherwise."""
    values: dict[str, Any] = {"backend": "simulator", "consent_at": timezone.now()}
    values.update(fields)
    return VerificationAttempt.objects.create(**values)


def finished_attempt(number: str = magic.MATCH, **kw: Any) -> VerificationAttempt:
    """:func:`submit_attempt` without a message, then one run of the pipeline in this process
    (against the simulator the settings name): the attempt as the provider left it."""
    from face_idcard.services import _pipeline

    attempt = submit_attempt(number, **{"enqueue": False, **kw})
    _pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    return attempt
