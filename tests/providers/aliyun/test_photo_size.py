"""Alibaba Cloud's smallest photo (640 x 480, document 163107) is refused before any call:
a clear error in both languages, nothing stored, nothing sent, nothing billed."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from face_idcard.models import VerificationAttempt
from face_idcard.simulator import SimulatorServer, magic
from tests.providers.aliyun.helpers import submit, use_aliyun
from tests.support import imagefactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "size", [(300, 400), (479, 700), (470, 630), (500, 500), (639, 480)], ids=str
)
def test_a_photo_under_the_box_is_refused_before_any_call(
    settings: Any, simulator: SimulatorServer, size: tuple[int, int]
) -> None:
    use_aliyun(settings, simulator)
    with pytest.raises(ValidationError) as refused:
        submit(magic.MATCH, image=imagefactory.jpeg(*size), enqueue=False)
    assert refused.value.code == "image_too_small_box"
    with translation.override("en"):
        assert "at least 640 by 480 pixels" in refused.value.messages[0]
    with translation.override("zh-hans"):
        assert "640 × 480" in refused.value.messages[0]
    assert not VerificationAttempt.objects.exists()
    assert simulator.ledger.calls() == []


@pytest.mark.parametrize("size", [(480, 640), (640, 480), (1200, 1600)], ids=str)
def test_a_photo_within_the_box_is_accepted(
    settings: Any, simulator: SimulatorServer, size: tuple[int, int]
) -> None:
    use_aliyun(settings, simulator)
    attempt = submit(magic.MATCH, image=imagefactory.jpeg(*size), enqueue=False)
    assert VerificationAttempt.objects.filter(pk=attempt.pk).exists()


def test_other_providers_keep_the_sites_minimum(settings: Any) -> None:
    """The box is Alibaba Cloud's: the site-wide default alias takes a 300 x 400 photo."""
    attempt = submit(magic.MATCH, image=imagefactory.jpeg(300, 400), enqueue=False)
    assert attempt.pk is not None
