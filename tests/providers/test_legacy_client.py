"""The legacy provider client, over real HTTP against a scripted loopback server."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from face_idcard import exceptions
from face_idcard.outcome import ErrorClass
from face_idcard.providers.legacy import codes as legacy_codes
from face_idcard.providers.legacy import signing
from face_idcard.providers.legacy.client import CompareResult, IdCardCompareClient
from tests.support.fakeprovider import (
    Drop,
    FakeProvider,
    Hang,
    JsonReply,
    RawReply,
    RecordedRequest,
    StallBody,
    Truncate,
    closed_port,
    error,
    parse_multipart,
    success,
)
from tests.support.paths import REPO_ROOT

APPID = "1250000001"
SECRET_ID = "AKIDclientTestSecretId0000000000000"
SECRET_KEY = "clientTestSecretKeyNeverLogged0000"
NUMBER = "11010519491231002X"
OTHER_NUMBER = "360426199101010071"
NAME = "张三"
MINORITY_NAME = "阿依古丽·买买提"
# Every byte value, CRLFs and a boundary-looking line: the image must arrive untouched.
IMAGE = b"\xff\xd8\xff\xe0" + bytes(range(256)) + b"\r\n--boundary\r\n\r\n" + b"\x00" * 64
SIGNED_URL = "https://photos.example.invalid/selfie.jpg?sign=SIGNEDTOKEN12345"
SHORT_READ = 0.3


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server
    assert server.server_errors == []


@pytest.fixture
def client(fake: FakeProvider) -> Iterator[IdCardCompareClient]:
    with IdCardCompareClient(
        APPID, SECRET_ID, SECRET_KEY, endpoint=fake.url, timeout=(2.0, SHORT_READ)
    ) as instance:
        yield instance


def echo_session(request: RecordedRequest) -> JsonReply:
    """Answer like the provider: echo the caller's session_id."""
    session_id = request.field("session_id") if _has_field(request, "session_id") else ""
    return success(similarity=91.25, session_id=session_id)


def _has_field(request: RecordedRequest, name: str) -> bool:
    return name in request.parts if request.is_multipart else name in (request.json or {})


# --- Success and outcome classes -----------------------------------------------------------


def test_success_parses_similarity_and_echoes_session_id(
    fake: FakeProvider, client: IdCardCompareClient
) -> None:
    fake.default = echo_session

    result = client.compare(NUMBER, NAME, image=IMAGE, session_id="sess-0042")

    assert result.code == "0"
    assert result.similarity == 91.25
    assert result.session_id == "sess-0042"
    assert result.ok
    assert result.error_class is ErrorClass.SUCCESS
    assert result.http_status == 200
    assert result.url_mode is False
    assert result.raw == {
        "data": {"similarity": 91.25, "session_id": "sess-0042"},
        "code": 0,
        "message": "OK",
    }
    assert result.message == "OK"
    assert 0 < result.elapsed < 2
    result.raise_for_code()  # no exception on success
    assert hash(result) == hash(result)  # frozen results can go into sets and dict keys


# Expected classes copied from PROTOCOLS.md §2.4, not derived from the catalogue.
OUTCOMES = [
    pytest.param(
        15, "too many", False, ErrorClass.TRANSIENT, exceptions.TransientProviderError, id="15"
    ),
    pytest.param(
        213, "internal", False, ErrorClass.TRANSIENT, exceptions.TransientProviderError, id="213"
    ),
    pytest.param(
        -5802, "busy", False, ErrorClass.TRANSIENT, exceptions.TransientProviderError, id="-5802"
    ),
    pytest.param(9, "expired", False, ErrorClass.RESIGN, exceptions.ResignRequired, id="9"),
    pytest.param(13, "replay", False, ErrorClass.RESIGN, exceptions.ResignRequired, id="13"),
    pytest.param(
        3,
        "account abnormal,errorno is:2",
        False,
        ErrorClass.CONFIGURATION,
        exceptions.ProviderConfigurationError,
        id="3-arrears",
    ),
    pytest.param(
        4,
        "sign empty",
        False,
        ErrorClass.CONFIGURATION,
        exceptions.ProviderConfigurationError,
        id="4",
    ),
    pytest.param(
        14,
        "sign check",
        False,
        ErrorClass.CONFIGURATION,
        exceptions.ProviderConfigurationError,
        id="14",
    ),
    pytest.param(21, "bad param", False, ErrorClass.INPUT, exceptions.ProviderRejected, id="21"),
    pytest.param(
        -5803, "mismatch", False, ErrorClass.INPUT, exceptions.ProviderRejected, id="-5803"
    ),
    pytest.param(
        -5804, "bad number", False, ErrorClass.INPUT, exceptions.ProviderRejected, id="-5804"
    ),
    pytest.param(
        -5805, "download", True, ErrorClass.URL_FETCH, exceptions.UrlFetchFailed, id="-5805-url"
    ),
    pytest.param(
        -5805, "no image", False, ErrorClass.INPUT, exceptions.ProviderRejected, id="-5805-image"
    ),
    pytest.param(
        987654,
        "new thing",
        False,
        ErrorClass.UNKNOWN,
        exceptions.UnknownProviderError,
        id="unknown",
    ),
]


@pytest.mark.parametrize(
    ("code", "message", "url_mode", "expected_class", "expected_exception"), OUTCOMES
)
def test_provider_codes_are_results_classified_and_raised(
    fake: FakeProvider,
    client: IdCardCompareClient,
    code: int,
    message: str,
    url_mode: bool,
    expected_class: ErrorClass,
    expected_exception: type[exceptions.ProviderError],
) -> None:
    # A marker in the provider's message shows whether the message leaked into the exception.
    marker = f"#provider-text-{code}"
    message = f"{message} {marker}"
    fake.script(error(code, message))
    if url_mode:
        result = client.compare(NUMBER, NAME, url=SIGNED_URL)
    else:
        result = client.compare(NUMBER, NAME, image=IMAGE)

    assert result.code == str(code)
    assert result.message == message
    assert result.url_mode is url_mode
    assert result.error_class is expected_class
    assert not result.ok
    assert result.similarity is None
    with pytest.raises(expected_exception) as raised:
        result.raise_for_code()
    assert type(raised.value) is expected_exception
    assert raised.value.code == str(code)
    assert raised.value.result is result
    assert raised.value.elapsed == result.elapsed
    assert raised.value.error_class is expected_class
    assert marker not in str(raised.value)


def test_arrears_message_is_recognised(fake: FakeProvider, client: IdCardCompareClient) -> None:
    fake.script(error(3, "account abnormal,errorno is:2"), error(3, "bad request"))
    assert client.compare(NUMBER, NAME, image=IMAGE).is_account_in_arrears
    assert not client.compare(NUMBER, NAME, image=IMAGE).is_account_in_arrears


@pytest.mark.parametrize(
    ("payload", "code", "similarity"),
    [
        ({"code": "-5803", "message": "x"}, "-5803", None),
        ({"code": 15.0, "message": "x"}, "15", None),
        ({"code": " 0 ", "data": {"similarity": "77.5"}}, "0", 77.5),
        ({"code": 0, "data": {"similarity": 100}}, "0", 100.0),
        ({"code": 0, "data": {"similarity": "not a number"}}, "0", None),
        ({"code": 0, "data": {"similarity": True}}, "0", None),
        ({"code": 0, "data": "not an object"}, "0", None),
        ({"code": 0}, "0", None),
    ],
)
def test_code_and_similarity_are_parsed_robustly(
    fake: FakeProvider,
    client: IdCardCompareClient,
    payload: dict[str, Any],
    code: str,
    similarity: float | None,
) -> None:
    fake.script(JsonReply(payload))
    result = client.compare(NUMBER, NAME, image=IMAGE)
    assert result.code == code
    assert result.similarity == similarity
    assert result.raw == payload
    assert result.session_id == ""


def test_success_code_without_similarity_is_not_ok(
    fake: FakeProvider, client: IdCardCompareClient
) -> None:
    fake.script(JsonReply({"code": 0, "message": "OK", "data": {}}))
    result = client.compare(NUMBER, NAME, image=IMAGE)
    assert not result.ok
    with pytest.raises(exceptions.ProviderBadResponse):
        result.raise_for_code()


@pytest.mark.parametrize(
    ("reply", "code", "expected_class"),
    [
        (
            JsonReply({"code": 15, "message": "limit", "data": {}}, status=500),
            "15",
            ErrorClass.TRANSIENT,
        ),
        (
            JsonReply({"code": -5803, "message": "mismatch", "data": {}}, status=500),
            "-5803",
            ErrorClass.INPUT,
        ),
        (
            JsonReply(
                {"code": 0, "message": "OK", "data": {"similarity": 80.0, "session_id": ""}},
                status=500,
            ),
            "0",
            ErrorClass.SUCCESS,
        ),
    ],
)
def test_json_code_decides_even_with_http_500(
    fake: FakeProvider,
    client: IdCardCompareClient,
    reply: JsonReply,
    code: str,
    expected_class: ErrorClass,
) -> None:
    fake.script(reply)
    result = client.compare(NUMBER, NAME, image=IMAGE)
    assert result.http_status == 500
    assert result.code == code
    assert result.error_class is expected_class


# --- Transport failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (RawReply(b"<html><body>502 Bad Gateway</body></html>", status=502), 502),
        (RawReply(b"", status=200, content_type="application/json"), 200),
        (RawReply(b"[1, 2]", status=200, content_type="application/json"), 200),
        (RawReply(b'{"message": "no code"}', status=200, content_type="application/json"), 200),
        (RawReply(b'{"code": "abc"}', status=200, content_type="application/json"), 200),
        (RawReply(b'{"code": true}', status=200, content_type="application/json"), 200),
        (RawReply(b'{"code": 1.5}', status=200, content_type="application/json"), 200),
        (RawReply(b"\xff\xfe\x00garbage", status=503, content_type="application/json"), 503),
    ],
)
def test_unusable_body_is_bad_response(
    fake: FakeProvider, client: IdCardCompareClient, reply: RawReply, status: int
) -> None:
    fake.script(reply)
    with pytest.raises(exceptions.ProviderBadResponse) as raised:
        client.compare(NUMBER, NAME, image=IMAGE)
    assert raised.value.code == legacy_codes.TRANSPORT_BAD_RESPONSE
    assert raised.value.detail == f"HTTP {status}"
    assert raised.value.error_class is ErrorClass.TRANSIENT
    assert raised.value.elapsed is not None


def test_hang_past_read_timeout_is_timeout_and_fast(
    fake: FakeProvider, client: IdCardCompareClient
) -> None:
    fake.script(Hang(seconds=5))
    started = time.monotonic()
    with pytest.raises(exceptions.ProviderTimeout) as raised:
        client.compare(NUMBER, NAME, image=IMAGE)
    waited = time.monotonic() - started
    assert SHORT_READ <= waited < 1.5
    assert raised.value.code == legacy_codes.TRANSPORT_TIMEOUT
    assert raised.value.detail == "ReadTimeout"
    assert raised.value.elapsed is not None and raised.value.elapsed >= SHORT_READ


def test_stall_in_the_middle_of_the_body_is_timeout(
    fake: FakeProvider, client: IdCardCompareClient
) -> None:
    fake.script(StallBody(seconds=5))
    started = time.monotonic()
    with pytest.raises(exceptions.ProviderTimeout):
        client.compare(NUMBER, NAME, image=IMAGE)
    assert time.monotonic() - started < 1.5


def test_refused_connection_is_connection_error() -> None:
    port = closed_port()
    with (
        IdCardCompareClient(
            APPID, SECRET_ID, SECRET_KEY, endpoint=f"http://127.0.0.1:{port}", timeout=(1.0, 1.0)
        ) as client,
        pytest.raises(exceptions.ProviderConnectionError) as raised,
    ):
        client.compare(NUMBER, NAME, image=IMAGE)
    assert raised.value.code == legacy_codes.TRANSPORT_CONNECTION
    assert raised.value.detail == "ConnectionError"


@pytest.mark.parametrize(
    "reply", [Drop(), Drop(reset=True), Truncate()], ids=["fin", "rst", "truncated"]
)
def test_dropped_connection_is_connection_error(
    fake: FakeProvider, client: IdCardCompareClient, reply: Drop | Truncate
) -> None:
    fake.script(reply)
    with pytest.raises(exceptions.ProviderConnectionError) as raised:
        client.compare(NUMBER, NAME, image=IMAGE)
    assert raised.value.code == legacy_codes.TRANSPORT_CONNECTION
    # The next call opens a new connection and works.
    assert client.compare(NUMBER, NAME, image=IMAGE).ok


def test_transport_exception_does_not_chain_the_request() -> None:
    """The requests exception holds the prepared request (body, Authorization): not kept."""
    with (
        IdCardCompareClient(
            APPID, SECRET_ID, SECRET_KEY, endpoint=f"http://127.0.0.1:{closed_port()}"
        ) as client,
        pytest.raises(exceptions.ProviderConnectionError) as raised,
    ):
        client.compare(NUMBER, NAME, image=IMAGE)
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None


class _ConnectTimeoutAdapter(HTTPAdapter):
    """Stands in for an unreachable host: loopback cannot produce a connect timeout."""

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        raise requests.ConnectTimeout("connect timed out", request=request)


def test_connect_timeout_is_timeout_not_connection_error() -> None:
    session = requests.Session()
    session.mount("http://", _ConnectTimeoutAdapter())
    client = IdCardCompareClient(
        APPID, SECRET_ID, SECRET_KEY, endpoint="http://127.0.0.1:9", session=session
    )
    with pytest.raises(exceptions.ProviderTimeout) as raised:
        client.compare(NUMBER, NAME, image=IMAGE)
    assert raised.value.detail == "ConnectTimeout"


# --- Wire format ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [NAME, MINORITY_NAME])
def test_multipart_wire_format(fake: FakeProvider, client: IdCardCompareClient, name: str) -> None:
    client.compare(
        NUMBER,
        name,
        image=IMAGE,
        session_id="s-1",
        image_content_type="image/png",
        image_filename="me.png",
    )

    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == "/face/idcardcompare"
    assert request.is_multipart
    assert "boundary=" in request.content_type
    assert set(request.parts) == {"appid", "idcard_number", "idcard_name", "session_id", "image"}
    image = request.parts["image"]
    assert image.content == IMAGE
    assert image.filename == "me.png"
    assert image.content_type == "image/png"
    assert request.parts["appid"].text == APPID
    assert request.parts["idcard_number"].text == NUMBER
    assert request.parts["idcard_name"].content == name.encode("utf-8")
    assert request.parts["session_id"].text == "s-1"
    assert "url" not in request.parts
    assert request.headers["host"] == fake.url.removeprefix("http://")


def test_multipart_sends_bucket_only_when_set(fake: FakeProvider) -> None:
    with IdCardCompareClient(
        APPID, SECRET_ID, SECRET_KEY, bucket="mybucket", endpoint=fake.url + "/"
    ) as client:
        client.compare(OTHER_NUMBER, NAME, image=IMAGE)
    [request] = fake.requests
    assert request.path == "/face/idcardcompare"
    assert request.parts["bucket"].text == "mybucket"
    assert "session_id" not in request.parts


def test_json_mode_wire_format(fake: FakeProvider, client: IdCardCompareClient) -> None:
    result = client.compare(OTHER_NUMBER, MINORITY_NAME, url=SIGNED_URL, session_id="s-2")

    assert result.url_mode is True
    [request] = fake.requests
    assert request.path == "/face/idcardcompare"
    assert request.content_type == "application/json"
    assert request.json == {
        "appid": APPID,
        "idcard_number": OTHER_NUMBER,
        "idcard_name": MINORITY_NAME,
        "url": SIGNED_URL,
        "session_id": "s-2",
    }
    # Raw UTF-8, not \u escapes.
    assert MINORITY_NAME.encode("utf-8") in request.body


def test_json_mode_wins_over_image_and_sends_bucket(fake: FakeProvider) -> None:
    with IdCardCompareClient(
        APPID, SECRET_ID, SECRET_KEY, bucket="mybucket", endpoint=fake.url
    ) as client:
        result = client.compare(NUMBER, NAME, image=IMAGE, url=SIGNED_URL)
    assert result.url_mode is True
    [request] = fake.requests
    assert request.json == {
        "appid": APPID,
        "bucket": "mybucket",
        "idcard_number": NUMBER,
        "idcard_name": NAME,
        "url": SIGNED_URL,
    }
    assert IMAGE[:8] not in request.body


def test_authorization_header_is_a_fresh_valid_signature(fake: FakeProvider) -> None:
    with IdCardCompareClient(
        APPID, SECRET_ID, SECRET_KEY, bucket="mybucket", endpoint=fake.url, signature_lifetime=120
    ) as client:
        for _ in range(4):
            client.compare(NUMBER, NAME, image=IMAGE)
        client.compare(NUMBER, NAME, url=SIGNED_URL)

    rands = set()
    for request in fake.requests:
        parsed = signing.parse_legacy_authorization(request.headers["authorization"])
        assert signing.verify_legacy_digest(parsed, SECRET_KEY)
        assert not signing.verify_legacy_digest(parsed, SECRET_KEY + "x")
        assert parsed.fields["a"] == APPID
        assert parsed.fields["b"] == "mybucket"
        assert parsed.fields["k"] == SECRET_ID
        assert parsed.fields["f"] == ""
        now, expiry = parsed.get_int("t"), parsed.get_int("e")
        assert now is not None and expiry is not None
        assert abs(now - time.time()) <= 5
        assert expiry > now
        assert expiry - now == 120
        rands.add(parsed.fields["r"])
    assert len(rands) == len(fake.requests) == 5


def test_netrc_does_not_replace_the_signature(
    fake: FakeProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with IdCardCompareClient(APPID, SECRET_ID, SECRET_KEY, endpoint=fake.url) as client:
        client.compare(NUMBER, NAME, image=IMAGE)
    [request] = fake.requests
    parsed = signing.parse_legacy_authorization(request.headers["authorization"])
    assert signing.verify_legacy_digest(parsed, SECRET_KEY)


# --- Connections and threads ---------------------------------------------------------------


def test_sequential_calls_reuse_one_connection(
    fake: FakeProvider, client: IdCardCompareClient
) -> None:
    for _ in range(5):
        assert client.compare(NUMBER, NAME, image=IMAGE).ok
    client.compare(NUMBER, NAME, url=SIGNED_URL)
    assert len(fake.requests) == 6
    assert len({request.client_port for request in fake.requests}) == 1


def test_concurrent_calls_from_a_thread_pool(fake: FakeProvider) -> None:
    def answer(request: RecordedRequest) -> JsonReply:
        time.sleep(0.01)  # overlap the calls
        session_id = request.field("session_id")
        return success(similarity=float(session_id.split("-")[1]), session_id=session_id)

    fake.default = answer
    pool_size = 3

    def call(index: int) -> CompareResult:
        return shared_client.compare(NUMBER, NAME, image=IMAGE, session_id=f"s-{index}")

    with (
        IdCardCompareClient(
            APPID, SECRET_ID, SECRET_KEY, endpoint=fake.url, pool_maxsize=pool_size
        ) as shared_client,
        ThreadPoolExecutor(max_workers=pool_size) as executor,
    ):
        results = list(executor.map(call, range(30)))

    assert [r.session_id for r in results] == [f"s-{i}" for i in range(30)]
    assert [r.similarity for r in results] == [float(i) for i in range(30)]
    assert len(fake.requests) == 30
    assert len({r.headers["authorization"] for r in fake.requests}) == 30
    # Pooled: a handful of connections, not one per call.
    assert 1 <= len({r.client_port for r in fake.requests}) <= pool_size


# --- Privacy -------------------------------------------------------------------------------

SECRETS_AND_PII = [
    NUMBER,
    OTHER_NUMBER,
    NAME,
    MINORITY_NAME,
    SECRET_KEY,
    SECRET_ID,
    "SIGNEDTOKEN12345",
]


def _leaks(text: str) -> list[str]:
    return [needle for needle in SECRETS_AND_PII if needle in text]


def test_no_pii_or_secret_in_logs_exceptions_or_reprs(
    fake: FakeProvider, client: IdCardCompareClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.script(
        echo_session,
        error(-5803, f"name {NAME} does not match {NUMBER}"),  # a provider that echoes input
        error(-5805, "download failed"),
        RawReply(b"<html>502</html>", status=502),
        Hang(seconds=5),
        Drop(),
    )
    texts: list[str] = [repr(client), str(client)]
    result = client.compare(NUMBER, NAME, image=IMAGE, session_id="sess-9")
    texts.append(repr(result))
    mismatch = client.compare(NUMBER, NAME, image=IMAGE)
    texts.append(repr(mismatch))
    fetch = client.compare(OTHER_NUMBER, MINORITY_NAME, url=SIGNED_URL)
    for provider_result in (mismatch, fetch):
        with pytest.raises(exceptions.ProviderError) as raised:
            provider_result.raise_for_code()
        texts += [str(raised.value), repr(raised.value)]
    for _ in range(3):
        with pytest.raises(exceptions.ProviderTransportError) as transport:
            client.compare(NUMBER, MINORITY_NAME, url=SIGNED_URL)
        texts += [str(transport.value), repr(transport.value)]
    with pytest.raises(ValueError) as invalid:
        client.compare(NUMBER, NAME)
    texts.append(str(invalid.value))

    client_records = [r for r in caplog.records if r.name == "face_idcard.client"]
    assert len(client_records) >= 6  # the client did log, so the search below means something
    assert any("sess-9" in r.getMessage() and "code=0" in r.getMessage() for r in client_records)
    authorizations = [r.headers["authorization"] for r in fake.requests]
    for record in caplog.records:
        message = record.getMessage()
        texts.append(message)
        assert not any(auth in message for auth in authorizations)
    assert [text for text in texts if _leaks(text)] == []


def test_repr_masks_secret_id() -> None:
    client = IdCardCompareClient(APPID, SECRET_ID, SECRET_KEY)
    text = repr(client)
    assert APPID in text
    assert SECRET_ID not in text and SECRET_KEY not in text
    assert SECRET_ID[:4] in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"idcard_number": NUMBER, "idcard_name": NAME},
        {"idcard_number": NUMBER, "idcard_name": NAME, "image": b""},
        {"idcard_number": NUMBER, "idcard_name": NAME, "url": ""},
        {"idcard_number": "", "idcard_name": NAME, "image": IMAGE},
        {"idcard_number": NUMBER, "idcard_name": "  ", "image": IMAGE},
    ],
)
def test_missing_input_is_value_error_without_pii(
    fake: FakeProvider, client: IdCardCompareClient, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError) as raised:
        client.compare(**kwargs)
    assert _leaks(str(raised.value)) == []
    assert fake.requests == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"timeout": (1.0, None)},
        {"timeout": (1.0, -1.0)},
        {"signature_lifetime": 0},
        {"pool_maxsize": 0},
        {"endpoint": "recognition.image.myqcloud.com"},
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as raised:
        IdCardCompareClient(APPID, SECRET_ID, SECRET_KEY, **kwargs)
    assert _leaks(str(raised.value)) == []


def test_close_leaves_a_caller_session_open(fake: FakeProvider) -> None:
    session = requests.Session()
    with IdCardCompareClient(
        APPID, SECRET_ID, SECRET_KEY, endpoint=fake.url, session=session
    ) as client:
        assert client.compare(NUMBER, NAME, image=IMAGE).ok
    # Still usable after the client closed: it was not the client's to close.
    assert session.post(fake.url + "/face/idcardcompare", data=b"{}", timeout=2).status_code == 200
    session.close()


def test_module_imports_without_django() -> None:
    code = (
        "import sys\n"
        "from face_idcard.providers.legacy.client import IdCardCompareClient, CompareResult\n"
        "leaked = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(leaked)\n"
        "sys.exit(1 if leaked else 0)\n"
    )
    root = REPO_ROOT
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_fake_multipart_parser_is_byte_exact() -> None:
    """The test server's own parser, so wire-format assertions can be trusted."""
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="image"; filename="f.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n\r\n\x00\r\n\r\n"
        b"--XyZ--\r\n"
    )
    parts = parse_multipart(body, "multipart/form-data; boundary=XyZ")
    assert parts["a"].content == b"1"
    assert parts["image"].content == b"\r\n\x00\r\n"
    assert parts["image"].filename == "f.jpg"
    assert json.dumps(sorted(parts)) == '["a", "image"]'


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "unannounced"])
def test_oversized_body_is_bad_response_and_not_buffered(
    fake: FakeProvider, client: IdCardCompareClient, declared: bool
) -> None:
    from face_idcard.providers.legacy.client import MAX_RESPONSE_BYTES

    padding = b" " * (MAX_RESPONSE_BYTES + 1)
    body = b'{"code": 0, "message": "OK", "data": {"similarity": 99.0, "session_id": "s"}}'
    fake.script(RawReply(body + padding, content_type="application/json", chunked=not declared))
    with pytest.raises(exceptions.ProviderBadResponse) as raised:
        client.compare(NUMBER, NAME, image=IMAGE)
    assert "over" in raised.value.detail
    # The pool stays usable after the dropped connection.
    fake.script(
        JsonReply({"code": 0, "message": "OK", "data": {"similarity": 90.0, "session_id": "t"}})
    )
    assert client.compare(NUMBER, NAME, image=IMAGE).ok


def test_chunked_body_within_the_cap_is_read(
    fake: FakeProvider, client: IdCardCompareClient
) -> None:
    body = b'{"code": 0, "message": "OK", "data": {"similarity": 88.5, "session_id": "c"}}'
    fake.script(RawReply(body + b" " * 20000, content_type="application/json", chunked=True))
    result = client.compare(NUMBER, NAME, image=IMAGE)
    assert result.ok and result.similarity == 88.5
