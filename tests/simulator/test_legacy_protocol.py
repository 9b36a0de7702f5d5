"""The simulator's legacy protocol over real HTTP: signatures, both body modes, inputs, magic."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import requests
from PIL import Image

from face_idcard.providers.legacy import signing
from face_idcard.providers.legacy.client import IdCardCompareClient
from face_idcard.simulator import (
    DEFAULT_APPID,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SimulatorServer,
    magic,
)
from face_idcard.simulator.registry import Person, demo_people
from tests.support.simulator_http import PATH, answer, authorization, code_of, plaintext, post_json

UNREGISTERED = "11010519491231002X"  # valid check character, not in the demo registry
BAD_CHECKSUM = "110110199909090909"  # the placeholder of Tencent's page: fails the checksum

PEOPLE = demo_people()
ZHANG, LI = PEOPLE[0], PEOPLE[1]


# --- helpers ---------------------------------------------------------------------------------


def post_form(
    sim: SimulatorServer,
    number: str,
    name: str,
    image: bytes | None,
    *,
    auth: str | None = None,
    extra: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> requests.Response:
    fields = {"appid": DEFAULT_APPID, "idcard_number": number, "idcard_name": name, **(extra or {})}
    # Always multipart: plain text parts (no filename), plus the image part when there is one.
    parts: dict[str, Any] = {
        key: (None, value.encode("utf-8"), None) for key, value in fields.items()
    }
    if image is not None:
        parts["image"] = ("photo.jpg", image, "image/jpeg")
    return requests.post(
        sim.base_url + PATH,
        files=parts,
        headers={"Authorization": auth if auth is not None else authorization()},
        timeout=timeout,
    )


def jpeg_of(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def blank_jpeg() -> bytes:
    return jpeg_of(Image.new("RGB", (300, 400), (128, 128, 128)))


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 80), (200, 10, 10)).save(buffer, format="GIF")
    return buffer.getvalue()


class _ImageHandler(BaseHTTPRequestHandler):
    images: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        if self.path == "/slow.jpg":
            time.sleep(1.5)  # longer than the simulator's fetch timeout in the test
        data = self.images.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        # The simulator stops reading an oversized image: that reset is expected.
        with contextlib.suppress(ConnectionError):
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def image_server() -> Iterator[str]:
    """A local image host on 127.0.0.1: /zhang.jpg, /li.jpg, /big.jpg (7 MB); the rest 404."""
    handler = type(
        "Handler",
        (_ImageHandler,),
        {
            "images": {
                "/zhang.jpg": ZHANG.photo_bytes,
                "/li.jpg": LI.photo_bytes,
                "/big.jpg": ZHANG.photo_bytes + b"\0" * (7 * 1024 * 1024),
                "/slow.jpg": ZHANG.photo_bytes,
            }
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- the happy path, through the project's own client -----------------------------------------


def test_client_gets_a_high_score_for_the_registered_photo(simulator: SimulatorServer) -> None:
    with IdCardCompareClient(
        DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, endpoint=simulator.base_url
    ) as client:
        same = client.compare(ZHANG.idcard_number, ZHANG.idcard_name, image=ZHANG.photo_bytes)
        other = client.compare(ZHANG.idcard_number, ZHANG.idcard_name, image=LI.photo_bytes)
    assert same.code == "0" and same.similarity is not None and same.similarity > 90
    assert other.code == "0" and other.similarity is not None and other.similarity < 40
    assert simulator.ledger.billable == 2


# --- body modes -------------------------------------------------------------------------------


def test_multipart_with_plain_text_parts(simulator: SimulatorServer) -> None:
    body = answer(post_form(simulator, ZHANG.idcard_number, ZHANG.idcard_name, ZHANG.photo_bytes))
    assert body["code"] == 0
    assert body["message"] == "OK"
    assert body["data"]["similarity"] > 90


def test_multipart_with_file_like_text_parts_as_qcloud_image_sends_them(
    simulator: SimulatorServer,
) -> None:
    # (filename, bytes) without a content type: requests writes filename="appid" and no
    # Content-Type for the part, exactly like Tencent's own Python SDK.
    files = {
        "appid": ("appid", DEFAULT_APPID.encode()),
        "idcard_number": ("idcard_number", ZHANG.idcard_number.encode()),
        "idcard_name": ("idcard_name", ZHANG.idcard_name.encode("utf-8")),
        "image": ("image", ZHANG.photo_bytes),
    }
    prepared = requests.Request(
        "POST", simulator.base_url + PATH, files=files, headers={"Authorization": authorization()}
    ).prepare()
    assert isinstance(prepared.body, bytes) and b'filename="appid"' in prepared.body
    with requests.Session() as session:
        response = session.send(prepared, timeout=10)
    body = answer(response)
    assert body["code"] == 0 and body["data"]["similarity"] > 90


def test_multipart_written_by_hand_like_the_api_page_example(simulator: SimulatorServer) -> None:
    boundary = "--------------acebdf13572468"
    parts = []
    for name, value in (
        ("appid", DEFAULT_APPID.encode()),
        ("idcard_number", LI.idcard_number.encode()),
        ("idcard_name", LI.idcard_name.encode("utf-8")),
    ):
        parts.append(
            b"--" + boundary.encode() + b"\r\n"
            b'Content-Disposition: form-data; name="'
            + name.encode()
            + b'";\r\n\r\n'
            + value
            + b"\r\n"
        )
    parts.append(
        b"--" + boundary.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="image"; filename="test.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + LI.photo_bytes + b"\r\n"
    )
    data = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    response = requests.post(
        simulator.base_url + PATH,
        data=data,
        headers={
            "Authorization": authorization(),
            "Content-Type": f"multipart/form-data;boundary={boundary}",
        },
        timeout=10,
    )
    body = answer(response)
    assert body["code"] == 0 and body["data"]["similarity"] > 90


def test_name_as_literal_unicode_escapes(simulator: SimulatorServer) -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in ZHANG.idcard_name)
    assert "\\u" in escaped and ZHANG.idcard_name not in escaped
    body = answer(post_form(simulator, ZHANG.idcard_number, escaped, ZHANG.photo_bytes))
    assert body["code"] == 0 and body["data"]["similarity"] > 90


def test_minority_name_with_middle_dot(simulator: SimulatorServer) -> None:
    person = PEOPLE[3]
    assert "·" in person.idcard_name
    body = answer(
        post_form(simulator, person.idcard_number, person.idcard_name, person.photo_bytes)
    )
    assert body["code"] == 0 and body["data"]["similarity"] > 90


def test_json_mode_downloads_the_url(simulator: SimulatorServer, image_server: str) -> None:
    body = answer(
        post_json(
            simulator,
            {
                "appid": DEFAULT_APPID,
                "idcard_number": ZHANG.idcard_number,
                "idcard_name": ZHANG.idcard_name,
                "url": image_server + "/zhang.jpg",
            },
        )
    )
    assert body["code"] == 0 and body["data"]["similarity"] > 90


def test_url_wins_over_image_when_both_are_sent(
    simulator: SimulatorServer, image_server: str
) -> None:
    response = post_form(
        simulator,
        ZHANG.idcard_number,
        ZHANG.idcard_name,
        ZHANG.photo_bytes,
        extra={"url": image_server + "/li.jpg"},
    )
    body = answer(response)
    assert body["code"] == 0 and body["data"]["similarity"] < 40


@pytest.mark.parametrize("path", ["/missing.jpg", "/big.jpg"])
def test_url_that_cannot_be_downloaded_answers_5805(
    simulator: SimulatorServer, image_server: str, path: str
) -> None:
    body = {
        "appid": DEFAULT_APPID,
        "idcard_number": ZHANG.idcard_number,
        "idcard_name": ZHANG.idcard_name,
        "url": image_server + path,
    }
    assert code_of(post_json(simulator, body)) == -5805
    assert simulator.ledger.billable == 0


def test_url_download_times_out(simulator_factory: Any, image_server: str) -> None:
    sim = simulator_factory(url_fetch_timeout=0.3)
    body = {
        "appid": DEFAULT_APPID,
        "idcard_number": ZHANG.idcard_number,
        "idcard_name": ZHANG.idcard_name,
        "url": image_server + "/slow.jpg",
    }
    started = time.perf_counter()
    assert code_of(post_json(sim, body)) == -5805
    assert time.perf_counter() - started < 1.4


def test_chunked_request_body_is_read(simulator: SimulatorServer) -> None:
    prepared = requests.Request(
        "POST",
        simulator.base_url + PATH,
        files={
            "appid": (None, DEFAULT_APPID),
            "idcard_number": (None, ZHANG.idcard_number),
            "idcard_name": (None, ZHANG.idcard_name),
            "image": ("a.jpg", ZHANG.photo_bytes, "image/jpeg"),
        },
        headers={"Authorization": authorization()},
    ).prepare()
    assert isinstance(prepared.body, bytes)
    content = prepared.body

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(content), 4096):
            yield content[start : start + 4096]

    response = requests.post(
        simulator.base_url + PATH,
        data=pieces(),
        headers={
            "Authorization": authorization(),
            "Content-Type": prepared.headers["Content-Type"],
        },
        timeout=10,
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    body = answer(response)
    assert body["code"] == 0 and body["data"]["similarity"] > 90


def test_url_to_a_closed_port_answers_5805(simulator: SimulatorServer) -> None:
    body = {
        "appid": DEFAULT_APPID,
        "idcard_number": ZHANG.idcard_number,
        "idcard_name": ZHANG.idcard_name,
        "url": "http://127.0.0.1:9/photo.jpg",
    }
    assert code_of(post_json(simulator, body)) == -5805


def test_session_id_is_echoed_or_generated(simulator: SimulatorServer) -> None:
    echoed = answer(
        post_form(simulator, magic.MATCH, "张三", ZHANG.photo_bytes, extra={"session_id": "s-42"})
    )
    assert echoed["data"]["session_id"] == "s-42"
    first = answer(post_form(simulator, magic.MATCH, "张三", ZHANG.photo_bytes))
    second = answer(post_form(simulator, magic.MATCH, "张三", ZHANG.photo_bytes))
    assert first["data"]["session_id"] != second["data"]["session_id"]
    assert [call.session_id for call in simulator.ledger.calls()] == [
        "s-42",
        first["data"]["session_id"],
        second["data"]["session_id"],
    ]


# --- input errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "name", "image", "expected"),
    [
        ("", "张三", ZHANG.photo_bytes, -5801),
        (ZHANG.idcard_number, "", ZHANG.photo_bytes, -5801),
        (BAD_CHECKSUM, "张三", ZHANG.photo_bytes, -5804),
        ("12345", "张三", ZHANG.photo_bytes, -5804),
        (ZHANG.idcard_number, "李四", ZHANG.photo_bytes, -5803),
        (UNREGISTERED, "张三", ZHANG.photo_bytes, -4009),
        (ZHANG.idcard_number, ZHANG.idcard_name, None, -5805),
        (ZHANG.idcard_number, ZHANG.idcard_name, b"", -5805),
        (ZHANG.idcard_number, ZHANG.idcard_name, gif_bytes(), -1400),
        (ZHANG.idcard_number, ZHANG.idcard_name, b"not an image at all", -4016),
        (ZHANG.idcard_number, ZHANG.idcard_name, ZHANG.photo_bytes[:200], -4016),
        (ZHANG.idcard_number, ZHANG.idcard_name, blank_jpeg(), -4015),
    ],
    ids=[
        "no-number",
        "no-name",
        "bad-checksum",
        "short-number",
        "name-mismatch",
        "unregistered",
        "no-image",
        "empty-image",
        "gif",
        "garbage",
        "truncated-jpeg",
        "blank-no-face",
    ],
)
def test_input_outcomes(
    simulator: SimulatorServer, number: str, name: str, image: bytes | None, expected: int
) -> None:
    assert code_of(post_form(simulator, number, name, image)) == expected


def test_lowercase_x_check_character_is_accepted(simulator: SimulatorServer) -> None:
    assert code_of(post_form(simulator, magic.ARREARS.lower(), "张三", None)) == 3


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/json", b"\xff\xfe"),
        ("text/plain", b"appid=1"),
        ("multipart/form-data; boundary=xyz", b"no parts here"),
        ("multipart/form-data", b"--xyz--"),
    ],
)
def test_malformed_bodies_answer_21(
    simulator: SimulatorServer, content_type: str, data: bytes
) -> None:
    response = requests.post(
        simulator.base_url + PATH,
        data=data,
        headers={"Authorization": authorization(), "Content-Type": content_type},
        timeout=10,
    )
    assert code_of(response) == 21


def test_missing_appid_in_the_body_answers_21(simulator: SimulatorServer) -> None:
    body = {"idcard_number": magic.MATCH, "idcard_name": "张三", "url": "http://127.0.0.1:9/x"}
    assert code_of(post_json(simulator, body)) == 21


def test_body_over_6_mb_answers_23_and_closes_the_connection(simulator: SimulatorServer) -> None:
    oversized = b"\xff" * (6 * 1024 * 1024 + 1)
    response = post_form(simulator, ZHANG.idcard_number, ZHANG.idcard_name, oversized)
    assert code_of(response) == 23
    assert response.headers["Connection"] == "close"
    record = simulator.ledger.calls()[-1]
    assert record.code == 23 and not record.billable


def test_body_just_under_6_mb_is_read(simulator: SimulatorServer) -> None:
    # A valid JPEG padded with trailing bytes (decoders ignore what follows the end marker).
    padding = 6 * 1024 * 1024 - len(ZHANG.photo_bytes) - 2048
    response = post_form(
        simulator, ZHANG.idcard_number, ZHANG.idcard_name, ZHANG.photo_bytes + b"\0" * padding
    )
    body = answer(response)
    assert body["code"] == 0 and body["data"]["similarity"] > 90


def test_23_is_decided_from_content_length_without_reading_the_body(
    simulator: SimulatorServer,
) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", simulator.port), timeout=5) as sock:
        sock.sendall(
            b"POST /face/idcardcompare HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000000\r\n"
            b"Authorization: " + authorization().encode() + b"\r\n\r\n"
        )
        # Nothing of the 50 MB is sent: the answer must come anyway.
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(payload)["code"] == 23


# --- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["abketrf", "abkter", "akteruf", "fruetkba", "kabetrf"])
def test_signature_fields_in_any_order_are_accepted(simulator: SimulatorServer, order: str) -> None:
    response = post_form(
        simulator, magic.MATCH, "张三", ZHANG.photo_bytes, auth=authorization(plaintext(order))
    )
    assert code_of(response) == 0


def test_signature_from_the_official_sdk_function_is_accepted(simulator: SimulatorServer) -> None:
    auth = signing.sign_legacy(
        appid=DEFAULT_APPID, secret_id=DEFAULT_SECRET_ID, secret_key=DEFAULT_SECRET_KEY
    )
    assert code_of(post_form(simulator, magic.MATCH, "张三", ZHANG.photo_bytes, auth=auth)) == 0


def _raw_header(digest: bytes, text: bytes) -> str:
    return base64.b64encode(digest + text).decode()


def _hmac(text: bytes, key: str = DEFAULT_SECRET_KEY) -> bytes:
    return hmac.new(key.encode(), text, hashlib.sha1).digest()


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        pytest.param("", 4, id="empty"),
        pytest.param("!!! not base64 !!!", 5, id="garbage"),
        pytest.param(base64.b64encode(b"short").decode(), 5, id="too-short"),
        pytest.param(_raw_header(b"x" * 20, b"no pairs here"), 5, id="not-pairs"),
        pytest.param(authorization(plaintext("abketf")), 5, id="missing-r"),
        pytest.param(authorization(plaintext("abktrf")), 5, id="missing-e"),
        pytest.param(authorization(plaintext("bketrf")), 5, id="missing-a"),
        pytest.param(authorization(plaintext("abetrf")), 5, id="missing-k"),
        pytest.param(authorization(plaintext(e="soon")), 5, id="e-not-a-number"),
        pytest.param(authorization(plaintext(r="12345678901")), 5, id="r-over-10-digits"),
        pytest.param(
            authorization(plaintext(k="AKIDunknownunknownunknownunknown0000")),
            11,
            id="unknown-secret-id",
        ),
        pytest.param(authorization(plaintext(a="1000000002")), 12, id="appid-secret-id-mismatch"),
        pytest.param(authorization(key="wrong-key-wrong-key-wrong-key-00"), 14, id="wrong-key"),
        pytest.param(
            _raw_header(_hmac(plaintext().encode()), plaintext(r="99999").encode()),
            14,
            id="tampered-plaintext",
        ),
        pytest.param(
            authorization(plaintext(t=str(int(time.time()) - 900), e=str(int(time.time()) - 600))),
            9,
            id="expired",
        ),
    ],
)
def test_signature_failures(simulator: SimulatorServer, auth: str, expected: int) -> None:
    response = post_form(simulator, magic.MATCH, "张三", ZHANG.photo_bytes, auth=auth)
    assert code_of(response) == expected
    assert simulator.ledger.billable == 0


def test_missing_authorization_header_answers_4(simulator: SimulatorServer) -> None:
    response = requests.post(
        simulator.base_url + PATH,
        data={"appid": DEFAULT_APPID, "idcard_number": magic.MATCH, "idcard_name": "张三"},
        files={"image": ("a.jpg", ZHANG.photo_bytes, "image/jpeg")},
        timeout=10,
    )
    assert code_of(response) == 4


def test_signature_appid_differs_from_the_body_appid_answers_6(
    simulator: SimulatorServer,
) -> None:
    response = post_form(
        simulator, magic.MATCH, "张三", ZHANG.photo_bytes, extra={"appid": "1000000002"}
    )
    assert code_of(response) == 6


def test_signature_bucket_differs_from_the_body_bucket_answers_6(
    simulator: SimulatorServer,
) -> None:
    auth = authorization(plaintext(b="bucket-one"))
    response = post_form(
        simulator, magic.MATCH, "张三", ZHANG.photo_bytes, auth=auth, extra={"bucket": "other"}
    )
    assert code_of(response) == 6
    same = post_form(
        simulator, magic.MATCH, "张三", ZHANG.photo_bytes, auth=auth, extra={"bucket": "bucket-one"}
    )
    assert code_of(same) == 0


def test_other_account_is_accepted_when_configured(simulator_factory: Any) -> None:
    sim = simulator_factory(appid="1250000000", secret_id="AKIDother", secret_key="other-key")
    auth = signing.sign_legacy(appid="1250000000", secret_id="AKIDother", secret_key="other-key")
    response = requests.post(
        sim.base_url + PATH,
        json={"appid": "1250000000", "idcard_number": magic.ARREARS, "idcard_name": "张三"},
        headers={"Authorization": auth},
        timeout=10,
    )
    assert code_of(response) == 3
    # The default account is not accepted there.
    assert code_of(post_form(sim, magic.MATCH, "张三", ZHANG.photo_bytes)) == 11


# --- magic numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected_code", "expected_similarity"),
    [
        (magic.MATCH, 0, magic.MATCH_SIMILARITY),
        (magic.NO_MATCH, 0, magic.NO_MATCH_SIMILARITY),
        (magic.REVIEW, 0, magic.REVIEW_SIMILARITY),
        (magic.NAME_MISMATCH, -5803, 0.0),
        (magic.NO_FACE, -4015, 0.0),
        (magic.RATE_LIMITED, 15, 0.0),
        (magic.INTERNAL_ERROR, 213, 0.0),
        (magic.SERVICE_UNAVAILABLE, -5802, 0.0),
        (magic.ARREARS, 3, 0.0),
    ],
)
def test_magic_json_outcomes(
    simulator: SimulatorServer, number: str, expected_code: int, expected_similarity: float
) -> None:
    # Any name goes with a magic number; the photo is someone else's on purpose.
    body = answer(post_form(simulator, number, "随便", LI.photo_bytes))
    assert body["code"] == expected_code
    assert body["data"]["similarity"] == expected_similarity


def test_magic_values_match_the_documented_figures() -> None:
    assert (magic.MATCH_SIMILARITY, magic.NO_MATCH_SIMILARITY, magic.REVIEW_SIMILARITY) == (
        95.0,
        20.0,
        74.0,
    )


def test_arrears_message(simulator: SimulatorServer) -> None:
    body = answer(post_form(simulator, magic.ARREARS, "张三", None))
    assert body["message"] == "account abnormal,errorno is:2"


def test_service_side_magic_needs_no_image(simulator: SimulatorServer) -> None:
    assert code_of(post_form(simulator, magic.INTERNAL_ERROR, "张三", None)) == 213
    # A person outcome still needs the image first.
    assert code_of(post_form(simulator, magic.MATCH, "张三", None)) == -5805


def test_magic_billing(simulator: SimulatorServer) -> None:
    for number in (
        magic.MATCH,
        magic.NAME_MISMATCH,
        magic.NO_FACE,
        magic.RATE_LIMITED,
        magic.ARREARS,
    ):
        post_form(simulator, number, "张三", ZHANG.photo_bytes)
    stats = simulator.ledger.stats()
    assert stats["total"] == 5
    assert stats["billable"] == 3  # match, name mismatch, no face


def test_flaky_fails_n_times_then_matches(simulator: SimulatorServer) -> None:
    number = magic.flaky(2)
    codes = [code_of(post_form(simulator, number, "张三", ZHANG.photo_bytes)) for _ in range(4)]
    assert codes == [213, 213, 0, 0]
    simulator.reset()
    assert code_of(post_form(simulator, number, "张三", ZHANG.photo_bytes)) == 213


def test_flaky_variants_count_separately(simulator: SimulatorServer) -> None:
    first, second = magic.flaky(1, variant=1), magic.flaky(1, variant=2)
    assert first != second
    assert code_of(post_form(simulator, first, "张三", ZHANG.photo_bytes)) == 213
    assert code_of(post_form(simulator, second, "张三", ZHANG.photo_bytes)) == 213
    assert code_of(post_form(simulator, first, "张三", ZHANG.photo_bytes)) == 0


def test_slow_answers_a_match_after_the_delay(simulator: SimulatorServer) -> None:
    started = time.perf_counter()
    body = answer(post_form(simulator, magic.slow(400), "张三", ZHANG.photo_bytes))
    elapsed = time.perf_counter() - started
    assert body["code"] == 0 and body["data"]["similarity"] == magic.MATCH_SIMILARITY
    assert 0.4 <= elapsed < 3.0
    fast_started = time.perf_counter()
    post_form(simulator, magic.slow(0), "张三", ZHANG.photo_bytes)
    assert time.perf_counter() - fast_started < 0.4


def test_hang_gives_no_answer(simulator: SimulatorServer) -> None:
    with pytest.raises(requests.ReadTimeout):
        post_form(simulator, magic.HANG, "张三", ZHANG.photo_bytes, timeout=0.5)
    assert simulator.ledger.calls()[-1].outcome == "hang"


def test_bad_gateway_is_an_html_502(simulator: SimulatorServer) -> None:
    response = post_form(simulator, magic.BAD_GATEWAY, "张三", ZHANG.photo_bytes)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()


def test_drop_closes_the_connection_without_an_answer(simulator: SimulatorServer) -> None:
    with pytest.raises(requests.ConnectionError):
        post_form(simulator, magic.DROP, "张三", ZHANG.photo_bytes)
    assert simulator.ledger.calls()[-1].outcome == "drop"


def test_client_sees_transport_faults(simulator: SimulatorServer) -> None:
    from face_idcard import exceptions

    with IdCardCompareClient(
        DEFAULT_APPID,
        DEFAULT_SECRET_ID,
        DEFAULT_SECRET_KEY,
        endpoint=simulator.base_url,
        timeout=(1.0, 0.5),
    ) as client:
        for number in (magic.HANG, magic.BAD_GATEWAY, magic.DROP):
            with pytest.raises(exceptions.ProviderError) as caught:
                client.compare(number, "张三", image=ZHANG.photo_bytes)
            assert caught.value.code.startswith("transport.")


def test_registered_person_answers_with_registry_semantics(simulator: SimulatorServer) -> None:
    person: Person = PEOPLE[2]
    near_copy = jpeg_of(Image.open(io.BytesIO(person.photo_bytes)).resize((150, 200)), quality=60)
    body = answer(post_form(simulator, person.idcard_number, person.idcard_name, near_copy))
    assert body["code"] == 0 and body["data"]["similarity"] > 90


def test_deeply_nested_json_is_code_21(simulator: SimulatorServer) -> None:
    response = requests.post(
        simulator.base_url + PATH,
        data=b"[" * 100_000,
        headers={"Authorization": authorization(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert code_of(response) == 21
