"""face_idcard._identity: the ID number (its checksum, birth date, region and the minimum age it
implies) and the name as printed on the ID card, as every entry point validates them."""

from __future__ import annotations

import datetime
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone, translation

from face_idcard._identity import (
    check_minimum_age,
    normalize_id_number,
    normalize_name,
    validate_id_number,
    validate_name,
)
from tests.support.idfactory import make_id
from tests.support.validation import error_in_english, error_of, message_in_english, messages

# --- ID numbers ------------------------------------------------------------------------------


def test_generator_agrees_with_published_examples() -> None:
    assert make_id("110105", "19491231", "002") == "11010519491231002X"
    assert make_id("360426", "19910101", "007") == "360426199101010071"


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("360426199101010071", "360426199101010071"),
        ("11010519491231002x", "11010519491231002X"),  # lowercase x
        (" 110105 19491231 002X ", "11010519491231002X"),  # spaces
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),  # full-width
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("\u3000360426199101010071\t", "360426199101010071"),  # ideographic space, tab
        (make_id(birth="20000229"), make_id(birth="20000229")),  # leap day, leap year
        (make_id(birth="19000101", address="110105"), make_id(birth="19000101")),
    ],
)
def test_valid_id_numbers(value: str, normalised: str) -> None:
    assert validate_id_number(value) == normalised


def _tomorrow() -> str:
    return (timezone.localdate() + datetime.timedelta(days=1)).strftime("%Y%m%d")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "id_required"),
        ("   ", "id_required"),
        ("110105491231002", "id_length"),  # old 15-digit number
        ("11010519491231002", "id_length"),
        ("11010519491231002XX", "id_length"),
        ("1101051949123100AX", "id_characters"),
        ("11010519491231002A", "id_characters"),
        ("X10105194912310020", "id_characters"),
        ("110110199909090909", "id_checksum"),  # placeholder in Tencent's docs
        ("11204416541220243X", "id_checksum"),  # placeholder in Tencent's docs
        ("11010519491231002Y".replace("Y", "1"), "id_checksum"),
        ("360426199101010072", "id_checksum"),
        (make_id(birth="19900230"), "id_birth_date"),  # Feb 30
        (make_id(birth="19000229"), "id_birth_date"),  # 1900 is not a leap year
        (make_id(birth="19990229"), "id_birth_date"),
        (make_id(birth="19901301"), "id_birth_date"),  # month 13
        (make_id(birth="19900100"), "id_birth_date"),  # day 0
        (make_id(birth="20991231"), "id_birth_future"),
        (make_id(address="999999"), "id_address"),
        (make_id(address="000000"), "id_address"),
    ],
)
def test_invalid_id_numbers(value: str, code: str) -> None:
    error = error_of(lambda: validate_id_number(value))
    assert error.code == code
    text = " ".join(messages(error))
    assert text
    if value.strip():
        assert value not in text
        assert normalize_id_number(value) not in text
        assert normalize_id_number(value)[6:14] not in text  # not even the birth date


def test_birth_tomorrow_is_future_today_is_not() -> None:
    assert error_of(lambda: validate_id_number(make_id(birth=_tomorrow()))).code == (
        "id_birth_future"
    )
    today = timezone.localdate().strftime("%Y%m%d")
    assert validate_id_number(make_id(birth=today)) == make_id(birth=today)


def test_each_id_rule_has_its_own_message() -> None:
    cases = [
        "",
        "110105491231002",
        "11010519491231002A",
        "110110199909090909",
        make_id(birth="19900230"),
        make_id(birth="20991231"),
        make_id(address="999999"),
    ]
    texts = [messages(error_of(lambda v=v: validate_id_number(v)))[0] for v in cases]
    assert len(set(texts)) == len(cases)


# --- the minimum age ---------------------------------------------------------------------------


def born(years_ago: int, days: int = 0) -> str:
    today = timezone.localdate()
    birthday = today.replace(year=today.year - years_ago, day=min(today.day, 28))
    return make_id(birth=(birthday + timedelta(days=days)).strftime("%Y%m%d"))


@pytest.mark.parametrize(
    ("minimum", "years", "days", "guardian", "refused"),
    [
        (None, 0, 0, False, False),  # unset: no minimum at all, a newborn included
        (0, 0, 0, False, False),
        ("", 0, 0, False, False),
        (14, 14, 0, False, False),  # 14 today
        (14, 14, 1, False, True),  # 14 tomorrow
        (14, 14, 1, True, False),  # a guardian consented
        (14, 30, 0, False, False),
        (18, 17, 0, False, True),
        (18, 18, 0, False, False),
        (1, 0, 0, False, True),
        (1, 1, 0, False, False),
    ],
)
def test_minimum_age(minimum: Any, years: int, days: int, guardian: bool, refused: bool) -> None:
    number = born(years, days)
    with override_settings(FACE_IDCARD={"MIN_AGE_YEARS": minimum}):
        if not refused:
            check_minimum_age(number, guardian_consent=guardian)
            return
        with pytest.raises(ValidationError) as caught, translation.override("en"):
            check_minimum_age(number, guardian_consent=guardian)
    assert caught.value.code == "id_minor"
    with translation.override("en"):
        assert f"younger than {minimum}:" in caught.value.messages[0]


# --- Names -----------------------------------------------------------------------------------

LOOKALIKE_DOTS = ["\u2022", "\uff0e", ".", "\u30fb", "\uff65", "\u2027", "\u22c5"]


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("张三", "张三"),
        ("  欧阳娜娜 ", "欧阳娜娜"),
        ("\u3000王小明\u3000", "王小明"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽 · 买买提", "阿依古丽·买买提"),
        ("𪚥王", "𪚥王"),  # extension B character
        ("李〇", "李〇"),
    ]
    + [(f"阿依古丽{dot}买买提", "阿依古丽\u00b7买买提") for dot in LOOKALIKE_DOTS],
)
def test_valid_names(value: str, normalised: str) -> None:
    assert validate_name(value) == normalised
    assert normalize_name(value) == normalised


def test_nfc_not_nfkc() -> None:
    # A compatibility ideograph has a canonical mapping: NFC already gives the unified one.
    assert normalize_name("张\uf900") == "张\u8c48"
    # Combining sequences are composed.
    assert normalize_name("Jose\u0301") == "Jos\u00e9"
    # Compatibility-only mappings (NFKC) are not applied: full-width Latin, Kangxi radicals.
    assert normalize_name("ｚｈａｎｇ") == "ｚｈａｎｇ"
    assert normalize_name("王\u2f00") == "王\u2f00"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "name_required"),
        ("   ", "name_required"),
        ("张", "name_length"),
        ("张" * 31, "name_length"),
        ("·张三", "name_dots"),
        ("张三·", "name_dots"),
        ("阿依古丽··买买提", "name_dots"),
        ("阿依古丽.•买买提", "name_dots"),  # two different look-alikes make a double dot
        ("张三1", "name_characters"),
        ("张三１", "name_characters"),
        ("ZHANG San", "name_characters"),  # Latin refused by default
        ("张 三", "name_characters"),
        ("张三!", "name_characters"),
        ("丶", "name_length"),  # a Han character, not a dot: fails only on length
    ],
)
def test_invalid_names(value: str, code: str) -> None:
    error = error_of(lambda: validate_name(value))
    assert error.code == code
    text = " ".join(messages(error))
    if value.strip():
        assert value.strip() not in text


def test_latin_names_when_allowed() -> None:
    assert validate_name(" John  SMITH ", allow_latin=True) == "John SMITH"
    with override_settings(FACE_IDCARD={"NAME_ALLOW_LATIN": True}):
        assert validate_name("ZHANG San") == "ZHANG San"
        # The explicit argument wins over the setting.
        assert error_of(lambda: validate_name("ZHANG San", allow_latin=False)).code == (
            "name_characters"
        )
        # Digits are never allowed.
        assert error_of(lambda: validate_name("John 2")).code == "name_characters"


def test_name_length_from_settings() -> None:
    with override_settings(FACE_IDCARD={"NAME_MIN_CHARS": 3, "NAME_MAX_CHARS": 4}):
        assert error_of(lambda: validate_name("张三")).code == "name_length"
        assert validate_name("张三丰") == "张三丰"
        error = error_of(lambda: validate_name("阿依古丽·买买提"))
        assert error.code == "name_length"
        assert "3" in messages(error)[0] and "4" in messages(error)[0]


@pytest.mark.parametrize(
    ("length", "valid"), [(1, False), (2, True), (3, True), (29, True), (30, True), (31, False)]
)
def test_name_length_at_the_default_limits(length: int, valid: bool) -> None:
    name = "张" * length
    if valid:
        assert validate_name(name) == name
    else:
        error = error_in_english(lambda: validate_name(name))
        assert error.code == "name_length"
        assert message_in_english(error) == "The name must have from 2 to 30 characters."


@pytest.mark.parametrize(
    "dot",
    ["\u00b7", "\u2022", "\uff0e", ".", "\u30fb", "\uff65", "\u2027", "\u22c5", "\u2219", "\u0387"],
)
def test_every_look_alike_dot_becomes_the_middle_dot(dot: str) -> None:
    assert validate_name(f"阿依古丽{dot}买买提") == "阿依古丽\u00b7买买提"


@pytest.mark.parametrize("not_a_dot", ["\u4e36", "-", "_", "\u3002"])
def test_other_marks_are_not_taken_for_the_dot(not_a_dot: str) -> None:
    if not_a_dot == "\u4e36":  # 丶 is a Han character: a valid (if odd) part of a name
        assert validate_name(f"阿{not_a_dot}买") == f"阿{not_a_dot}买"
    else:
        assert error_in_english(lambda: validate_name(f"阿{not_a_dot}买")).code == "name_characters"
