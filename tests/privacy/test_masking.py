"""face_idcard._masking: what a person's ID number and name look like on screen."""

from __future__ import annotations

from typing import Any

import pytest

from face_idcard._masking import mask_id_number, mask_name


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("11010519491231002X", "1101**********002X"),
        ("360426199101010071", "3604**********0071"),
        ("110105491231002", "***************"),  # old 15-digit number: nothing shown
        ("11010519491231002", "*****************"),  # one short
        ("11010519491231002XX", "*******************"),  # one long
        ("", ""),
    ],
)
def test_mask_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


def test_masked_id_number_hides_the_birth_date() -> None:
    masked = mask_id_number("11010519491231002X")
    assert "19491231" not in masked
    assert "1949" not in masked
    assert len(masked) == 18


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜", "欧**"),
        ("欧阳娜娜", "欧***"),
        ("阿依古丽·买买提", "阿***·***"),
        ("买买提·艾力·阿不都", "买**·**·***"),
        ("王", "*"),
        ("", ""),
        ("JOHN SMITH", "J*********"),
    ],
)
def test_mask_name(value: str, masked: str) -> None:
    assert mask_name(value) == masked


def test_the_simulator_ledger_masks_with_the_apps_rule(simulator: Any) -> None:
    """One rule: the ledger showed 3+4 characters (``110***********0014``), the app 4+4."""
    from face_idcard.providers.legacy.client import IdCardCompareClient
    from face_idcard.simulator import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, magic
    from tests.support import imagefactory

    with IdCardCompareClient(
        DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, endpoint=simulator.base_url
    ) as client:
        client.compare(magic.MATCH, "张三", image=imagefactory.jpeg(320, 240))
    (call,) = simulator.ledger.calls()
    assert call.idcard_masked == mask_id_number(magic.MATCH)
    assert (
        call.idcard_masked.startswith(magic.MATCH[:4])
        and magic.MATCH[6:14] not in call.idcard_masked
    )


def test_masking_and_the_simulator_import_no_django() -> None:
    """The simulator runs without Django; the masking module it uses must not pull it in."""
    import subprocess
    import sys

    code = (
        "import sys; import face_idcard._masking, face_idcard.simulator.registry, "
        "face_idcard.simulator.ledger; "
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
