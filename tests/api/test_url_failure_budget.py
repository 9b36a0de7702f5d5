"""Refused photo urls count against a per-account budget (``API_URL_FAILURE_BUDGET``).

A url whose host does not resolve or is not public costs the site a DNS lookup and probes
its network; an account that keeps sending them is answered 429 before another lookup, and
other accounts are not affected.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from face_idcard.simulator import magic
from tests.support.api_helpers import BASE, NAME, client_for, error_code, plain_user

pytestmark = pytest.mark.django_db

GOOD = "https://photos.example.com/face.jpg"


def post_url(client: Any, url: str) -> Any:
    body = {"idcard_number": magic.MATCH, "idcard_name": NAME, "url": url, "consent": True}
    return client.post(BASE, body, format="json")


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    cache.clear()


@pytest.mark.parametrize(
    "refused", ["https://gone.invalid/face.jpg", "https://intranet.example.com/face.jpg"]
)
def test_an_account_over_its_budget_of_refused_urls_gets_429(
    face_settings: Any, refused: str
) -> None:
    face_settings(API_URL_FAILURE_BUDGET="3/hour", MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=100)
    prober = client_for(plain_user("prober"))
    for _ in range(3):
        response = post_url(prober, refused)
        assert response.status_code == 400, response.content
    over = post_url(prober, GOOD)
    assert over.status_code == 429, over.content
    assert error_code(over) == "throttled"
    assert int(over["Retry-After"]) == 3600
    # Another account is not affected.
    assert post_url(client_for(plain_user("neighbour")), GOOD).status_code == 202


def test_other_refusals_and_successes_do_not_count(face_settings: Any) -> None:
    face_settings(API_URL_FAILURE_BUDGET="2/hour", MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=100)
    client = client_for(plain_user("typo"))
    for _ in range(3):
        assert post_url(client, "ftp://photos.example.com/face.jpg").status_code == 400
    assert post_url(client, GOOD).status_code == 202


def test_no_budget_when_the_setting_is_none(face_settings: Any) -> None:
    face_settings(API_URL_FAILURE_BUDGET=None, MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=100)
    client = client_for(plain_user("free"))
    for _ in range(4):
        assert post_url(client, "https://gone.invalid/face.jpg").status_code == 400
