"""The reveal is the audited step; the selfie behind it is a short-lived link that writes nothing.

A POST of the reveal (CSRF-checked, ``view_pii``) records who saw the number, the name and the
selfie, and hands the page a link whose only part is a signed token; that link works for the
same user in the same session for ``ADMIN_SELFIE_LINK_SECONDS``, and nowhere else. A GET of the
reveal page only offers the POST.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core import signing
from django.test import Client

from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services._common import load_selfie
from face_idcard.simulator import magic
from tests.support.admin_helpers import ALL, CHANGELIST, NAME, action, client_for, finished
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

VIEWER = ("view_verificationattempt", "view_pii")
SELFIE_LINK = re.compile(r'src="(/admin/face_idcard/verificationattempt/selfie/[^"/]+/)"')


def reveal_url(attempt: VerificationAttempt) -> str:
    return f"{CHANGELIST}{attempt.pk}/reveal/"


def views(attempt: VerificationAttempt) -> list[tuple[int | None, dict[str, Any]]]:
    return [
        (event.actor_id, event.data)
        for event in attempt.events.filter(kind=EventKind.PII_VIEWED.value).order_by("id")
    ]


def reveal(client: Client, attempt: VerificationAttempt) -> str:
    """POST the reveal; the selfie's link in the page."""
    response = client.post(reveal_url(attempt))
    assert response.status_code == 200
    found = SELFIE_LINK.search(response.content.decode())
    assert found, "no selfie link in the page"
    return found.group(1)


def test_a_get_of_the_reveal_page_reads_and_records_nothing(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    viewer, _ = client_for("get-viewer", *VIEWER)
    response = viewer.get(reveal_url(attempt))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'method="post"' in html and "face-idcard-reveal" in html
    assert magic.REVIEW not in html and NAME not in html and "/selfie/" not in html
    assert "no-store" in response["Cache-Control"] and response["X-Frame-Options"] == "DENY"
    assert views(attempt) == []
    masked_staff, _ = client_for("get-masked", "view_verificationattempt")
    assert masked_staff.get(reveal_url(attempt)).status_code == 403


def test_the_reveal_post_needs_the_csrf_token(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    user = user_with("csrf-viewer", *VIEWER)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(reveal_url(attempt)).status_code == 403
    assert views(attempt) == []
    page = client.get(reveal_url(attempt))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    response = client.post(reveal_url(attempt), {"csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 200 and magic.REVIEW in response.content.decode()


def test_the_post_records_the_views_and_the_image_behind_its_link_records_nothing(
    face_settings: Any,
) -> None:
    attempt = finished(magic.REVIEW)
    viewer, user = client_for("link-viewer", *VIEWER)
    link = reveal(viewer, attempt)
    recorded = [(user.pk, {}), (user.pk, {"what": "selfie"})]
    assert views(attempt) == recorded
    # The link holds the signed attempt id and a timestamp: no personal information.
    assert magic.REVIEW not in link and NAME not in link and attempt.idcard_hash not in link
    for _ in range(2):  # a reload of the image is not another view
        image = viewer.get(link)
        assert image.status_code == 200
        assert image["Content-Type"] == "image/jpeg"
        assert image.content == load_selfie(attempt.selfie_name, attempt.selfie_storage, attempt.pk)
        cache_control = {part.strip() for part in image["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= cache_control
        assert image["X-Content-Type-Options"] == "nosniff"
        assert image["X-Frame-Options"] == "DENY"
    assert views(attempt) == recorded
    assert viewer.post(link).status_code == 405


def test_the_link_is_refused_to_another_user_another_session_and_a_forger(
    face_settings: Any,
) -> None:
    attempt, other = finished(magic.REVIEW), finished(magic.MATCH)
    viewer, user = client_for("owner-viewer", *VIEWER)
    link = reveal(viewer, attempt)
    colleague, _ = client_for("colleague-viewer", *VIEWER)
    assert colleague.get(link).status_code == 403
    same_user_elsewhere = Client()
    same_user_elsewhere.force_login(user)
    assert same_user_elsewhere.get(link).status_code == 403
    token = link.rstrip("/").rsplit("/", 1)[1]
    value, _stamp, signature = token.split(":")
    swapped = link.replace(value, str(other.pk))  # another attempt, the same signature
    tampered = link.replace(signature, signature[:-1] + ("A" if signature[-1] != "A" else "B"))
    for forged in (swapped, tampered, f"{CHANGELIST}selfie/{other.pk}/", f"{CHANGELIST}selfie/x/"):
        assert viewer.get(forged).status_code == 403, forged
    # The old address by attempt id serves no image.
    old = viewer.get(f"{CHANGELIST}{attempt.pk}/selfie/")
    assert old.status_code != 200 or not old["Content-Type"].startswith("image/")
    viewer.logout()
    viewer.force_login(user)  # a new session: what the old one was given is gone
    assert viewer.get(link).status_code == 403
    assert views(attempt) == [(user.pk, {}), (user.pk, {"what": "selfie"})]
    assert views(other) == []


@pytest.mark.parametrize(("age", "status"), [(110, 200), (130, 403)])
def test_the_link_lasts_admin_selfie_link_seconds(
    face_settings: Any, monkeypatch: pytest.MonkeyPatch, age: int, status: int
) -> None:
    attempt = finished(magic.REVIEW)
    viewer, _ = client_for(f"aged-viewer-{age}", *VIEWER)
    with monkeypatch.context() as patched:
        # Issued ``age`` seconds ago (the default lifetime is 120 s).
        patched.setattr(
            signing.TimestampSigner,
            "timestamp",
            lambda self: signing.b62_encode(int(time.time()) - age),
        )
        link = reveal(viewer, attempt)
    assert viewer.get(link).status_code == status


def test_a_shorter_lifetime_is_a_setting(face_settings: Any, monkeypatch: Any) -> None:
    face_settings(ADMIN_SELFIE_LINK_SECONDS=30)
    attempt = finished(magic.REVIEW)
    viewer, _ = client_for("short-viewer", *VIEWER)
    with monkeypatch.context() as patched:
        patched.setattr(
            signing.TimestampSigner,
            "timestamp",
            lambda self: signing.b62_encode(int(time.time()) - 60),
        )
        link = reveal(viewer, attempt)
    assert viewer.get(link).status_code == 403


def test_a_permission_revoked_after_the_reveal_stops_the_link(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    viewer, _ = client_for("revoked-viewer", *VIEWER)
    link = reveal(viewer, attempt)
    user_with("revoked-viewer", "view_verificationattempt")
    assert viewer.get(link).status_code == 403


def test_a_selfie_erased_after_the_reveal_is_not_found(face_settings: Any) -> None:
    attempt = finished(magic.REVIEW)
    client, _ = client_for("erase-after-reveal", *ALL)
    link = reveal(client, attempt)
    action(client, "redact", attempt, confirm="yes")
    assert client.get(link).status_code == 404
    assert client.post(reveal_url(attempt)).status_code == 404


def test_without_a_selfie_the_reveal_says_so_and_records_the_number_and_name_only(
    face_settings: Any,
) -> None:
    attempt = finished(magic.REVIEW)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(selfie_name="")
    viewer, user = client_for("no-selfie-viewer", *VIEWER)
    html = viewer.post(reveal_url(attempt)).content.decode()
    assert magic.REVIEW in html and "/selfie/" not in html
    assert "no longer stored" in html
    assert views(attempt) == [(user.pk, {})]
