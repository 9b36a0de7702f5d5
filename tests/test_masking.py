"""face_idcard.masking: what a person's ID number and name look like on screen."""

from __future__ import annotations

import pytest

from face_idcard.masking import mask_id_number, mask_name


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
