"""face_idcard._textfields: the free-text fields of a submission are text, and no longer than
their column, with a message that names the field, as tables."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from face_idcard._textfields import validate_text_length


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", None),
        ("abcd", None),
        ("abcde", "text_length"),
        ("张三李四", None),
        (None, "text_type"),
        (12, "text_type"),
        (b"ab", "text_type"),
    ],
)
def test_text_length_table(value: object, code: str | None) -> None:
    if code is None:
        assert validate_text_length(value, field="Reference", max_length=4) == value
        return
    with pytest.raises(ValidationError) as info:
        validate_text_length(value, field="Reference", max_length=4)
    assert info.value.code == code
    with translation.override("en"):
        message = str(info.value.messages[0])
    expected = {
        "text_length": "Reference is too long: at most 4 characters.",
        "text_type": "Reference must be text.",
    }
    assert message == expected[code]


@pytest.mark.parametrize(
    ("value", "code"),
    [("", None), ("a" * 5, None), ("a" * 6, "text_length"), (5, "text_type"), (None, "text_type")],
)
def test_text_length(value: Any, code: str | None) -> None:
    if code is None:
        assert validate_text_length(value, field="Reference", max_length=5) == value
        return
    with pytest.raises(ValidationError) as caught, translation.override("en"):
        validate_text_length(value, field="Reference", max_length=5)
    assert caught.value.code == code
    with translation.override("en"):
        assert "Reference" in caught.value.messages[0]
        if code == "text_length":
            assert "at most 5 characters" in caught.value.messages[0]
