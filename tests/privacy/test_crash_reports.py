"""No ID number or name in a crash report: frame locals, Django's technical 500 report, logs.

Each test forces an exception at one of the deepest places the clear values exist (the
validators, the encryption, the selfie storage, the HTTP send) or in ``submit``, ``run`` and
``reveal_pii`` themselves, then reads what an error tracker or Django's error page would:
the ``repr`` of every local of every frame the exception passed through, and the text and
HTML of ``django.views.debug.ExceptionReporter``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import requests
from django.core.files.storage import FileSystemStorage
from django.utils import timezone
from django.views.debug import ExceptionReporter

from face_idcard import services
from face_idcard.backends import VerificationRequest, get_backend
from face_idcard.sensitive import Sensitive, SensitiveBytes
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.factories import submit_attempt
from tests.support.paths import TESTS_DIR
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

NUMBER = magic.MATCH
NAME = "欧阳娜娜"
IMAGE = imagefactory.jpeg(160, 120)


class Forced(RuntimeError):
    """The exception these tests inject."""


def force(*_: Any, **__: Any) -> Any:
    raise Forced("forced failure")


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def app_traceback(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from its first frame outside the tests on: the test and the factory it
    calls are the caller, not the app (``submit_attempt``'s own frame holds the number and
    the name it was given, as a site's view would)."""
    while tb is not None and Path(tb.tb_frame.f_code.co_filename).is_relative_to(TESTS_DIR):
        tb = tb.tb_next
    return tb


def frames(tb: TracebackType | None) -> Iterator[Any]:
    tb = app_traceback(tb)
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def report_texts(error: BaseException) -> list[str]:
    """Everything an error tracker or Django's error report would show."""
    texts: list[str] = []
    for exc in chain(error):
        texts.append(str(exc))
        texts.append(repr(exc))
        for frame in frames(exc.__traceback__):
            for name, value in frame.f_locals.items():
                try:
                    texts.append(f"{frame.f_code.co_name}.{name}={value!r}")
                except Exception as repr_error:  # a broken repr is not a leak
                    texts.append(type(repr_error).__name__)
    reporter = ExceptionReporter(None, type(error), error, app_traceback(error.__traceback__))
    texts.append(reporter.get_traceback_text())
    texts.append(reporter.get_traceback_html())
    return texts


def assert_no_pii(error: BaseException) -> None:
    found = [
        text[:200] for text in report_texts(error) for value in (NUMBER, NAME) if value in text
    ]
    assert found == []


#: The number and name through the one factory, stored without a message.
submit_now = functools.partial(submit_attempt, NUMBER, idcard_name=NAME, image=IMAGE, enqueue=False)


def test_submit_failing_in_the_validators(face_settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("face_idcard._identity.normalize_name", force)
    with pytest.raises(Forced) as raised:
        submit_now()
    assert_no_pii(raised.value)


def test_submit_failing_in_the_encryption(face_settings: Any, monkeypatch: Any) -> None:
    from face_idcard import crypto

    class FailingCipher:
        """The AES-GCM the texts are encrypted with, failing in ``encrypt``."""

        def __init__(self, key: bytes) -> None:
            self.key = key

        encrypt = force

    monkeypatch.setattr(crypto, "AESGCM", FailingCipher)
    with pytest.raises(Forced) as raised:
        submit_now()
    assert_no_pii(raised.value)


def test_submit_failing_in_the_storage(face_settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(FileSystemStorage, "_save", force)
    with pytest.raises(Forced) as raised:
        submit_now()
    assert_no_pii(raised.value)


def test_submit_failing_in_its_own_frame(face_settings: Any, monkeypatch: Any) -> None:
    # Called by every submit, on every database, once the number and name are in its frame.
    monkeypatch.setattr("face_idcard.services._limits.DailyLimits.counts_before_storing", force)
    with pytest.raises(Forced) as raised:
        submit_now()
    assert_no_pii(raised.value)


def test_the_backend_failing_in_the_http_send(face_settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", force)
    request = VerificationRequest(idcard_number=NUMBER, idcard_name=NAME, image=IMAGE)
    with pytest.raises(Forced) as raised:
        get_backend().verify(request)
    del request
    assert_no_pii(raised.value)


def test_run_failing_after_the_call(face_settings: Any, monkeypatch: Any) -> None:
    attempt = submit_now()
    monkeypatch.setattr("face_idcard.services._pipeline.transition_with_events", force)
    with pytest.raises(Forced) as raised:
        pipeline.run(attempt.pk)
    assert_no_pii(raised.value)


def test_run_failing_in_the_http_send_logs_no_pii(
    face_settings: Any, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """run records the failure (internal.error) and logs its type, never the values."""
    attempt = submit_now()
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", force)
    caplog.set_level(logging.DEBUG)
    assert pipeline.run(attempt.pk).action == "done"
    texts = [record.getMessage() for record in caplog.records]
    texts += [logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info]
    assert any("Forced" in text for text in texts)
    assert [t for t in texts if NUMBER in t or NAME in t] == []


def test_reveal_pii_failing_after_the_decryption(face_settings: Any, monkeypatch: Any) -> None:
    attempt = submit_now()
    viewer = user_with("crash-viewer", "view_pii")
    monkeypatch.setattr("face_idcard.services._operations.audit.record", force)
    with pytest.raises(Forced) as raised:
        services.reveal_pii(attempt, viewer=viewer)
    assert_no_pii(raised.value)


def test_sensitive_values_hide_themselves() -> None:
    import pickle

    number, name = Sensitive.id_number(NUMBER), Sensitive.name(NAME)
    logged = "%s" % (name,)  # noqa: UP031 - the %-style a logger uses
    for text in (repr(number), str(number), f"{number}", f"{name!r}", logged):
        assert NUMBER not in text and NAME not in text
    assert repr(number) == f"<Sensitive {NUMBER[:4]}{'*' * 10}{NUMBER[-4:]}>"
    assert number.reveal() == NUMBER and name.reveal() == NAME
    image = SensitiveBytes(IMAGE)
    assert repr(image) == f"<SensitiveBytes {len(IMAGE)} bytes>"
    with pytest.raises(TypeError):
        pickle.dumps(number)


@pytest.mark.usefixtures("simulator")
def test_http_loggers_write_no_debug_records(
    face_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, urllib3 writes each request and SDKs their bodies: dropped before handlers."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("urllib3", "urllib3.connectionpool", "requests")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        attempt = submit_now()
        pipeline.run(attempt.pk)
        logging.getLogger("tencentcloud_sdk_common").debug(
            "POST body {'IdCard': '%s', 'Name': '%s'}", NUMBER, NAME
        )
        logging.getLogger("tencentcloud_sdk_common").warning("SDK warning without body")
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    third_party = [
        r for r in caplog.records if r.name.startswith(("urllib3", "requests", "tencentcloud"))
    ]
    assert [r.getMessage() for r in third_party] == ["SDK warning without body"]
    assert [r for r in caplog.records if NUMBER in r.getMessage() or NAME in r.getMessage()] == []


# --- The API's 5xx: Django's request log, mail_admins, the app's own line ----------------------

API_NUMBER = "11010519491231002X"  # valid, not one of the simulator's magic numbers
ADMINS = [("Operations", "ops@example.com")]


def _fail_submit(error: BaseException) -> Any:
    def submit(**_: Any) -> Any:
        raise error

    return submit


def _break(failure: str, settings: Any, monkeypatch: Any) -> None:
    """One way for the API's create to end in a 5xx, after the fields were read."""
    from django.db import DatabaseError

    if failure == "backend_unavailable":  # a default alias that names nothing
        settings.FACE_IDCARD = {**settings.FACE_IDCARD, "DEFAULT_BACKEND": "nosuchalias"}
    elif failure == "database_error":
        monkeypatch.setattr(services, "submit", _fail_submit(DatabaseError("forced")))
    else:
        monkeypatch.setattr(services, "submit", _fail_submit(Forced("forced failure")))


def _post(body: str) -> Any:
    from django.core.cache import cache

    from tests.support.api_helpers import BASE, client_for, photo_file, plain_user

    cache.clear()  # the creation throttle counts in the cache, which outlives a test
    client = client_for(plain_user("crash-api-user"))
    data: dict[str, Any] = {
        "idcard_number": API_NUMBER,
        "idcard_name": NAME,
        "consent": True,
        "external_reference": "order-1",
    }
    if body == "multipart":
        return client.post(BASE, {**data, "image": photo_file()}, format="multipart")
    return client.post(BASE, {**data, "url": "https://photos.example.com/face.jpg"}, format="json")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _rendered(record: logging.LogRecord) -> list[str]:
    """A ``django.request`` record as mail_admins and error trackers render it."""
    exc_info = record.exc_info or (None, record.getMessage(), None)
    reporter = ExceptionReporter(getattr(record, "request", None), *exc_info, is_email=True)  # type: ignore[misc]
    return [record.getMessage(), reporter.get_traceback_text(), reporter.get_traceback_html()]


def _mail_texts(outbox: list[Any]) -> list[str]:
    texts: list[str] = []
    for message in outbox:
        texts += [message.subject, message.body]
        texts += [str(content) for content, _type in getattr(message, "alternatives", [])]
    return texts


def _with_pii(texts: list[str]) -> list[str]:
    return [text[:200] for text in texts if API_NUMBER in text or NAME in text]


FAILURES = ["backend_unavailable", "database_error", "unexpected"]


@pytest.fixture
def django_request_records() -> Iterator[_Records]:
    handler = _Records()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize("body", ["multipart", "json"])
@pytest.mark.parametrize("failure", FAILURES)
def test_api_5xx_is_logged_once_by_the_app_without_pii(
    failure: str,
    body: str,
    face_settings: Any,
    settings: Any,
    monkeypatch: Any,
    mailoutbox: list[Any],
    caplog: pytest.LogCaptureFixture,
    django_request_records: _Records,
) -> None:
    """Django logs nothing of the API's failures (no request object in any record or mail);
    the app writes one line of its own, without the request's data."""
    settings.ADMINS = ADMINS
    settings.DEBUG = False
    _break(failure, settings, monkeypatch)
    caplog.set_level(logging.INFO)
    response = _post(body)
    assert response.status_code >= 500
    assert django_request_records.records == []
    own = [r for r in caplog.records if r.name == "face_idcard.api"]
    assert len(own) == 1
    assert own[0].levelno == logging.ERROR
    assert str(response.status_code) in own[0].getMessage()
    assert response.json()["error"]["code"] in own[0].getMessage()
    assert not hasattr(own[0], "request")
    texts = [record.getMessage() for record in caplog.records] + _mail_texts(mailoutbox)
    assert _with_pii(texts) == []


@pytest.mark.parametrize("body", ["multipart", "json"])
@pytest.mark.parametrize("failure", FAILURES)
def test_api_post_data_is_marked_sensitive_for_django_reports(
    failure: str,
    body: str,
    face_settings: Any,
    settings: Any,
    monkeypatch: Any,
    mailoutbox: list[Any],
    django_request_records: _Records,
) -> None:
    """Where Django does log the request (a site that took the app's filter off), the report
    and the mail show the POST fields as stars."""
    from face_idcard import logfilters

    settings.ADMINS = ADMINS
    settings.DEBUG = False
    _break(failure, settings, monkeypatch)
    logfilters.uninstall_request_filter()
    try:
        response = _post(body)
    finally:
        logfilters.install_request_filter()
    assert response.status_code >= 500
    assert len(django_request_records.records) == 1
    assert len(mailoutbox) == 1
    texts = _rendered(django_request_records.records[0]) + _mail_texts(mailoutbox)
    if body == "multipart":  # the fields are in the report, as stars
        assert any("idcard_number" in text and "*****" in text for text in texts)
    assert _with_pii(texts) == []


def test_api_4xx_is_one_warning_line_of_the_app(
    face_settings: Any, caplog: pytest.LogCaptureFixture, django_request_records: _Records
) -> None:
    from tests.support.api_helpers import BASE, client_for, plain_user

    caplog.set_level(logging.INFO)
    client = client_for(plain_user("crash-api-user"))
    response = client.get(f"{BASE}{API_NUMBER}/")  # an ID number typed as an attempt id
    assert response.status_code == 404
    assert django_request_records.records == []
    own = [r for r in caplog.records if r.name == "face_idcard.api"]
    assert [r.levelno for r in own] == [logging.WARNING]
    assert "404 not_found" in own[0].getMessage()
    assert _with_pii([r.getMessage() for r in caplog.records]) == []


def test_an_exception_outside_drfs_handler_is_logged_by_the_app(
    face_settings: Any,
    monkeypatch: Any,
    mailoutbox: list[Any],
    caplog: pytest.LogCaptureFixture,
    django_request_records: _Records,
) -> None:
    from tests.support.api_helpers import BASE, client_for, photo_file, plain_user

    monkeypatch.setattr("face_idcard.api.views.install_upload_handlers", force)
    client = client_for(plain_user("crash-api-user"))
    client.raise_request_exception = False
    data = {"idcard_number": API_NUMBER, "idcard_name": NAME, "consent": True}
    response = client.post(BASE, {**data, "image": photo_file()}, format="multipart")
    assert response.status_code == 500
    assert django_request_records.records == []
    own = [r.getMessage() for r in caplog.records if r.name == "face_idcard.api"]
    # Before the view's action and the token's user are known: neither is in the line.
    assert own == ["API POST -: 500 internal_error (Forced outside the handler), user id None"]
    assert _with_pii([r.getMessage() for r in caplog.records] + _mail_texts(mailoutbox)) == []


# --- The document review and the withdrawal: the same frame as the attempts -------------------

DOCUMENT_REVIEWS = "/api/face-idcard/document-reviews/"
WITHDRAWAL = "/api/face-idcard/withdrawal/"
OTHER_ENDPOINTS = ["document_review", "withdrawal"]
#: What each endpoint calls once the request is read, and the failures forced there.
OTHER_FAILURES = {"database_error": "DatabaseError", "unexpected": "Forced"}


def _post_other(endpoint: str, client: Any) -> Any:
    """A document review's create (multipart: the ID number, the name and both sides of the
    card), or a withdrawal (JSON) by a person whose document review holds them."""
    from tests.support.api_helpers import photo_file

    if endpoint == "document_review":
        data = {
            "idcard_number": API_NUMBER,
            "idcard_name": NAME,
            "consent": "true",
            "external_reference": "order-1",
            "front": photo_file(name="front.jpg"),
            "back": photo_file(name="back.jpg"),
        }
        return client.post(DOCUMENT_REVIEWS, data, format="multipart")
    # Encoded here: a test may break the JSON renderer, which the client would encode with.
    return client.post(WITHDRAWAL, '{"confirm": true}', content_type="application/json")


def _break_other(endpoint: str, failure: str, monkeypatch: Any) -> None:
    from django.db import DatabaseError

    error = DatabaseError("forced") if failure == "database_error" else Forced("forced failure")
    name = "submit_documents" if endpoint == "document_review" else "withdraw"
    monkeypatch.setattr(services, name, _fail_submit(error))


def _other_client(endpoint: str) -> tuple[Any, Any]:
    from django.core.cache import cache

    from tests.support.api_helpers import client_for, plain_user

    cache.clear()  # the creation throttle counts in the cache, which outlives a test
    user = plain_user(f"crash-{endpoint}-user")
    if endpoint == "withdrawal":  # what a withdrawal erases: a review with the number and name
        services.submit_documents(
            user=user,
            idcard_number=API_NUMBER,
            idcard_name=NAME,
            front=IMAGE,
            back=IMAGE,
            consent_at=timezone.now(),
        )
    return user, client_for(user)


@pytest.mark.parametrize("failure", list(OTHER_FAILURES))
@pytest.mark.parametrize("endpoint", OTHER_ENDPOINTS)
def test_other_api_5xx_is_one_error_line_with_code_type_and_user(
    endpoint: str,
    failure: str,
    face_settings: Any,
    settings: Any,
    monkeypatch: Any,
    mailoutbox: list[Any],
    caplog: pytest.LogCaptureFixture,
    django_request_records: _Records,
) -> None:
    """As the attempts' 5xx: Django logs nothing, the app one ERROR line with the error code,
    the exception's type and the user id, and no ID number or name anywhere."""
    settings.ADMINS = ADMINS
    settings.DEBUG = False
    user, client = _other_client(endpoint)
    _break_other(endpoint, failure, monkeypatch)
    caplog.set_level(logging.INFO)
    response = _post_other(endpoint, client)
    assert response.status_code >= 500
    assert django_request_records.records == []
    own = [r for r in caplog.records if r.name == "face_idcard.api"]
    assert len(own) == 1
    line = own[0].getMessage()
    assert own[0].levelno == logging.ERROR
    code = response.json()["error"]["code"]
    assert f": {response.status_code} {code} ({OTHER_FAILURES[failure]})" in line
    assert line.endswith(f"user id {user.pk}")
    assert not hasattr(own[0], "request")
    texts = [record.getMessage() for record in caplog.records] + _mail_texts(mailoutbox)
    assert _with_pii(texts) == []


@pytest.mark.parametrize("failure", list(OTHER_FAILURES))
@pytest.mark.parametrize("endpoint", OTHER_ENDPOINTS)
def test_other_api_post_data_is_marked_sensitive_for_django_reports(
    endpoint: str,
    failure: str,
    face_settings: Any,
    settings: Any,
    monkeypatch: Any,
    mailoutbox: list[Any],
    django_request_records: _Records,
) -> None:
    """Where Django logs the request (the app's filter taken off), the mail and the rendered
    report show the document review's fields as stars, and neither holds the number or name."""
    from face_idcard import logfilters

    settings.ADMINS = ADMINS
    settings.DEBUG = False
    _user, client = _other_client(endpoint)
    _break_other(endpoint, failure, monkeypatch)
    logfilters.uninstall_request_filter()
    try:
        response = _post_other(endpoint, client)
    finally:
        logfilters.install_request_filter()
    assert response.status_code >= 500
    assert len(django_request_records.records) == 1
    assert len(mailoutbox) == 1
    texts = _rendered(django_request_records.records[0]) + _mail_texts(mailoutbox)
    if endpoint == "document_review":
        assert any("idcard_number" in text and "*****" in text for text in texts)
    assert _with_pii(texts) == []


@pytest.mark.parametrize("endpoint", OTHER_ENDPOINTS)
def test_an_exception_outside_drfs_handler_in_other_api_views_is_logged_by_the_app(
    endpoint: str,
    face_settings: Any,
    monkeypatch: Any,
    mailoutbox: list[Any],
    caplog: pytest.LogCaptureFixture,
    django_request_records: _Records,
) -> None:
    """A failure while the answer is rendered (after DRF's handler): Django's record of it is
    dropped by the app's filter, so the view writes the line itself."""
    from rest_framework.renderers import JSONRenderer

    user, client = _other_client(endpoint)
    monkeypatch.setattr(JSONRenderer, "render", force)
    client.raise_request_exception = False
    caplog.set_level(logging.INFO)
    response = _post_other(endpoint, client)
    assert response.status_code == 500
    assert django_request_records.records == []
    own = [r for r in caplog.records if r.name == "face_idcard.api"]
    assert [r.levelno for r in own] == [logging.ERROR]
    line = own[0].getMessage()
    assert ": 500 internal_error (Forced outside the handler)" in line
    assert line.endswith(f"user id {user.pk}")
    assert _with_pii([r.getMessage() for r in caplog.records] + _mail_texts(mailoutbox)) == []
