"""The FaceID backend's outcome mapping and request, over real HTTP (no worker, no database).

A scripted server (tests.support.fakeprovider) answers each ``{"Response": ...}`` shape through
Tencent's own SDK: business results as ``Result`` or as ``Error.Code``, a ``Sim`` without a
``Result``, bodies that are not the documented shape. PROTOCOLS.md §3: HTTP 200 even for
errors, Tencent's fixed bar of 70 for ``Result``, ``Extra`` at most 10 characters.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.core.exceptions import ImproperlyConfigured

from face_idcard.backends import VerificationRequest, get_backend
from face_idcard.backends.config import resolve
from face_idcard.outcome import TRANSPORT_BAD_RESPONSE, ErrorClass, Reason
from face_idcard.providers.faceid import codes
from face_idcard.providers.faceid.backend import FaceIdBackend
from face_idcard.simulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY
from tests.support.fakeprovider import (
    FakeProvider,
    JsonReply,
    assert_close_releases_the_pooled_connection,
)

NUMBER = "11010519491231002X"
NAME = "张三"
IMAGE = b"\xff\xd8\xff\xe0 a face"
LOW = codes.LOW_SIMILARITY
BAD = TRANSPORT_BAD_RESPONSE


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        provider.default = answer(Sim=90.0, Result="Success")
        yield provider


def alias(endpoint: str, **options: Any) -> dict[str, Any]:
    return {
        "BACKEND": "faceid",
        "SECRET_ID": DEFAULT_SECRET_ID,
        "SECRET_KEY": DEFAULT_SECRET_KEY,
        "ENDPOINT": endpoint,
        **options,
    }


@pytest.fixture
def faceid(settings: Any, fake: FakeProvider) -> Callable[..., FaceIdBackend]:
    """``faceid(**alias_options)``: the default alias is FaceID at the scripted server."""

    def build(**options: Any) -> FaceIdBackend:
        entry = alias(fake.url, **options)
        settings.FACE_IDCARD = {**settings.FACE_IDCARD, "BACKENDS": {"default": entry}}
        backend = get_backend("default")
        assert isinstance(backend, FaceIdBackend)
        return backend

    return build


def answer(**response: Any) -> JsonReply:
    return JsonReply({"Response": {"RequestId": "req-7", **response}})


def error(code: Any, message: str = "msg") -> JsonReply:
    return answer(Error={"Code": code, "Message": message})


def request(**fields: Any) -> VerificationRequest:
    return VerificationRequest(NUMBER, NAME, image=IMAGE, **fields)


@pytest.mark.parametrize(
    ("reply", "code", "error_class", "reason", "similarity", "result", "message"),
    [
        (answer(Sim=88.0, Result="Success", Description="d"), "Success", "success", "match", 88.0,
         "Success", "d"),
        # The app decides on Sim whatever Result says: a low score keeps its Sim.
        (answer(Sim=40.0, Result=LOW, Description="d"), LOW, "success", "low_similarity", 40.0,
         LOW, "d"),
        # A Sim without a Result: the code says which side of Tencent's bar of 70 it is.
        (answer(Sim=88.0), "Success", "success", "match", 88.0, "", ""),
        (answer(Sim=70.0), "Success", "success", "match", 70.0, "", ""),
        (answer(Sim=69.5), LOW, "success", "low_similarity", 69.5, "", ""),
        # Success or CompareLowSimilarity without a usable Sim; neither Sim nor Result.
        (answer(Result="Success"), BAD, "transient", "provider_unavailable", None, "", ""),
        (answer(Result=LOW), BAD, "transient", "provider_unavailable", None, "", ""),
        (answer(Description="x"), BAD, "transient", "provider_unavailable", None, "", ""),
        # Other results' Sim (0) means nothing.
        (answer(Sim=0, Result="FailedOperation.IdNameMisMatch", Description="d"),
         "FailedOperation.IdNameMisMatch", "input", "name_mismatch", None,
         "FailedOperation.IdNameMisMatch", "d"),
        (answer(Sim=95.0, Result="FailedOperation.LifePhotoDetectFake"),
         "FailedOperation.LifePhotoDetectFake", "input", "spoof_suspected", None,
         "FailedOperation.LifePhotoDetectFake", ""),
        # Business results answered as Error.Code carry no Sim: the person's result.
        (error(LOW), LOW, "input", "low_similarity", None, LOW, "msg"),
        (error("Success"), "Success", "input", "match", None, "Success", "msg"),
        (error("FailedOperation.IdNameMisMatch"), "FailedOperation.IdNameMisMatch", "input",
         "name_mismatch", None, "FailedOperation.IdNameMisMatch", "msg"),
        # Other errors keep the catalogue's class.
        (error("RequestLimitExceeded"), "RequestLimitExceeded", "transient", "rate_limited",
         None, "RequestLimitExceeded", "msg"),
        (error("AuthFailure.SignatureExpire"), "AuthFailure.SignatureExpire", "resign",
         "signature_rejected", None, "AuthFailure.SignatureExpire", "msg"),
        (error("UnauthorizedOperation.Arrears"), "UnauthorizedOperation.Arrears",
         "configuration", "account_problem", None, "UnauthorizedOperation.Arrears", "msg"),
        (error("FailedOperation.SomethingNew"), "FailedOperation.SomethingNew", "unknown",
         "unknown", None, "FailedOperation.SomethingNew", "msg"),
        # An Error whose Code is no code at all: an unusable body.
        (error(7), BAD, "transient", "provider_unavailable", None, "", ""),
        (error(""), BAD, "transient", "provider_unavailable", None, "", ""),
    ],
)  # fmt: skip
def test_outcome_of_each_answer(
    faceid: Callable[..., FaceIdBackend],
    fake: FakeProvider,
    reply: JsonReply,
    code: str,
    error_class: str,
    reason: str,
    similarity: float | None,
    result: str,
    message: str,
) -> None:
    fake.script(reply)
    outcome = faceid().verify(request())
    assert (outcome.code, outcome.error_class, outcome.reason) == (
        code,
        ErrorClass(error_class),
        Reason(reason),
    )
    assert outcome.billable is codes.FACEID_CODES.lookup(code).billable
    assert outcome.similarity == similarity
    assert (outcome.provider_result, outcome.message) == (result, message)
    # HTTP 200 even for errors (the SDK raises on anything else); the RequestId travels along.
    assert (outcome.request_id, outcome.http_status) == ("req-7", 200)
    assert outcome.raw == reply.payload
    assert outcome.elapsed is not None and outcome.elapsed >= 0


@pytest.mark.parametrize(
    ("correlation_id", "extra"),
    [("0123456789abcdef", "0123456789"), ("0123456789", "0123456789"), ("abc", "abc"), ("", None)],
)
def test_the_request_body(
    faceid: Callable[..., FaceIdBackend],
    fake: FakeProvider,
    correlation_id: str,
    extra: str | None,
) -> None:
    faceid().verify(request(correlation_id=correlation_id))
    (sent,) = fake.requests
    body = sent.json
    assert (body["IdCard"], body["Name"]) == (NUMBER, NAME)
    assert base64.b64decode(body["ImageBase64"], validate=True) == IMAGE
    # Extra is echoed back and limited to 10 characters; none at all without a correlation id.
    assert body.get("Extra") == extra
    assert "Encryption" not in body


def test_a_url_is_never_sent(faceid: Callable[..., FaceIdBackend], fake: FakeProvider) -> None:
    backend = faceid()
    assert backend.accepts_url is False
    outcome = backend.verify(VerificationRequest(NUMBER, NAME, url="https://example.com/a.jpg"))
    assert (outcome.code, outcome.error_class) == ("internal.error", ErrorClass.UNKNOWN)
    assert fake.requests == []


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def decrypt(key: rsa.RSAPrivateKey, sent: dict[str, Any]) -> dict[str, str]:
    """What Tencent does with an encrypted body: unwrap the key, open each listed field."""
    encryption = sent["Encryption"]
    aes_key = key.decrypt(
        base64.b64decode(encryption["CiphertextBlob"]), asymmetric_padding.PKCS1v15()
    )
    iv = base64.b64decode(encryption["Iv"])
    opened = {}
    for name in encryption["EncryptList"]:
        decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(base64.b64decode(sent[name])) + decryptor.finalize()
        opened[name] = padded[: -padded[-1]].decode("utf-8")
    return opened


def test_an_encryption_key_encrypts_the_number_and_the_name(
    faceid: Callable[..., FaceIdBackend], fake: FakeProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    faceid(ENCRYPTION_PUBLIC_KEY=public_pem(rsa_key)).verify(request())
    (sent,) = fake.requests
    body = sent.json
    assert NUMBER not in sent.body.decode("utf-8") and NAME not in sent.body.decode("utf-8")
    assert body["Encryption"]["Algorithm"] == "AES-256-CBC"
    assert decrypt(rsa_key, body) == {"IdCard": NUMBER, "Name": NAME}
    assert base64.b64decode(body["ImageBase64"]) == IMAGE  # the API offers no way to encrypt it


def test_every_key_that_carries_personal_information_is_declared(
    faceid: Callable[..., FaceIdBackend], fake: FakeProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    backend = faceid()
    backend.verify(request(correlation_id="tag"))
    encrypted = faceid(ENCRYPTION_PUBLIC_KEY=public_pem(rsa_key))
    encrypted.verify(request(correlation_id="tag"))
    plain, sealed = (sent.json for sent in fake.requests)
    # Everything but the correlation tag is the person's (or opens to it).
    assert set(plain) - {"Extra"} == {"IdCard", "Name", "ImageBase64"}
    assert set(sealed) - {"Extra"} == {"IdCard", "Name", "ImageBase64", "Encryption"}
    assert set(sealed) - {"Extra"} <= backend.pii_keys


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"SECRET_ID": ""}, "backend 'default' needs SECRET_ID "),
        ({"SECRET_KEY": ""}, "backend 'default' needs SECRET_KEY "),
        ({"SECRET_ID": "", "SECRET_KEY": None}, "needs SECRET_ID, SECRET_KEY "),
        ({"ENDPOINT": "ftp://x"}, "backend 'default'"),
        ({"ENCRYPTION_PUBLIC_KEY": "not a key"}, "ENCRYPTION_PUBLIC_KEY is unusable"),
    ],
)
def test_an_unusable_alias_is_refused_clearly(
    faceid: Callable[..., FaceIdBackend], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        faceid(**options)
    # No chained exception (the key or the SDK's text) rides along.
    exc = caught.value
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


def test_the_default_endpoint_is_tencents(settings: Any) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {
            "default": {
                "BACKEND": "faceid",
                "SECRET_ID": DEFAULT_SECRET_ID,
                "SECRET_KEY": DEFAULT_SECRET_KEY,
            }
        },
    }
    backend = get_backend("default")
    assert isinstance(backend, FaceIdBackend)
    assert backend.client.endpoint == "https://faceid.tencentcloudapi.com"


def test_close_releases_the_pooled_connection(
    faceid: Callable[..., FaceIdBackend], fake: FakeProvider
) -> None:
    assert_close_releases_the_pooled_connection(faceid(), fake, request())


def test_image_limits() -> None:
    limits = FaceIdBackend.base_image_limits
    # "ImageBase64 at most 3 MB": 3 MiB of Base64 is 2.25 MiB of image, less 4 KiB of room.
    assert limits.max_bytes == int(2.25 * 1024 * 1024) - 4 * 1024
    assert len(base64.b64encode(b"\0" * limits.max_bytes)) <= 3 * 1024 * 1024
    assert limits.formats == {"JPEG", "PNG"}  # "jpg/png"


def problems(settings: Any, **options: Any) -> list[str]:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": alias("faceid.tencentcloudapi.com", **options)},
    }
    return [kind for kind, _key, _text in FaceIdBackend.option_problems(resolve("default"))]


@pytest.mark.parametrize(
    ("options", "kinds"),
    [
        ({}, []),
        ({"THRESHOLD": 70}, []),
        ({"THRESHOLD": 85}, []),
        ({"THRESHOLD": 69.9}, ["below_provider_bar"]),
        ({"THRESHOLD": 0}, ["below_provider_bar"]),
        ({"ENCRYPTION_PUBLIC_KEY": "not a key"}, ["unloadable"]),
        ({"ENCRYPTION_PUBLIC_KEY": "not a key", "THRESHOLD": 60}, ["unloadable", "below_provider_bar"]),
    ],
)  # fmt: skip
def test_option_problems(settings: Any, options: dict[str, Any], kinds: list[str]) -> None:
    assert problems(settings, **options) == kinds


def test_a_loadable_key_is_no_problem(settings: Any, rsa_key: rsa.RSAPrivateKey) -> None:
    assert problems(settings, ENCRYPTION_PUBLIC_KEY=public_pem(rsa_key), THRESHOLD=75) == []


def test_the_default_threshold_is_tencents_bar(faceid: Callable[..., FaceIdBackend]) -> None:
    assert faceid().threshold == 70.0
    assert faceid(THRESHOLD=80).threshold == 80.0


def test_built_directly_it_takes_the_settings_it_is_given(
    settings: Any, fake: FakeProvider
) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": alias(fake.url, THRESHOLD=82)},
    }
    backend = FaceIdBackend(resolve("default"))
    assert (backend.alias, backend.threshold) == ("default", 82.0)
    assert backend.verify(request()).code == "Success"
    assert len(fake.requests) == 1
    with pytest.raises(TypeError):
        FaceIdBackend()  # type: ignore[call-arg]  # no settings of its own to look for
