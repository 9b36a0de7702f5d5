"""The admin's search by ID number: ``view_pii`` only, every search audited (never the
number), rate-limited per staff user (``ADMIN_ID_SEARCH_RATE``) with a clear refusal."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches

from face_idcard.admin.id_search import parse_rate
from face_idcard.models import AttemptEvent, EventKind
from face_idcard.simulator import magic
from tests.support.admin_helpers import CHANGELIST, ID_SEARCH, change_url, client_for, finished

pytestmark = pytest.mark.django_db

SEARCHER = ("view_verificationattempt", "view_pii")


@pytest.fixture(autouse=True)
def fresh_counts(face_settings: Any) -> Iterator[None]:
    """Search counts live in the cache, which outlives a test's database."""
    caches["default"].clear()
    yield
    caches["default"].clear()


def test_view_only_staff_cannot_search_by_id_number() -> None:
    finished(magic.MATCH)
    client, _ = client_for("view-only", "view_verificationattempt")
    assert client.get(ID_SEARCH).status_code == 403
    assert client.post(ID_SEARCH, {"idcard_number": magic.MATCH}).status_code == 403
    assert not AttemptEvent.objects.filter(kind=EventKind.PII_VIEWED.value).exists()
    # A number typed into the list's search box leads to the same refusal, not echoed.
    response = client.get(CHANGELIST, {"q": magic.MATCH}, follow=True)
    assert response.status_code == 403
    assert magic.MATCH not in response.content.decode()


def test_every_search_is_audited_without_the_number(caplog: pytest.LogCaptureFixture) -> None:
    first, second = finished(magic.MATCH), finished(magic.MATCH)
    client, searcher = client_for("auditor", *SEARCHER)
    with caplog.at_level(logging.DEBUG):
        html = client.post(ID_SEARCH, {"idcard_number": magic.MATCH}).content.decode()
        client.post(ID_SEARCH, {"idcard_number": magic.NO_MATCH})  # no hit
    assert change_url(first) in html and change_url(second) in html
    events = AttemptEvent.objects.filter(kind=EventKind.PII_VIEWED.value).order_by("attempt_id")
    assert sorted(e.attempt_id for e in events) == sorted([first.pk, second.pk])
    for item in events:
        assert item.actor_id == searcher.pk
        assert item.data == {
            "what": "id_search",
            "hits": 2,
            "key_id": first.idcard_hash_key_id,
        }
    assert first.idcard_hash_key_id and first.idcard_hash_key_id == second.idcard_hash_key_id
    lines = [r.getMessage() for r in caplog.records if r.name == "face_idcard.admin"]
    assert lines == [
        f"ID number search by user id {searcher.pk}: 2 attempts "
        f"(hash key ids: {first.idcard_hash_key_id})",
        f"ID number search by user id {searcher.pk}: 0 attempts (hash key ids: -)",
    ]
    assert magic.MATCH not in caplog.text and magic.NO_MATCH not in caplog.text


def test_searches_are_rate_limited_per_staff_user(face_settings: Any, settings: Any) -> None:
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "ADMIN_ID_SEARCH_RATE": "2/hour"}
    attempt = finished(magic.MATCH)
    client, _ = client_for("busy-searcher", *SEARCHER)
    for _ in range(2):
        response = client.post(ID_SEARCH, {"idcard_number": magic.MATCH})
        assert response.status_code == 200
    refused = client.post(ID_SEARCH, {"idcard_number": magic.MATCH})
    assert refused.status_code == 429
    html = refused.content.decode()
    assert "too many ID number searches" in html
    assert change_url(attempt) not in html
    assert AttemptEvent.objects.filter(kind=EventKind.PII_VIEWED.value).count() == 2
    other, _ = client_for("other-searcher", *SEARCHER)
    assert other.post(ID_SEARCH, {"idcard_number": magic.MATCH}).status_code == 200


def test_the_refusal_is_translated(face_settings: Any, settings: Any) -> None:
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "ADMIN_ID_SEARCH_RATE": "0/hour"}
    client, _ = client_for("chinese-searcher", *SEARCHER)
    refused = client.post(ID_SEARCH, {"idcard_number": magic.MATCH}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert refused.status_code == 429
    assert "身份证号搜索次数过多" in refused.content.decode()


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("30/hour", (30, 3600)), ("5/m", (5, 60)), ("100/day", (100, 86400)), (None, None)],
)
def test_rates_parse(rate: str | None, parsed: tuple[int, int] | None) -> None:
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["30", "thirty/hour", "30/fortnight", "-1/hour"])
def test_a_malformed_rate_is_an_error_not_no_limit(rate: str) -> None:
    with pytest.raises(ValueError, match="ADMIN_ID_SEARCH_RATE"):
        parse_rate(rate)
