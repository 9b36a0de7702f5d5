"""Provider code catalogues as data files: the loader (``face_idcard.outcome.load_catalogue``,
``Catalogue.from_file``) and the packaged ``providers/<name>/codes.json`` files.

What it pins: the files are found through ``importlib.resources`` and declared as package data,
each is read once (the provider's catalogue *is* the cached one), every entry's sources are
explained in its file, and a malformed file is refused with a message that names the file and
the entry, for each rule the loader enforces (JSON, layout, known class and reason, billing
flag, both texts, known source keys, no duplicate code, no shadowing of the shared
pseudo-codes).
"""

from __future__ import annotations

import copy
import fnmatch
import importlib
import importlib.resources
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from face_idcard.exceptions import CatalogueError
from face_idcard.outcome import (
    GENERIC,
    TRANSPORT_TIMEOUT,
    Catalogue,
    ErrorClass,
    Reason,
    load_catalogue,
)
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
PROVIDERS = ["legacy", "faceid", "aliyun"]
#: The module-level catalogue each provider's ``codes`` module exposes.
PROVIDER_CATALOGUE = {"legacy": "LEGACY_CODES", "faceid": "FACEID_CODES", "aliyun": "ALIYUN_CODES"}


def _package(provider: str) -> str:
    return f"face_idcard.providers.{provider}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_file_is_a_package_resource(provider: str) -> None:
    resource = importlib.resources.files(_package(provider)).joinpath("codes.json")
    assert resource.is_file()
    assert json.loads(resource.read_text(encoding="utf-8"))["codes"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_provider_uses_the_cached_catalogue(provider: str) -> None:
    codes = importlib.import_module(f"{_package(provider)}.codes")
    loaded = load_catalogue(_package(provider))
    assert getattr(codes, PROVIDER_CATALOGUE[provider]) is loaded
    assert load_catalogue(_package(provider)) is loaded  # read once
    # The same data as the file read afresh.
    fresh = Catalogue.from_file(ROOT / "face_idcard" / "providers" / provider / "codes.json")
    assert dict(fresh.entries) == dict(loaded.entries)
    assert dict(fresh.sources) == dict(loaded.sources)


def test_every_provider_with_codes_has_its_file() -> None:
    providers = ROOT / "face_idcard" / "providers"
    with_codes = {path.parent.name for path in providers.glob("*/codes.py")}
    with_files = {path.parent.name for path in providers.glob("*/codes.json")}
    assert with_codes == with_files == set(PROVIDERS)


def _package_data_patterns() -> list[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[tool.setuptools.package-data]", 1)[1]
    line = re.search(r"^face_idcard\s*=\s*\[(.*)\]\s*$", section, flags=re.MULTILINE)
    assert line is not None
    return re.findall(r'"([^"]+)"', line.group(1))


def test_the_files_are_declared_as_package_data() -> None:
    patterns = _package_data_patterns()
    package = ROOT / "face_idcard"
    for path in package.glob("providers/*/codes.json"):
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    assert "recursive-include face_idcard/providers *.json" in manifest


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_source_is_used_and_explained(provider: str) -> None:
    catalogue = load_catalogue(_package(provider))
    used = {info.source for info in catalogue} | {info.billing_source for info in catalogue}
    assert used == set(catalogue.sources)
    assert all(len(text) > 20 for text in catalogue.sources.values())


@pytest.mark.parametrize("provider", PROVIDERS)
def test_codes_unknown_to_the_file_fall_back_to_the_shared_ones(provider: str) -> None:
    catalogue = load_catalogue(_package(provider))
    assert catalogue.lookup(TRANSPORT_TIMEOUT) is GENERIC.entries[TRANSPORT_TIMEOUT]
    assert catalogue.lookup("no.such.code").error_class is ErrorClass.UNKNOWN


# --- The loader's rules, one malformed file each ---------------------------------------------

GOOD: dict[str, Any] = {
    "sources": {"page": "A provider's error page", "ours": "Our billing rule"},
    "codes": [
        {
            "code": "0",
            "class": "success",
            "reason": "match",
            "billable": True,
            "zh-hans": "成功",
            "en": "OK",
            "source": "page",
            "billing_source": "ours",
        },
        {
            "code": "E1",
            "class": "input",
            "reason": "no_face",
            "billable": None,
            "zh-hans": "无人脸",
            "en": "No face",
            "source": "page",
            "billing_source": "ours",
        },
    ],
}


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "codes.json"
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    catalogue = Catalogue.from_file(_write(tmp_path, GOOD))
    info = catalogue.lookup("E1")
    assert (info.error_class, info.reason, info.billable) == (
        ErrorClass.INPUT,
        Reason.NO_FACE,
        None,
    )
    assert (info.zh_hans, info.en, info.source, info.billing_source) == (
        "无人脸",
        "No face",
        "page",
        "ours",
    )
    assert catalogue.lookup(0).billable is True
    assert catalogue.sources == GOOD["sources"]
    assert TRANSPORT_TIMEOUT in catalogue  # the shared pseudo-codes behind it


def _entry(index: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is _DROP:
                del document["codes"][index][key]
            else:
                document["codes"][index][key] = value

    return change


_DROP = object()


def _duplicate(document: dict[str, Any]) -> None:
    document["codes"].append(dict(document["codes"][1]))


def _no_sources(document: dict[str, Any]) -> None:
    del document["sources"]


def _empty_codes(document: dict[str, Any]) -> None:
    document["codes"] = []


def _sources_as_list(document: dict[str, Any]) -> None:
    document["sources"] = list(document["sources"])


def _empty_description(document: dict[str, Any]) -> None:
    document["sources"]["ours"] = ""


def _entry_as_list(document: dict[str, Any]) -> None:
    document["codes"][1] = list(document["codes"][1].values())


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown class": (_entry(1, **{"class": "retry"}), "entry 1 (code 'E1'): \"class\" 'retry'"),
    "unknown reason": (_entry(1, reason="sad"), "entry 1 (code 'E1'): \"reason\" 'sad'"),
    "billable as text": (_entry(0, billable="yes"), "entry 0 (code '0'): \"billable\""),
    "no Chinese text": (_entry(1, **{"zh-hans": _DROP}), "entry 1 (code 'E1'): missing keys"),
    "blank English text": (_entry(1, en="  "), "entry 1 (code 'E1'): the \"en\" text"),
    "empty Chinese text": (_entry(0, **{"zh-hans": ""}), "entry 0 (code '0'): the \"zh-hans\""),
    "unknown source": (_entry(1, source="blog"), "entry 1 (code 'E1'): \"source\" 'blog'"),
    "unknown billing source": (
        _entry(0, billing_source="x"),
        "entry 0 (code '0'): \"billing_source\" 'x'",
    ),
    "extra key": (_entry(1, retry=True), "entry 1 (code 'E1'): missing keys [], unknown keys"),
    "code as a number": (_entry(0, code=0), 'entry 0: "code" must be'),
    "code with blanks": (_entry(1, code=" E1"), "entry 1 (code ' E1'): \"code\" must be"),
    "duplicate code": (_duplicate, "entry 2: code 'E1' is listed twice"),
    "shared pseudo-code": (
        _entry(1, code=TRANSPORT_TIMEOUT),
        f"entry 1: code '{TRANSPORT_TIMEOUT}' is one of the shared pseudo-codes",
    ),
    "no sources": (_no_sources, '"sources" and "codes"'),
    "no codes": (_empty_codes, '"codes" must be a non-empty list'),
    "sources as a list": (_sources_as_list, '"sources" must map keys to non-empty'),
    "a source without description": (_empty_description, '"sources" must map keys'),
    "an entry that is no object": (_entry_as_list, "entry 1: an entry must be an object"),
    "empty code": (_entry(0, code=""), 'entry 0: "code" must be a non-empty string'),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_file_names_the_file_and_the_entry(tmp_path: Path, case: str) -> None:
    change, expected = MALFORMED[case]
    document = copy.deepcopy(GOOD)
    change(document)
    path = _write(tmp_path, document)
    with pytest.raises(CatalogueError) as raised:
        Catalogue.from_file(path)
    assert str(raised.value).startswith(str(path)), raised.value
    assert expected in str(raised.value)


@pytest.mark.parametrize("text", ["{", "[]", '{"sources": {}, "codes": [], "more": 1}', "null"])
def test_a_file_that_is_not_a_catalogue(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CatalogueError, match=re.escape(str(path))):
        Catalogue.from_file(path)


def test_a_broken_packaged_file_is_reported_by_package_and_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "broken_catalogue_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    document = copy.deepcopy(GOOD)
    document["codes"][1]["reason"] = "sad"
    (package / "codes.json").write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CatalogueError) as raised:
        load_catalogue("broken_catalogue_pkg")
    assert str(raised.value).startswith("broken_catalogue_pkg/codes.json, entry 1 (code 'E1')")
