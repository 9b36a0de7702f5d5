"""Every setting declared once (face_idcard/settings_spec.py), and what is generated from it.

The declarations give the lazy settings object its defaults and the system checks their type
and range rules; a key nobody declares is an Error (E019 site-wide, E018 in an alias) whose
hint names the key that was probably meant. These tests hold the declarations to themselves
(each default allowed, each doc written and translated) and the generated checks to the
declarations, both ways: a value out of range fires the declared id, one inside does not.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings
from django.utils import translation

from face_idcard import _settings_history as settings_history
from face_idcard import settings_spec
from face_idcard.backends import backend_class
from face_idcard.conf import DEFAULTS
from face_idcard.providers import BUILTIN_BACKENDS
from face_idcard.settings_spec import SETTINGS
from tests.support.checks import BASE, LEGACY, check_ids

FACEID = {"BACKEND": "faceid", "SECRET_ID": "AKIDexample", "SECRET_KEY": "example-secret"}
ALIYUN = {
    "BACKEND": "aliyun",
    "ACCESS_KEY_ID": "LTAIexample",
    "ACCESS_KEY_SECRET": "example-secret",
    "SCENE_ID": "1000000000",
}


def messages(**overrides: object) -> list[Any]:
    with override_settings(FACE_IDCARD=BASE | overrides):
        return [
            m
            for m in run_checks(tags=["face_idcard"], include_deployment_checks=True)
            if m.id and m.id.startswith("face_idcard")
        ]


def all_options() -> list[tuple[str, str, Any]]:
    return [
        (name, key, option)
        for name, path in BUILTIN_BACKENDS.items()
        for key, option in backend_class(name).options.items()
    ]


# --- The declarations themselves -------------------------------------------------------------


def test_the_defaults_are_the_declarations() -> None:
    assert list(DEFAULTS) == [setting.name for setting in SETTINGS]
    assert len({setting.name for setting in SETTINGS}) == len(SETTINGS), "a key declared twice"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_each_setting_allows_its_default_and_has_a_doc_in_both_languages(
    setting: settings_spec.Setting,
) -> None:
    assert setting.accepts(setting.default), f"{setting.name}'s default is not allowed"
    english = str(setting.doc)
    assert english.endswith("."), setting.name
    with translation.override("zh-hans"):
        chinese = str(setting.doc)
        section = str(setting.section)
    assert chinese != english, f"{setting.name}'s doc has no zh-hans translation"
    assert section != str(setting.section), f"{setting.name}'s section is not translated"


@pytest.mark.parametrize(
    ("backend", "key", "option"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in all_options()],
)
def test_each_backend_option_allows_its_default_and_has_a_doc(
    backend: str, key: str, option: Any
) -> None:
    if option.default not in (None, ""):
        assert option.accepts(option.default), f"{backend}'s {key} default is not allowed"
    assert str(option.doc), f"{backend}'s {key} has no doc"
    with translation.override("zh-hans"):
        chinese = str(option.doc)
    assert chinese != str(option.doc), f"{backend}'s {key} doc has no zh-hans translation"


def test_the_secret_declarations_are_the_keys() -> None:
    secrets = {setting.name for setting in SETTINGS if setting.secret}
    assert secrets == {"PII_ENCRYPTION_KEYS", "PII_HASH_KEYS", "IDEMPOTENCY_KEY"}
    assert {(b, k) for b, k, o in all_options() if o.secret} >= {
        ("faceid", "SECRET_KEY"),
        ("aliyun", "ACCESS_KEY_SECRET"),
        ("legacy", "SECRET_KEY"),
    }


# --- The generated checks --------------------------------------------------------------------


def out_of_range(setting: settings_spec.Setting) -> object:
    """A value the declaration refuses."""
    if setting.choices:
        return "no-such-choice"
    if setting.maximum is not None:
        return setting.maximum + 1
    if setting.minimum is not None and not setting.type.is_list:
        return setting.minimum - 1
    return object()  # of no declared type


@pytest.mark.parametrize(
    "setting", [s for s in SETTINGS if s.type is not settings_spec.ANY], ids=lambda s: s.name
)
def test_a_value_out_of_its_declaration_fires_the_declared_check(
    setting: settings_spec.Setting,
) -> None:
    bad = out_of_range(setting)
    found = [m for m in messages(**{setting.name: bad}) if m.id == setting.check]
    assert found, f"{setting.name}={bad!r} should fire {setting.check}"
    assert any(f"['{setting.name}']" in m.msg for m in found)
    if setting.secret:
        assert all(repr(bad) not in m.msg for m in found), "a secret's value was shown"


def test_a_generated_message_says_what_the_value_must_be() -> None:
    (message,) = [m for m in messages(ABUSE_WINDOW_HOURS=0) if m.id == "face_idcard.E010"]
    assert message.msg == (
        "FACE_IDCARD['ABUSE_WINDOW_HOURS'] is 0; it must be a whole number >= 1 (hours)."
    )
    (message,) = [m for m in messages(ADMIN_ID_SEARCH_RATE="often") if m.id == "face_idcard.E021"]
    assert "None or a rate" in message.msg


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("LIVENESS", "Record"),  # words are compared without case, as the pipeline reads them
        ("ADMIN_ID_SEARCH_RATE", None),
        ("ADMIN_ID_SEARCH_RATE", "5/minute"),
        ("WEBHOOK_RETRY_SCHEDULE_SECONDS", [1, 2.5]),
        ("URL_RESOLVER", "socket.gethostbyname_ex"),
        ("THRESHOLD", 0),
    ],
)
def test_a_value_inside_its_declaration_fires_nothing(key: str, value: object) -> None:
    assert check_ids(**{key: value}) == set()


def test_an_alias_generic_key_is_checked_against_the_same_declaration() -> None:
    alias = {"BACKENDS": {"default": {**LEGACY, "READ_TIMEOUT_SECONDS": "15"}}}
    (message,) = [m for m in messages(**alias) if m.id == "face_idcard.E007"]
    assert message.msg.startswith(
        "FACE_IDCARD['BACKENDS']['default']['READ_TIMEOUT_SECONDS'] is '15'"
    )


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({**ALIYUN, "MODEL": "SIDE_CAMERA"}, "MODEL"),
        ({**ALIYUN, "THRESHOLD_POLICY": "vote"}, "THRESHOLD_POLICY"),
        ({**FACEID, "PRECHECK_RATE_LIMIT_PER_SECOND": 0}, "PRECHECK_RATE_LIMIT_PER_SECOND"),
        ({**FACEID, "LIVENESS_PRECHECK": "no"}, "LIVENESS_PRECHECK"),
        ({**LEGACY, "SIGNATURE_LIFETIME_SECONDS": "300"}, "SIGNATURE_LIFETIME_SECONDS"),
    ],
)
def test_a_backend_option_out_of_its_declaration_is_e017(
    entry: dict[str, object], key: str
) -> None:
    found = [m for m in messages(BACKENDS={"default": entry}) if m.id == "face_idcard.E017"]
    assert any(f"['{key}'] must be" in m.msg for m in found), [m.msg for m in found]


def test_a_secret_option_out_of_its_declaration_never_shows_its_value() -> None:
    entry = {**FACEID, "SECRET_KEY": 12345678987654321}
    found = [m for m in messages(BACKENDS={"default": entry}) if m.id == "face_idcard.E017"]
    assert found and all("12345678987654321" not in f"{m.msg} {m.hint}" for m in found)


# --- Keys nobody declares ------------------------------------------------------------------


def test_an_undeclared_key_is_an_error_suggesting_the_closest_name() -> None:
    (message,) = [m for m in messages(REVIEW_BNAD=3) if m.id == "face_idcard.E019"]
    assert message.is_serious()
    assert "'REVIEW_BNAD'" in message.msg
    assert "Did you mean REVIEW_BAND?" in message.hint
    # Keys only: the value is never quoted (it may be a secret pasted at the wrong place).
    (message,) = [m for m in messages(PII_HASH_KEY=["s3cr3t-value"]) if m.id == "face_idcard.E019"]
    assert "s3cr3t-value" not in f"{message.msg} {message.hint}"
    assert "PII_HASH_KEYS" in message.hint


def test_an_undeclared_key_far_from_any_name_says_where_the_keys_are_listed() -> None:
    (message,) = [m for m in messages(ZZZ_QQQ=1) if m.id == "face_idcard.E019"]
    assert "Did you mean" not in message.hint and "settings reference" in message.hint


def test_a_removed_key_says_where_it_went() -> None:
    (message,) = [m for m in messages(APPID="1") if m.id == "face_idcard.E019"]
    assert "APPID was removed" in message.hint and "BACKENDS" in message.hint


def test_an_undeclared_alias_key_suggests_the_closest_option() -> None:
    entry = {**ALIYUN, "ACCESS_KEY_SECRT": "x"}
    (message,) = [m for m in messages(BACKENDS={"default": entry}) if m.id == "face_idcard.E018"]
    assert "Did you mean ACCESS_KEY_SECRET?" in message.hint


@pytest.mark.parametrize(("old", "new"), sorted(settings_history.RENAMED.items()))
def test_an_old_name_is_an_error_naming_the_new_one(old: str, new: str) -> None:
    hint = f"{old} was renamed to {new}"
    if new in settings_spec.BY_NAME:
        found = [m for m in messages(**{old: 1}) if m.id == "face_idcard.E019"]
    else:  # a backend's option
        entry = {**LEGACY, old: 1}
        found = [m for m in messages(BACKENDS={"default": entry}) if m.id == "face_idcard.E018"]
    assert [m for m in found if hint in (m.hint or "")], [m.hint for m in found]
