"""The non-face alternative through the API: the paths offered side by side, a document review
sent (both sides of the ID card, sealed in the private storage), decided by staff, seen by its
person only; hostile input refused with a field error or 413, never a 500 and nothing stored;
a withdrawal deletes the photos."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from face_idcard import services
from face_idcard.models import DocumentReview, StaffAuditEvent, StaffAuditKind
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.api_helpers import NAME, client_for, error_code, field_codes, plain_user
from tests.support.users import user_with

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    # The create throttle counts per user id in the cache, which outlives each test's rows.
    cache.clear()


PATHS = "/api/face-idcard/verification-paths/"
REVIEWS = "/api/face-idcard/document-reviews/"
FRONT = imagefactory.jpeg(640, 400)
BACK = imagefactory.png(640, 400)


def upload(data: bytes, name: str = "card.jpg", content_type: str = "image/jpeg") -> Any:
    return SimpleUploadedFile(name, data, content_type=content_type)


def body(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "idcard_number": magic.MATCH,
        "idcard_name": NAME,
        "consent": "true",
        "front": upload(FRONT),
        "back": upload(BACK, "back.png", "image/png"),
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def send(client: Any, **overrides: Any) -> Any:
    return client.post(REVIEWS, body(**overrides), format="multipart")


def stored_files() -> list[str]:
    storage = storages["face_idcard"]
    names: list[str] = []
    for review in DocumentReview.objects.all():
        names += [name for name in (review.front_name, review.back_name) if name]
    return [name for name in names if storage.exists(name)]


def document_files() -> set[str]:
    storage = storages["face_idcard"]
    folder = "face_idcard/selfies/documents"
    return set(storage.listdir(folder)[1]) if storage.exists(folder) else set()


def test_the_paths_are_offered_side_by_side(face_settings: Any) -> None:
    client = client_for(plain_user("paths-reader"))
    response = client.get(PATHS)
    assert response.status_code == 200, response.content
    paths = response.json()["paths"]
    assert [path["path"] for path in paths] == ["face", "document_review"]
    assert [path["uses_face"] for path in paths] == [True, False]
    assert paths[1]["url"] == REVIEWS
    assert set(paths[0]) == set(paths[1])  # the same form: neither is the lesser one
    assert (
        client.get(PATHS, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["paths"][1]["title"]
        != (paths[1]["title"])
    )


def test_without_the_alternative_only_the_face_is_offered_and_reviews_are_404(
    face_settings: Any,
) -> None:
    face_settings(NON_FACE_ALTERNATIVES=[])
    client = client_for(plain_user("face-only"))
    assert [path["path"] for path in client.get(PATHS).json()["paths"]] == ["face"]
    response = send(client)
    assert response.status_code == 404
    assert not DocumentReview.objects.exists()


def test_a_review_end_to_end(face_settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    face_settings(SELFIE_RETENTION_DAYS=0)
    person = plain_user("card-holder")
    client = client_for(person)
    response = send(client, external_reference="order-7")
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["status"] == "pending" and answer["path"] == "document_review"
    assert answer["idcard_number"] == "1101**********0014" or "*" in answer["idcard_number"]
    assert magic.MATCH not in response.content.decode() and NAME not in response.content.decode()
    review = DocumentReview.objects.get(pk=answer["id"])
    assert review.user == person and review.has_documents
    assert response["Location"].endswith(f"{REVIEWS}{review.pk}/")
    # Sealed: neither photo is in the storage as the person sent it (nor as a JPEG/PNG).
    storage = storages["face_idcard"]
    for name in (review.front_name, review.back_name):
        with storage.open(name, "rb") as handle:
            sealed = handle.read()
        assert not sealed.startswith((b"\xff\xd8", b"\x89PNG")) and FRONT[-200:] not in sealed
    submitted = StaffAuditEvent.objects.get(document_review=review)
    assert submitted.kind == StaffAuditKind.DOCUMENTS_SUBMITTED.value
    assert submitted.actor == person and submitted.data["path"] == "document_review"

    # Its person sees it; another person does not; a second one waits for this one.
    assert client.get(f"{REVIEWS}{review.pk}/").json()["status"] == "pending"
    assert client_for(plain_user("stranger")).get(f"{REVIEWS}{review.pk}/").status_code == 404
    again = send(client)
    assert field_codes(again) == {} and error_code(again) == "document_review_pending"

    reviewer = user_with("doc-reviewer", "review", "view_pii")
    front, content_type = services._documents.read_document(review, "front", viewer=reviewer)
    assert content_type == "image/jpeg" and front.startswith(b"\xff\xd8")
    with django_capture_on_commit_callbacks(execute=True):
        services.decide_documents(
            review, reviewer=reviewer, decision="approve", reason="photos match the record"
        )
    shown = client.get(f"{REVIEWS}{review.pk}/").json()
    assert shown["status"] == "approved" and shown["decided_at"]
    review.refresh_from_db()
    # SELFIE_RETENTION_DAYS 0: the photos went with the decision; the number stays for now.
    assert not review.has_documents and review.idcard_number_encrypted
    assert stored_files() == []
    assert [event.kind for event in StaffAuditEvent.objects.filter(document_review=review)] == [
        "documents_submitted",
        "documents_decided",
        "documents_erased",
    ]


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"front": upload(b"%PDF-1.4 not an image")}, "front", "image_undecodable"),
        ({"back": upload(b"")}, "back", "empty"),  # DRF refuses an empty file first
        ({"back": upload(imagefactory.gif())}, "back", "image_format"),
        ({"front": upload(imagefactory.jpeg(40, 30))}, "front", "image_too_small"),
        ({"front": "not a file"}, "front", "invalid"),
        ({"front": None}, "front", "required"),
        ({"external_reference": "x" * 256}, "external_reference", ""),
        ({"idcard_name": "张" * 200}, "idcard_name", ""),
        ({"idcard_number": "1" * 5000}, "idcard_number", ""),
        ({"idcard_number": magic.MATCH[:-1] + "1"}, "idcard_number", "id_checksum"),
        ({"consent": "false"}, "consent", "consent_required"),
        ({"notice_version": "a\x00b"}, "notice_version", ""),
    ],
)
def test_hostile_fields_are_refused_beside_the_field(
    face_settings: Any, overrides: dict[str, Any], field: str, code: str
) -> None:
    client = client_for(plain_user("hostile"))
    response = send(client, **overrides)
    assert response.status_code == 400, response.content
    codes = field_codes(response)
    assert field in codes, codes
    assert not code or any(found.startswith(code) for found in codes[field]), codes
    assert not DocumentReview.objects.exists() and not StaffAuditEvent.objects.exists()


def test_errors_are_in_chinese_too(face_settings: Any) -> None:
    client = client_for(plain_user("hostile-zh"))
    response = client.post(
        REVIEWS,
        body(front=upload(b"not an image")),
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 400
    message = response.json()["error"]["fields"]["front"][0]["message"]
    assert any("\u4e00" <= character <= "\u9fff" for character in message), message


def test_huge_photos_and_extra_files_are_refused_before_they_are_read(face_settings: Any) -> None:
    face_settings(UPLOAD_MAX_BYTES=200_000)
    client = client_for(plain_user("huge"))
    before = document_files()
    big = imagefactory.jpeg(64, 64) + b"\x00" * 300_000
    response = send(client, front=upload(big))
    assert response.status_code == 413, response.content
    third = client.post(REVIEWS, {**body(), "image": upload(FRONT)}, format="multipart")
    assert third.status_code == 400 and error_code(third) == "unexpected_file"
    announced = client.generic(
        "POST",
        REVIEWS,
        b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(10**9),
    )
    assert announced.status_code == 413
    assert not DocumentReview.objects.exists()
    assert document_files() == before  # nothing sealed and left behind


def test_withdrawal_deletes_the_photos(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    person = plain_user("withdrawing-holder")
    client = client_for(person)
    pending = DocumentReview.objects.get(pk=send(client).json()["id"])
    other = DocumentReview.objects.get(pk=send(client_for(plain_user("bystander"))).json()["id"])
    files = [pending.front_name, pending.back_name]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/face-idcard/withdrawal/", {"confirm": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["erased"] == 1 and response.json()["attempts"] == 0
    assert response.json()["document_reviews"] == 1
    assert "We hold no verification" not in " ".join(response.json()["messages"])
    pending.refresh_from_db()
    assert pending.status == "withdrawn" and not pending.has_pii and pending.redacted_at
    assert pending.idcard_number_masked == "" and pending.idcard_hash == ""
    storage = storages["face_idcard"]
    assert not any(storage.exists(name) for name in files)
    kinds = [e.kind for e in StaffAuditEvent.objects.filter(document_review=pending)]
    assert kinds == ["documents_submitted", "documents_withdrawn", "documents_erased"]
    other.refresh_from_db()
    assert other.has_documents and other.status == "pending"
    assert client.get(f"{REVIEWS}{pending.pk}/").json()["status"] == "withdrawn"


def test_the_attempts_creation_budget_holds_here_too(face_settings: Any) -> None:
    face_settings(API_CREATE_THROTTLE_RATE="2/min")
    client = client_for(plain_user("thrifty"))
    assert send(client, consent="false").status_code == 400
    assert send(client, consent="false").status_code == 400
    third = send(client)
    assert third.status_code == 429 and third["Retry-After"]
    assert not DocumentReview.objects.exists()


def test_every_answer_is_no_store_private(face_settings: Any) -> None:
    """As the attempts' answers: masked identity and a person's state, kept by no browser
    cache or shared proxy, errors included."""
    client = client_for(plain_user("cache-holder"))
    created = send(client)
    assert created.status_code == 201, created.content
    answers = {
        "paths": client.get(PATHS),
        "create": created,
        "retrieve": client.get(f"{REVIEWS}{created.json()['id']}/"),
        "invalid": send(client_for(plain_user("cache-invalid")), consent="false"),
        "pending": send(client),
        "not found": client.get(f"{REVIEWS}00000000-0000-0000-0000-000000000000/"),
        "method": client.get(REVIEWS),
        "unauthenticated": client_for().get(f"{REVIEWS}{created.json()['id']}/"),
    }
    assert [answer.status_code for answer in answers.values()] == [
        200,
        201,
        200,
        400,
        400,
        404,
        405,
        401,
    ]
    for name, answer in answers.items():
        assert answer["Content-Type"].startswith("application/json"), name
        parts = {part.strip() for part in answer["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= parts, (name, answer["Cache-Control"])
