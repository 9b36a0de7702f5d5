"""The client against the simulator over real HTTP: every outcome class of PROTOCOLS.md §2.4.

The simulator speaks the real protocol (signature checked from the header, real multipart
parsing), so these tests exercise the client's wire format and its classification together.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from face_idcard import exceptions
from face_idcard.outcome import ErrorClass
from face_idcard.providers.legacy import signing
from face_idcard.providers.legacy.client import IdCardCompareClient
from face_idcard.simulator import (
    DEFAULT_APPID,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SimulatorServer,
    magic,
)
from face_idcard.simulator.registry import demo_people

PERSON = demo_people()[0]
NAME = "张三"


@pytest.fixture
def client(simulator: SimulatorServer) -> Iterator[IdCardCompareClient]:
    with IdCardCompareClient(
        DEFAULT_APPID,
        DEFAULT_SECRET_ID,
        DEFAULT_SECRET_KEY,
        endpoint=simulator.base_url,
        timeout=(1.0, 0.5),
    ) as value:
        yield value


@pytest.mark.parametrize(
    ("number", "code", "error_class", "exception"),
    [
        (magic.MATCH, "0", ErrorClass.SUCCESS, None),
        (magic.INTERNAL_ERROR, "213", ErrorClass.TRANSIENT, exceptions.TransientProviderError),
        (magic.RATE_LIMITED, "15", ErrorClass.TRANSIENT, exceptions.TransientProviderError),
        (
            magic.SERVICE_UNAVAILABLE,
            "-5802",
            ErrorClass.TRANSIENT,
            exceptions.TransientProviderError,
        ),
        (magic.ARREARS, "3", ErrorClass.CONFIGURATION, exceptions.ProviderConfigurationError),
        (magic.NAME_MISMATCH, "-5803", ErrorClass.INPUT, exceptions.ProviderRejected),
        (magic.NO_FACE, "-4015", ErrorClass.INPUT, exceptions.ProviderRejected),
    ],
)
def test_provider_codes(
    client: IdCardCompareClient,
    number: str,
    code: str,
    error_class: ErrorClass,
    exception: type[exceptions.ProviderError] | None,
) -> None:
    result = client.compare(number, NAME, image=PERSON.photo_bytes, session_id="table")
    assert (result.code, result.error_class) == (code, error_class)
    assert result.session_id == "table"
    if exception is None:
        assert result.ok and result.similarity == magic.MATCH_SIMILARITY
        result.raise_for_code()
    else:
        with pytest.raises(exception) as raised:
            result.raise_for_code()
        assert raised.value.code == code
    assert result.is_account_in_arrears is (number == magic.ARREARS)


@pytest.mark.parametrize(
    ("number", "exception"),
    [
        (magic.HANG, exceptions.ProviderTimeout),
        (magic.BAD_GATEWAY, exceptions.ProviderBadResponse),
        (magic.DROP, exceptions.ProviderConnectionError),
    ],
)
def test_transport_faults(
    client: IdCardCompareClient, number: str, exception: type[exceptions.ProviderError]
) -> None:
    started = time.monotonic()
    with pytest.raises(exception) as raised:
        client.compare(number, NAME, image=PERSON.photo_bytes)
    assert raised.value.error_class is ErrorClass.TRANSIENT
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        ((DEFAULT_APPID, DEFAULT_SECRET_ID, "not-the-secret-key"), "14"),
        ((DEFAULT_APPID, "AKIDunknownSecretId000000000000000", DEFAULT_SECRET_KEY), "11"),
    ],
)
def test_bad_credentials_are_configuration(
    simulator: SimulatorServer, credentials: tuple[str, str, str], code: str
) -> None:
    with IdCardCompareClient(*credentials, endpoint=simulator.base_url) as client:
        result = client.compare(magic.MATCH, NAME, image=PERSON.photo_bytes)
    assert (result.code, result.error_class) == (code, ErrorClass.CONFIGURATION)
    assert simulator.ledger.billable == 0


class SlowClockClient(IdCardCompareClient):
    """A client whose clock is an hour behind: its signatures are expired on arrival."""

    def _sign(self) -> str:
        return signing.sign_legacy(
            appid=self.appid,
            secret_id=self._secret_id,
            secret_key=self._secret_key,
            lifetime=60,
            now=int(time.time()) - 3600,
        )


def test_expired_signature_is_resign(simulator: SimulatorServer) -> None:
    with SlowClockClient(
        DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, endpoint=simulator.base_url
    ) as client:
        result = client.compare(magic.MATCH, NAME, image=PERSON.photo_bytes)
    assert (result.code, result.error_class) == ("9", ErrorClass.RESIGN)
    with pytest.raises(exceptions.ResignRequired):
        result.raise_for_code()


def test_url_that_cannot_be_fetched_is_url_fetch(client: IdCardCompareClient) -> None:
    closed = "http://127.0.0.1:9/face.jpg"  # the discard port: nothing listens on loopback
    result = client.compare(magic.MATCH, NAME, url=closed)
    assert (result.code, result.error_class) == ("-5805", ErrorClass.URL_FETCH)
    with pytest.raises(exceptions.UrlFetchFailed):
        result.raise_for_code()


def test_registered_person_scores_high_and_another_photo_low(
    client: IdCardCompareClient, simulator: SimulatorServer
) -> None:
    other = demo_people()[1]
    same = client.compare(PERSON.idcard_number, PERSON.idcard_name, image=PERSON.photo_bytes)
    different = client.compare(PERSON.idcard_number, PERSON.idcard_name, image=other.photo_bytes)
    assert same.ok and same.similarity is not None and same.similarity > 90
    assert different.ok and different.similarity is not None and different.similarity < 40
    assert simulator.ledger.billable == 2
