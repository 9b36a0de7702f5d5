"""The neutral outcome (face_idcard/outcome.py) as behaviour: what each class and reason means
to a caller, how a catalogue looks codes up, the shared pseudo-codes, and what an outcome
shows, compares and hashes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from face_idcard import outcome
from face_idcard.outcome import (
    GENERIC,
    Catalogue,
    CodeInfo,
    ErrorClass,
    ProviderOutcome,
    Reason,
    normalise_code,
)

#: ErrorClass -> retried automatically? (transient with backoff, re-sign once, url once).
RETRYABLE = {
    ErrorClass.SUCCESS: False,
    ErrorClass.TRANSIENT: True,
    ErrorClass.RESIGN: True,
    ErrorClass.URL_FETCH: True,
    ErrorClass.CONFIGURATION: False,
    ErrorClass.INPUT: False,
    ErrorClass.UNKNOWN: False,
}

#: Reason -> can the person get another result by trying again with other input?
USER_FIXABLE = {
    Reason.MATCH: False,  # nothing to fix
    Reason.LOW_SIMILARITY: True,  # another photo
    Reason.NAME_MISMATCH: True,  # a typo in the name
    Reason.ID_NOT_FOUND: False,  # the registry has no such person
    Reason.NO_REGISTRY_PHOTO: False,  # the registry's photo, not theirs
    Reason.NO_FACE: True,
    Reason.MULTIPLE_FACES: True,
    Reason.POOR_QUALITY: True,
    Reason.SPOOF_SUSPECTED: False,  # never invite another try at a suspected spoof
    Reason.LIVENESS_UNVERIFIED: False,  # a check that failed is not the person's to fix
    Reason.IMAGE_UNREADABLE: True,
    Reason.IMAGE_FETCH_FAILED: True,
    Reason.INVALID_INPUT: True,
    Reason.RATE_LIMITED: False,
    Reason.PROVIDER_UNAVAILABLE: False,
    Reason.SIGNATURE_REJECTED: False,
    Reason.ACCOUNT_PROBLEM: False,
    Reason.CONFIGURATION: False,
    Reason.INTERNAL: False,
    Reason.UNKNOWN: False,
}


def test_the_tables_name_every_member() -> None:
    assert set(RETRYABLE) == set(ErrorClass)
    assert set(USER_FIXABLE) == set(Reason)


@pytest.mark.parametrize(("error_class", "retryable"), RETRYABLE.items())
def test_which_classes_are_retried(error_class: ErrorClass, retryable: bool) -> None:
    assert error_class.retryable is retryable
    assert make(error_class=error_class).retryable is retryable


@pytest.mark.parametrize(("reason", "fixable"), USER_FIXABLE.items())
def test_which_reasons_the_person_can_fix(reason: Reason, fixable: bool) -> None:
    assert reason.user_fixable is fixable
    assert make(reason=reason).user_fixable is fixable


INFO = CodeInfo("42", ErrorClass.INPUT, Reason.NO_FACE, False, "无人脸", "No face")


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("zh-hans", "无人脸"),
        ("zh_Hans", "无人脸"),
        ("ZH-HANS", "无人脸"),
        ("zh", "无人脸"),
        ("zh-cn", "无人脸"),
        ("zh-hant", "无人脸"),
        ("en", "No face"),
        ("en-us", "No face"),
        ("fr", "No face"),
        ("", "No face"),
        (None, "No face"),
        ("de-zh", "No face"),  # the language is the first part
    ],
)
def test_meaning_by_language(language: str | None, text: str) -> None:
    assert INFO.message(language) == text


def test_code_info_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        INFO.billable = True  # type: ignore[misc]
    assert hash(INFO) == hash(CodeInfo(*dataclasses.astuple(INFO)))


@pytest.mark.parametrize(
    ("code", "key"),
    [
        (None, ""),
        ("", ""),
        (0, "0"),
        (15, "15"),
        (-5803, "-5803"),
        ("-5803", "-5803"),
        (" -5803\n", "-5803"),
        ("FailedOperation.X ", "FailedOperation.X"),
    ],
)
def test_normalise_code(code: int | str | None, key: str) -> None:
    assert normalise_code(code) == key


FALLBACK = Catalogue([CodeInfo("t", ErrorClass.TRANSIENT, Reason.INTERNAL, None, "超时", "T")])
OWN = CodeInfo("1", ErrorClass.INPUT, Reason.NO_FACE, True, "一", "One")
SHADOW = CodeInfo("t", ErrorClass.INPUT, Reason.POOR_QUALITY, False, "影", "Shadow")


@pytest.mark.parametrize("fallback", [None, FALLBACK])
@pytest.mark.parametrize(
    ("code", "own", "from_fallback"),
    [
        (1, True, False),
        ("1", True, False),
        (" 1 ", True, False),
        ("t", False, True),
        ("2", False, False),
        (None, False, False),
    ],
)
def test_catalogue_lookup(
    fallback: Catalogue | None, code: int | str | None, own: bool, from_fallback: bool
) -> None:
    catalogue = Catalogue([OWN], fallback=fallback)
    found = catalogue.lookup(code)
    if own:
        assert found is OWN
        assert code in catalogue
    elif from_fallback and fallback is not None:
        assert found is fallback.entries["t"]
        assert code in catalogue
    else:
        assert found == outcome.unknown_code(normalise_code(code))
        assert code not in catalogue


def test_unknown_code_entry() -> None:
    info = outcome.unknown_code("77")
    assert (info.code, info.error_class, info.reason, info.billable) == (
        "77",
        ErrorClass.UNKNOWN,
        Reason.UNKNOWN,
        None,
    )
    assert "77" in info.zh_hans and "77" in info.en


def test_an_own_entry_shadows_the_fallback() -> None:
    catalogue = Catalogue([OWN, SHADOW], fallback=FALLBACK)
    assert catalogue.lookup("t") is SHADOW
    # Its own entries only: the fallback is consulted, not merged.
    assert len(catalogue) == 2
    assert list(catalogue) == [OWN, SHADOW]
    assert dict(catalogue.entries) == {"1": OWN, "t": SHADOW}
    with pytest.raises(TypeError):
        catalogue.entries["x"] = OWN  # type: ignore[index]


def test_an_empty_catalogue_knows_nothing() -> None:
    catalogue = Catalogue([])
    assert len(catalogue) == 0 and list(catalogue) == []
    assert "0" not in catalogue
    assert catalogue.lookup("0").error_class is ErrorClass.UNKNOWN


#: The shared pseudo-codes: class, reason, billable (None: cannot be known).
PSEUDO = {
    # Tencent may have finished, and charged, the call after we stopped waiting.
    outcome.TRANSPORT_TIMEOUT: (ErrorClass.TRANSIENT, Reason.PROVIDER_UNAVAILABLE, None),
    # Nothing reached the provider.
    outcome.TRANSPORT_CONNECTION: (ErrorClass.TRANSIENT, Reason.PROVIDER_UNAVAILABLE, False),
    # A body that is not the API's: no comparison was reported.
    outcome.TRANSPORT_BAD_RESPONSE: (ErrorClass.TRANSIENT, Reason.PROVIDER_UNAVAILABLE, False),
    # Our side, before any call.
    outcome.INTERNAL_ERROR: (ErrorClass.UNKNOWN, Reason.INTERNAL, False),
    outcome.INTERNAL_PII_UNREADABLE: (ErrorClass.CONFIGURATION, Reason.CONFIGURATION, False),
    outcome.INTERNAL_BACKEND_UNAVAILABLE: (ErrorClass.CONFIGURATION, Reason.CONFIGURATION, False),
    # The consent does not name the alias's recipient: refused before the call.
    outcome.INTERNAL_CONSENT_NOT_COVERING: (ErrorClass.CONFIGURATION, Reason.CONFIGURATION, False),
    # The worker died somewhere around the call.
    outcome.INTERNAL_WORKER_LOST: (ErrorClass.UNKNOWN, Reason.INTERNAL, None),
}


def test_generic_holds_exactly_the_pseudo_codes() -> None:
    assert set(GENERIC.entries) == set(PSEUDO)


@pytest.mark.parametrize(("code", "flags"), PSEUDO.items())
def test_each_pseudo_code(code: str, flags: tuple[ErrorClass, Reason, bool | None]) -> None:
    info = GENERIC.lookup(code)
    assert (info.error_class, info.reason, info.billable) == flags
    assert info.zh_hans and info.en


def make(**fields: Any) -> ProviderOutcome:
    values: dict[str, Any] = {
        "code": "1",
        "error_class": ErrorClass.SUCCESS,
        "reason": Reason.MATCH,
        "billable": True,
        "description": OWN,
        **fields,
    }
    return ProviderOutcome(**values)


@pytest.mark.parametrize(
    ("error_class", "similarity", "usable"),
    [
        (ErrorClass.SUCCESS, 80.0, True),
        (ErrorClass.SUCCESS, 0.0, True),
        (ErrorClass.SUCCESS, None, False),
        (ErrorClass.INPUT, 80.0, False),
        (ErrorClass.UNKNOWN, None, False),
    ],
)
def test_usable_is_a_success_with_a_score(
    error_class: ErrorClass, similarity: float | None, usable: bool
) -> None:
    assert make(error_class=error_class, similarity=similarity).usable is usable


def test_what_an_outcome_shows_compares_and_hashes() -> None:
    one = make(message="provider echo 110105", raw={"echo": "secret-raw"}, similarity=88.0)
    text = repr(one)
    # The provider's message, body and the catalogue's texts stay out of the repr.
    assert "110105" not in text and "secret-raw" not in text and "One" not in text
    assert "88.0" in text and "'1'" in text
    # The raw body is neither compared nor hashed (a dict is unhashable).
    other = dataclasses.replace(one, raw={"echo": "another"})
    assert one == other and hash(one) == hash(other)
    assert one != dataclasses.replace(one, similarity=87.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.similarity = 99.0  # type: ignore[misc]


CATALOGUE = Catalogue([OWN], fallback=GENERIC)


@pytest.mark.parametrize(
    ("code", "override", "error_class", "reason", "billable"),
    [
        (1, None, ErrorClass.INPUT, Reason.NO_FACE, True),
        ("1", ErrorClass.URL_FETCH, ErrorClass.URL_FETCH, Reason.NO_FACE, True),
        (outcome.TRANSPORT_TIMEOUT, None, ErrorClass.TRANSIENT, Reason.PROVIDER_UNAVAILABLE, None),
        ("nope", None, ErrorClass.UNKNOWN, Reason.UNKNOWN, None),
        ("nope", ErrorClass.INPUT, ErrorClass.INPUT, Reason.UNKNOWN, None),
    ],
)
def test_from_code(
    code: int | str,
    override: ErrorClass | None,
    error_class: ErrorClass,
    reason: Reason,
    billable: bool | None,
) -> None:
    result = ProviderOutcome.from_code(
        CATALOGUE, code, error_class=override, similarity=12.5, session_id="s"
    )
    assert result.code == normalise_code(code)
    assert (result.error_class, result.reason, result.billable) == (error_class, reason, billable)
    assert result.description == CATALOGUE.lookup(code)
    assert (result.similarity, result.session_id) == (12.5, "s")
