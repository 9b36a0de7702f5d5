"""The legacy backend's outcome mapping and wire use, over real HTTP (no worker, no database).

A scripted server (tests.support.fakeprovider) answers what the simulator never sends (code 0 without a
score, unknown codes); the simulator answers with a real signature check for the rest.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from face_idcard.backends import VerificationRequest, get_backend
from face_idcard.outcome import TRANSPORT_BAD_RESPONSE, ErrorClass, Reason
from face_idcard.providers.legacy.backend import LegacyBackend, SimulatorBackend
from face_idcard.simulator import SimulatorServer, magic
from face_idcard.simulator.registry import demo_people
from tests.support.fakeprovider import (
    FakeProvider,
    JsonReply,
    RecordedRequest,
    assert_close_releases_the_pooled_connection,
)

NUMBER = "11010519491231002X"
NAME = "张三"
IMAGE = b"\xff\xd8\xff\xe0 not really a jpeg"
URL = "https://photos.example/signed?token=abc"
CREDENTIALS = {"APPID": "1250000000", "SECRET_ID": "AKIDexample", "SECRET_KEY": "example-key"}


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def legacy(settings: Any, fake: FakeProvider) -> Callable[..., LegacyBackend]:
    """``legacy(**alias_options)``: the default alias is the legacy API at the scripted server."""

    def build(**options: Any) -> LegacyBackend:
        alias = {"BACKEND": "legacy", **CREDENTIALS, "ENDPOINT": fake.url, **options}
        settings.FACE_IDCARD = {**settings.FACE_IDCARD, "BACKENDS": {"default": alias}}
        backend = get_backend("default")
        assert isinstance(backend, LegacyBackend)
        return backend

    return build


def body(code: int, similarity: float | None = None, message: str = "m") -> JsonReply:
    data: dict[str, Any] = {"session_id": "sess-9"}
    if similarity is not None:
        data["similarity"] = similarity
    return JsonReply({"code": code, "message": message, "data": data})


def image_request(**fields: Any) -> VerificationRequest:
    return VerificationRequest(NUMBER, NAME, image=IMAGE, **fields)


def url_request(**fields: Any) -> VerificationRequest:
    return VerificationRequest(NUMBER, NAME, url=URL, **fields)


#: (answer, url mode) -> code, class, reason, billable, similarity.
@pytest.mark.parametrize(
    ("reply", "url_mode", "code", "error_class", "reason", "billable", "similarity"),
    [
        (body(0, 88.5), False, "0", ErrorClass.SUCCESS, Reason.MATCH, True, 88.5),
        (body(0, 0.0), True, "0", ErrorClass.SUCCESS, Reason.MATCH, True, 0.0),
        # Code 0 without a score is not the documented shape: like any unusable body.
        (
            body(0),
            False,
            TRANSPORT_BAD_RESPONSE,
            ErrorClass.TRANSIENT,
            Reason.PROVIDER_UNAVAILABLE,
            False,
            None,
        ),
        (body(-5803), False, "-5803", ErrorClass.INPUT, Reason.NAME_MISMATCH, True, None),
        (body(15), True, "15", ErrorClass.TRANSIENT, Reason.RATE_LIMITED, False, None),
        (body(9), False, "9", ErrorClass.RESIGN, Reason.SIGNATURE_REJECTED, False, None),
        # A download failure is one only when a url was sent.
        (body(-5805), True, "-5805", ErrorClass.URL_FETCH, Reason.IMAGE_FETCH_FAILED, False, None),
        (body(-1403), False, "-1403", ErrorClass.INPUT, Reason.IMAGE_FETCH_FAILED, False, None),
        (body(4242), False, "4242", ErrorClass.UNKNOWN, Reason.UNKNOWN, None, None),
        (body(4242, 90.0), True, "4242", ErrorClass.UNKNOWN, Reason.UNKNOWN, None, 90.0),
    ],
)
def test_outcome_of_each_answer(
    legacy: Callable[..., LegacyBackend],
    fake: FakeProvider,
    reply: JsonReply,
    url_mode: bool,
    code: str,
    error_class: ErrorClass,
    reason: Reason,
    billable: bool | None,
    similarity: float | None,
) -> None:
    fake.script(reply)
    backend = legacy()
    outcome = backend.verify(url_request() if url_mode else image_request())
    assert (outcome.code, outcome.error_class, outcome.reason, outcome.billable) == (
        code,
        error_class,
        reason,
        billable,
    )
    assert outcome.similarity == similarity
    assert outcome.usable is (error_class is ErrorClass.SUCCESS)
    # What came back travels beside the neutral fields, for staff and audits.
    assert (outcome.session_id, outcome.message, outcome.http_status) == ("sess-9", "m", 200)
    assert outcome.raw == reply.payload
    assert outcome.elapsed is not None and outcome.elapsed >= 0


def sent_fields(request: RecordedRequest) -> dict[str, str]:
    if request.json is not None:
        return {key: str(value) for key, value in request.json.items()}
    return {name: part.text for name, part in request.parts.items() if name != "image"}


@pytest.mark.parametrize(
    ("content_type", "filename"),
    [
        ("image/jpeg", "image.jpg"),
        ("image/png", "image.png"),
        ("image/bmp", "image.bmp"),
        ("image/webp", "image.jpg"),  # nothing else is sent; the name is only a hint
    ],
)
def test_an_image_goes_as_multipart_with_the_attempts_session(
    legacy: Callable[..., LegacyBackend], fake: FakeProvider, content_type: str, filename: str
) -> None:
    legacy().verify(image_request(image_content_type=content_type, correlation_id="att-1"))
    (request,) = fake.requests
    assert request.is_multipart
    image = request.parts["image"]
    assert (image.filename, image.content_type, image.content) == (filename, content_type, IMAGE)
    fields = sent_fields(request)
    assert (fields["idcard_number"], fields["idcard_name"]) == (NUMBER, NAME)
    assert fields["session_id"] == "att-1"


@pytest.mark.parametrize("correlation_id", ["att-2", ""])
def test_a_url_goes_as_json_without_the_image(
    legacy: Callable[..., LegacyBackend], fake: FakeProvider, correlation_id: str
) -> None:
    request = VerificationRequest(NUMBER, NAME, image=IMAGE, url=URL, correlation_id=correlation_id)
    legacy().verify(request)
    (sent,) = fake.requests
    assert sent.json is not None and "image" not in sent.json and not sent.parts
    assert sent.json["url"] == URL
    # No correlation id: no session_id at all (never an empty or "None" one).
    assert sent.json.get("session_id") == (correlation_id or None)


def test_every_key_that_carries_personal_information_is_declared(
    legacy: Callable[..., LegacyBackend], fake: FakeProvider
) -> None:
    backend = legacy()
    backend.verify(url_request())
    backend.verify(image_request())
    url_sent, image_sent = fake.requests
    personal = {NUMBER, NAME, URL}
    keys = {key for key, value in sent_fields(url_sent).items() if value in personal}
    keys |= {key for key, value in sent_fields(image_sent).items() if value in personal}
    keys |= {name for name, part in image_sent.parts.items() if part.content == IMAGE}
    assert keys == {"idcard_number", "idcard_name", "url", "image"}
    assert keys <= backend.pii_keys


def signature_lifetime(request: RecordedRequest) -> int:
    plaintext = base64.b64decode(request.headers["authorization"])[20:].decode("ascii")
    fields = dict(pair.split("=", 1) for pair in plaintext.split("&"))
    return int(fields["e"]) - int(fields["t"])


@pytest.mark.parametrize(
    ("options", "lifetime"), [({}, 300), ({"SIGNATURE_LIFETIME_SECONDS": 60}, 60)]
)
def test_signature_lifetime(
    legacy: Callable[..., LegacyBackend],
    fake: FakeProvider,
    options: dict[str, Any],
    lifetime: int,
) -> None:
    legacy(**options).verify(image_request())
    assert signature_lifetime(fake.requests[0]) == lifetime


def test_close_releases_the_pooled_connection(
    legacy: Callable[..., LegacyBackend], fake: FakeProvider
) -> None:
    assert_close_releases_the_pooled_connection(legacy(), fake, image_request())


def test_what_the_legacy_api_accepts(legacy: Callable[..., LegacyBackend]) -> None:
    backend = legacy()
    # PROTOCOLS.md §2.1: body limit 6 MB, GIF not accepted; 64 KiB kept for the other fields
    # and the multipart framing.
    assert backend.image_limits.max_bytes == 6 * 1024 * 1024 - 64 * 1024
    assert backend.image_limits.formats == {"JPEG", "PNG", "BMP"}
    assert backend.accepts_url is True
    # The doc's recommendation, "similarity > 75", when the alias sets no THRESHOLD.
    assert backend.threshold == 75.0
    assert legacy(THRESHOLD=80).threshold == 80.0


@pytest.mark.parametrize("missing", ["APPID", "SECRET_ID", "SECRET_KEY"])
def test_each_credential_is_required(legacy: Callable[..., LegacyBackend], missing: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=rf"backend 'default' needs {missing} "):
        legacy(**{missing: ""})


def test_the_simulator_backend_needs_no_credentials(
    settings: Any, simulator: SimulatorServer
) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": {"BACKEND": "simulator", "ENDPOINT": simulator.base_url}},
    }
    backend = get_backend("default")
    assert isinstance(backend, SimulatorBackend)
    photo = demo_people()[0].photo_bytes
    outcome = backend.verify(VerificationRequest(magic.MATCH, NAME, image=photo))
    assert (outcome.code, outcome.similarity) == ("0", magic.MATCH_SIMILARITY)


def test_the_simulator_backend_defaults_to_the_simulators_address_and_account(
    settings: Any,
) -> None:
    from face_idcard.simulator import DEFAULT_APPID, DEFAULT_SECRET_ID

    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": {"BACKEND": "simulator"}},
    }
    backend = get_backend("default")
    assert isinstance(backend, SimulatorBackend)
    assert backend.client.endpoint == "http://127.0.0.1:8701"
    assert (backend.option("APPID"), backend.option("SECRET_ID")) == (
        DEFAULT_APPID,
        DEFAULT_SECRET_ID,
    )


def test_the_legacy_backend_defaults_to_tencents_endpoint(settings: Any) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": {"BACKEND": "legacy", **CREDENTIALS}},
    }
    backend = get_backend("default")
    assert isinstance(backend, LegacyBackend)
    assert backend.client.endpoint == "https://recognition.image.myqcloud.com"


def test_a_timeout_is_an_outcome_of_the_legacy_catalogue(
    legacy: Callable[..., LegacyBackend], fake: FakeProvider
) -> None:
    """Over real HTTP: the client raises on the read timeout, ``verify`` answers."""
    from tests.support.fakeprovider import Hang

    fake.script(Hang(seconds=2.0))
    outcome = legacy(READ_TIMEOUT_SECONDS=0.2).verify(image_request())
    assert (outcome.code, outcome.error_class, outcome.billable) == (
        "transport.timeout",
        ErrorClass.TRANSIENT,
        None,
    )


@pytest.mark.parametrize(
    ("backend", "allowed", "refused"),
    [("simulator", False, True), ("simulator", True, False), ("legacy", False, False)],
)
def test_the_simulator_is_an_error_when_debug_is_off_unless_allowed(
    settings: Any, backend: str, allowed: bool, refused: bool
) -> None:
    settings.DEBUG = False
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": {"BACKEND": backend, **CREDENTIALS}},
        "ALLOW_DEVELOPMENT_BACKENDS": allowed,
    }
    messages = {message.id: message for message in run_checks()}
    assert ("face_idcard.E030" in messages) is refused
    if refused:
        assert messages["face_idcard.E030"].is_serious()
