"""No ID number or name in a crash report: frame locals, Django's technical 500 report, logs.

Each test forces an exception at one of the deepest places the clear values exist (the
validators, the encryption, the selfie storage, the HTTP send) or in ``submit``, ``run`` and
``reveal_pii`` themselves, then reads what an error tracker or Django's error page would:
the ``repr`` of every local of every frame the exception passed through, and the text and
HTML of ``django.views.debug.ExceptionReporter``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
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
from face_idcard.simulator import magic
from tests import imagefactory
from tests.users import user_with

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


def frames(tb: TracebackType | None) -> Iterator[Any]:
    while tb is not None:
        # Not the test function itself (it holds nothing personal, but is the caller).
        if not tb.tb_frame.f_code.co_name.startswith("test_"):
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
    reporter = ExceptionReporter(None, type(error), error, error.__traceback__)
    texts.append(reporter.get_traceback_text())
    texts.append(reporter.get_traceback_html())
    return texts


def assert_no_pii(error: BaseException) -> None:
    found = [
        text[:200] for text in report_texts(error) for value in (NUMBER, NAME) if value in text
    ]
    assert found == []


def submit_now(**kwargs: Any) -> Any:
    return services.submit(
        idcard_number=NUMBER,
        idcard_name=NAME,
        consent_at=timezone.now(),
        enqueue=False,
        **({"image": IMAGE} | kwargs),
    )


def test_submit_failing_in_the_validators(face_settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("face_idcard.identity.normalize_name", force)
    with pytest.raises(Forced) as raised:
        submit_now()
    assert_no_pii(raised.value)


def test_submit_failing_in_the_encryption(face_settings: Any, monkeypatch: Any) -> None:
    from cryptography.fernet import MultiFernet

    monkeypatch.setattr(MultiFernet, "encrypt", force)
    with pytest.raises(Forced) as raised:
        submit_now()
    assert_no_pii(raised.value)


def test_submit_failing_in_the_storage(face_settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(FileSystemStorage, "_save", force)
    with pytest.raises(Forced) as raised:
        submit_now()
    assert_no_pii(raised.value)


def test_submit_failing_in_its_own_frame(face_settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("face_idcard.services.submission.lock_limit_keys", force)
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
    monkeypatch.setattr("face_idcard.services.pipeline.transition_with_events", force)
    with pytest.raises(Forced) as raised:
        services.run(attempt.pk)
    assert_no_pii(raised.value)


def test_run_failing_in_the_http_send_logs_no_pii(
    face_settings: Any, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """run records the failure (internal.error) and logs its type, never the values."""
    attempt = submit_now()
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", force)
    caplog.set_level(logging.DEBUG)
    assert services.run(attempt.pk).action == "done"
    texts = [record.getMessage() for record in caplog.records]
    texts += [logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info]
    assert any("Forced" in text for text in texts)
    assert [t for t in texts if NUMBER in t or NAME in t] == []


def test_reveal_pii_failing_after_the_decryption(face_settings: Any, monkeypatch: Any) -> None:
    attempt = submit_now()
    viewer = user_with("crash-viewer", "view_pii")
    monkeypatch.setattr("face_idcard.services.operations.audit.record", force)
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
        services.run(attempt.pk)
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
