"""The docs and conf.py say what the code does: service signatures and system check ids.

Both drifted before (``redact(attempt, reason=...)`` was a TypeError; conf.py named E004 for
the PII key check, which is E005). Each test reads the document and compares with the code.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import override_settings

from face_idcard import services
from tests.support.checks import check_ids
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
LIFECYCLE = (ROOT / "docs" / "topics" / "lifecycle.rst").read_text(encoding="utf-8")
CONFIGURATION = (ROOT / "docs" / "topics" / "configuration.rst").read_text(encoding="utf-8")
PACKAGE = ROOT / "face_idcard"
CHECK_ID = re.compile(r"face_idcard\.([EW]\d{3})")

DOCUMENTED_SERVICES = ("submit", "review", "cancel", "redact", "reveal_pii")


def bare_signature(function: Any) -> str:
    """``name(a, *, b=None)``: the signature as a caller writes it, without annotations."""
    signature = inspect.signature(function)
    parameters = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
    bare = signature.replace(parameters=parameters, return_annotation=signature.empty)
    return f"{function.__name__}{bare}"


@pytest.mark.parametrize("name", DOCUMENTED_SERVICES)
def test_the_lifecycle_page_gives_each_service_signature_as_in_the_code(name: str) -> None:
    line = bare_signature(getattr(services, name))
    assert f"\n    {line}\n" in LIFECYCLE, f"docs/topics/lifecycle.rst should list {line}"


@dataclass(frozen=True)
class Scenario:
    """Settings that make a check fire, and the key they break (None: no single key)."""

    key: str | None
    overrides: dict[str, Any]
    django: dict[str, Any] = field(default_factory=dict)
    #: For a database check: stores the rows it reads (the check then reads the database).
    rows: Callable[[], None] | None = None


def register_rows(key_id: str, people: int) -> Callable[[], None]:
    """The filing register's count of ``people`` under the hash key ``key_id``."""

    def store() -> None:
        from face_idcard.models import FilingCount

        FilingCount.objects.create(hash_key_id=key_id, shard=0, people=people)

    return store


FACEID = {"BACKEND": "faceid", "SECRET_ID": "AKIDexample", "SECRET_KEY": "example-secret"}

LEGACY = {"BACKEND": "legacy", "APPID": "1", "SECRET_ID": "id", "SECRET_KEY": "key"}

SCENARIOS: dict[str, Scenario] = {
    "E001": Scenario("BACKEND", {"BACKENDS": {"default": {**LEGACY, "BACKEND": "nope"}}}),
    "E002": Scenario("SECRET_KEY", {"BACKENDS": {"default": {**LEGACY, "SECRET_KEY": ""}}}),
    "E003": Scenario("THRESHOLD", {"THRESHOLD": 101}),
    "E004": Scenario("REVIEW_BAND", {"REVIEW_BAND": -1}),
    "E005": Scenario("PII_ENCRYPTION_KEYS", {"PII_ENCRYPTION_KEYS": []}, {"DEBUG": False}),
    "E006": Scenario("PII_ENCRYPTION_KEYS", {"PII_ENCRYPTION_KEYS": ["short"]}),
    "E007": Scenario("READ_TIMEOUT_SECONDS", {"READ_TIMEOUT_SECONDS": 0}),
    "E008": Scenario("PII_RETENTION_DAYS", {"PII_RETENTION_DAYS": -3}),
    "E009": Scenario("LOST_CALL_POLICY", {"LOST_CALL_POLICY": "retry"}),
    "E010": Scenario("RETRY_MAX_COUNT", {"RETRY_MAX_COUNT": -1}),
    "E011": Scenario("CLAIM_LEASE_SECONDS", {"CLAIM_LEASE_SECONDS": 10}),
    "E012": Scenario("RATE_LIMIT_PER_SECOND", {"RATE_LIMIT_PER_SECOND": 0}),
    "E013": Scenario("RATE_LIMIT_CACHE", {"RATE_LIMIT_PER_SECOND": 20, "RATE_LIMIT_CACHE": "nope"}),
    "E014": Scenario("SELFIE_STORAGE", {"SELFIE_STORAGE": "nope"}),
    "E015": Scenario("PII_HASH_KEYS", {"PII_HASH_KEYS": []}, {"DEBUG": False}),
    "E016": Scenario("PII_HASH_KEYS", {"PII_HASH_KEYS": [{"id": "a"}]}),
    "E017": Scenario(
        "ENCRYPTION_PUBLIC_KEY",
        {"BACKENDS": {"default": {**FACEID, "ENCRYPTION_PUBLIC_KEY": "not a key"}}},
    ),
    "E018": Scenario(
        "BACKENDS", {"BACKENDS": {"default": {"BACKEND": "simulator", "SECRET_KY": "x"}}}
    ),
    "E030": Scenario(
        "ALLOW_DEVELOPMENT_BACKENDS",
        {"BACKENDS": {"default": {"BACKEND": "simulator"}}},
        {"DEBUG": False, "SILENCED_SYSTEM_CHECKS": []},
    ),
    "E031": Scenario(
        None, {"PII_HASH_KEYS": ["demo-only-hash-key-never-in-production"]}, {"DEBUG": False}
    ),
    "E032": Scenario(
        "ALLOW_LOOPBACK_ENDPOINTS",
        {"BACKENDS": {"default": {**LEGACY, "ENDPOINT": "https://127.0.0.1:8701"}}},
        {"DEBUG": False},
    ),
    "E033": Scenario(
        "ENDPOINT",
        {"BACKENDS": {"default": {**LEGACY, "ENDPOINT": "http://recognition.example.com"}}},
        {"DEBUG": False},
    ),
    "E034": Scenario("PII_HASH_KEYS", {"PII_HASH_KEYS": ["x"]}, {"DEBUG": False}),
    "E035": Scenario(
        "PII_HASH_KEYS",
        {
            "PII_ENCRYPTION_KEYS": ["3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE="],
            "PII_HASH_KEYS": ["3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE="],
        },
        {"DEBUG": False},
    ),
    "E040": Scenario("LIVENESS", {"LIVENESS": "always"}),
    "E041": Scenario("LIVENESS", {"BACKENDS": {"default": {**LEGACY, "LIVENESS": "require"}}}),
    "E050": Scenario("FILING_THRESHOLD", {"FILING_THRESHOLD": 0}),
    "W050": Scenario("FILING_THRESHOLD", {"FILING_THRESHOLD": 10}, rows=register_rows("a", 8)),
    "W051": Scenario("PII_HASH_KEYS", {}, rows=register_rows("retired", 1)),
    "W002": Scenario("SELFIE_RETENTION_DAYS", {"SELFIE_RETENTION_DAYS": 400}),
    "W004": Scenario("SELFIE_STORAGE", {"SELFIE_STORAGE": "default"}),
    "W005": Scenario(
        "RATE_LIMIT_CACHE", {"RATE_LIMIT_PER_SECOND": 20, "RATE_LIMIT_CACHE": "local"}
    ),
    "W007": Scenario("PII_HASH_KEYS", {"PII_HASH_KEYS": []}, {"DEBUG": True}),
    "W008": Scenario("THRESHOLD", {"BACKENDS": {"default": {**FACEID, "THRESHOLD": 60}}}),
    "E020": Scenario(None, {}, {"DATABASES": {"default": {"ENGINE": "django.db.backends.dummy"}}}),
    "E052": Scenario("NON_FACE_ALTERNATIVES", {"NON_FACE_ALTERNATIVES": ["two_element"]}),
    "W052": Scenario("NON_FACE_ALTERNATIVES", {"NON_FACE_ALTERNATIVES": []}),
    "E019": Scenario(None, {"THRESHLOD": 80}),
    "E021": Scenario(None, {"ALLOW_DEVELOPMENT_BACKENDS": "yes"}),
}


def ids_in_checks_module() -> set[str]:
    """The ids checks.py writes out, and those the declarations of the settings and of the
    backends' options name for their generated type and range checks."""
    from face_idcard.backends import Option
    from face_idcard.settings_spec import SETTINGS

    tree = ast.parse((PACKAGE / "checks.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "id":
            if isinstance(node.value, ast.Attribute) and node.value.attr == "check":
                continue  # a declaration's id, collected below
            assert isinstance(node.value, ast.Constant), "check ids are literals"
            match = CHECK_ID.fullmatch(str(node.value.value))
            assert match, node.value.value
            found.add(match.group(1))
    declared = {setting.check for setting in SETTINGS} | {Option().check}
    for check_id in declared:
        match = CHECK_ID.fullmatch(check_id)
        assert match, check_id
        found.add(match.group(1))
    return found


def docs_check_table() -> dict[str, str]:
    """Id -> the row's text, from the "System checks" table of docs/topics/configuration.rst."""
    section = CONFIGURATION.split("\nSystem checks\n-------------\n", 1)[1].split("\n\n\n", 1)[0]
    rows: dict[str, str] = {}
    current = ""
    for line in section.splitlines():
        match = re.match(r"^``([EW]\d{3})``\s+(.*)$", line)
        if match:
            current = match.group(1)
            rows[current] = match.group(2)
        elif current and line.startswith(" " * 8) and line.strip():
            rows[current] += " " + line.strip()
    return rows


@pytest.mark.django_db
def test_every_check_has_a_scenario_and_fires_on_it() -> None:
    from face_idcard import _filing as filing
    from face_idcard.models import FilingCount

    assert set(SCENARIOS) == ids_in_checks_module()
    for check_id, scenario in SCENARIOS.items():
        databases = None
        if scenario.rows is not None:
            FilingCount.objects.all().delete()
            filing.forget_marks()
            scenario.rows()
            databases = ["default"]
        with override_settings(**scenario.django):
            found = check_ids(databases=databases, **scenario.overrides)
            assert f"face_idcard.{check_id}" in found, check_id
    filing.forget_marks()


def test_the_docs_list_every_check_with_the_key_it_is_about() -> None:
    rows = docs_check_table()
    assert set(rows) == ids_in_checks_module()
    for check_id, text in rows.items():
        key = SCENARIOS[check_id].key
        if key is not None:
            assert f"``{key}``" in text, f"the docs' row for {check_id} should name {key}"


def test_every_check_id_mentioned_exists() -> None:
    known = ids_in_checks_module()
    sources = {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
        for p in [ROOT / "README.rst", ROOT / "README.zh-CN.rst", *(ROOT / "docs").rglob("*.rst")]
    }
    sources |= {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")
    }
    for name, text in sources.items():
        for check_id in CHECK_ID.findall(text):
            assert check_id in known, f"{name} names face_idcard.{check_id}, which does not exist"


def test_each_setting_names_the_right_checks() -> None:
    """A declaration's doc naming a check must be about the key that check is about."""
    from face_idcard.settings_spec import SETTINGS

    pairs = [
        (check_id, setting.name)
        for setting in SETTINGS
        for check_id in CHECK_ID.findall(str(setting.doc))
    ]
    assert pairs, "no setting's doc names a check: update this test"
    for check_id, key in pairs:
        scenario = SCENARIOS[check_id]
        assert scenario.key in (key, None), f"the doc of {key} names {check_id}"
