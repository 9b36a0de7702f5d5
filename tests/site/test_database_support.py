"""The databases the app supports (SQLite, PostgreSQL, MySQL/MariaDB), and the system check
(face_idcard.E020) that names the engine of any other one its tables may live in."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.checks import run_checks
from django.db import connection
from django.test import override_settings

from face_idcard.checks import SUPPORTED_DATABASE_VENDORS


class AppElsewhere:
    """A router that keeps face_idcard's tables out of the database "other"."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if (db, app_label) == ("other", "face_idcard") else None


@pytest.fixture
def quiet() -> Iterator[None]:
    # Django warns that overriding DATABASES changes no open connection: the check reads the
    # setting, never a connection.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Overriding setting DATABASES")
        yield


def engine_errors(**databases: dict[str, Any]) -> list[str]:
    with override_settings(DATABASES={**databases}):
        return [m.msg for m in run_checks(tags=["face_idcard"]) if m.id == "face_idcard.E020"]


def test_the_database_of_this_run_is_supported() -> None:
    assert connection.vendor in SUPPORTED_DATABASE_VENDORS
    assert [m for m in run_checks(tags=["face_idcard"]) if m.id == "face_idcard.E020"] == []


@pytest.mark.usefixtures("quiet")
@pytest.mark.parametrize(
    "engine",
    [
        "django.db.backends.sqlite3",
        "django.db.backends.postgresql",
        "django.db.backends.mysql",
        "tests.support.sqlite_based_backend",
    ],
)
def test_supported_engines_and_those_built_on_them_pass(engine: str) -> None:
    assert engine_errors(default={"ENGINE": engine, "NAME": "x"}) == []


@pytest.mark.usefixtures("quiet")
def test_an_unsupported_engine_is_an_error_that_names_it() -> None:
    (message,) = engine_errors(
        default={"ENGINE": "django.db.backends.sqlite3", "NAME": "x"},
        reports={"ENGINE": "django.db.backends.dummy"},
    )
    assert "'reports'" in message and "'django.db.backends.dummy'" in message
    # No ENGINE at all is Django's dummy backend: no database the app can run on.
    assert len(engine_errors(default={})) == 1


@pytest.mark.usefixtures("quiet")
def test_a_database_the_routers_keep_the_app_out_of_is_not_checked() -> None:
    with override_settings(DATABASE_ROUTERS=[AppElsewhere()]):
        assert (
            engine_errors(
                default={"ENGINE": "django.db.backends.sqlite3", "NAME": "x"},
                other={"ENGINE": "django.db.backends.dummy"},
            )
            == []
        )
