"""The FaceID client reads at most MAX_RESPONSE_BYTES of a response, decoded, over real HTTP.

The simulator's ``oversized`` fault answers a well-formed match padded to 50 MB (with a
Content-Length); ``gzip_bomb`` the same gzip-encoded and chunked, under 64 KiB on the wire.
Read whole, either is a usable match: only the cap turns them into bad responses.
"""

from __future__ import annotations

import base64
import gc
import json
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
import requests

from face_idcard import exceptions
from face_idcard.outcome import TRANSPORT_BAD_RESPONSE
from face_idcard.providers.faceid import sdk
from face_idcard.providers.legacy.client import MAX_RESPONSE_BYTES as LEGACY_MAX_RESPONSE_BYTES
from face_idcard.providers.legacy.client import IdCardCompareClient
from face_idcard.simulator import (
    DEFAULT_APPID,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SimulatorServer,
    magic,
)
from face_idcard.simulator.config import OVERSIZED_ANSWER_BYTES
from tests.support.celery_app import wait_terminal
from tests.support.faceid import PHOTO, call_events, submit
from tests.support.faceid import use_faceid as use_faceid  # a fixture

NAME = "张三"
FAULTS = ["oversized", "gzip_bomb"]
#: Far below the 50 MB a missing cap holds; room for the SDK's request building.
MEMORY_BOUND_BYTES = 8 * 1024 * 1024


def params(image: bytes = b"\x00") -> dict[str, Any]:
    # Faults come before the body is examined: a tiny image is enough for them.
    return {"IdCard": magic.MATCH, "Name": NAME, "ImageBase64": base64.b64encode(image).decode()}


def client_for(sim: SimulatorServer, **kwargs: Any) -> sdk.FaceIdClient:
    return sdk.FaceIdClient(
        DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, endpoint=sim.base_url, read_timeout=5.0, **kwargs
    )


def pooled_connections(client: sdk.FaceIdClient) -> list[Any]:
    """The connections the SDK session's pool would hand out next."""
    session = client._client.request.conn._session
    adapter = session.get_adapter("http://x")
    found = []
    pools = adapter.poolmanager.pools
    for key in pools.keys():  # noqa: SIM118 (the container refuses iteration)
        found += [conn for conn in list(pools[key].pool.queue) if conn is not None]
    return found


def test_the_sdk_session_is_capped() -> None:
    client = sdk.FaceIdClient(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, endpoint="http://127.0.0.1:1")
    session = client._client.request.conn._session
    for prefix in ("http://x", "https://x"):
        adapter = session.get_adapter(prefix)
        assert isinstance(adapter, sdk.CappedHTTPAdapter)
        assert adapter.max_bytes == sdk.MAX_RESPONSE_BYTES == LEGACY_MAX_RESPONSE_BYTES


@pytest.mark.parametrize("fault", FAULTS)
def test_the_fault_is_a_usable_match_read_whole(
    simulator_factory: Callable[..., SimulatorServer], fault: str
) -> None:
    """What the faults send (1 MB here): the cap, not the body, makes them bad responses."""
    size = 1_000_000
    sim = simulator_factory(error_rates={fault: 1.0}, oversized_answer_bytes=size)
    client = client_for(sim)
    session = client._client.request.conn._session
    session.mount("http://", requests.adapters.HTTPAdapter())  # uncapped, for this look
    body = client._client.call(sdk.ACTION, params())
    assert len(body) == size
    response = json.loads(body)["Response"]
    assert (response["Result"], response["Sim"]) == ("Success", magic.MATCH_SIMILARITY)
    (call,) = sim.ledger.calls()
    assert (call.outcome, call.billable, call.injected, call.code) == (fault, False, True, None)


class WireAdapter(requests.adapters.HTTPAdapter):
    """Keeps the body as it came over the wire (not decoded); the SDK gets a stand-in."""

    wire = b""

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["stream"] = True
        response = super().send(request, *args, **kwargs)
        pieces = iter(lambda: response.raw.read(16 * 1024, decode_content=False), b"")
        self.wire = b"".join(pieces)
        response._content = b'{"Response": {"RequestId": "r"}}'
        return response


def test_the_gzip_bomb_is_small_on_the_wire(
    simulator_factory: Callable[..., SimulatorServer],
) -> None:
    sim = simulator_factory(error_rates={"gzip_bomb": 1.0})
    client = client_for(sim)
    adapter = WireAdapter()
    client._client.request.conn._session.mount("http://", adapter)
    client._client.call(sdk.ACTION, params())
    assert 0 < len(adapter.wire) < sdk.MAX_RESPONSE_BYTES
    inflated = zlib.decompressobj(31).decompress(adapter.wire, sdk.MAX_RESPONSE_BYTES + 1)
    assert len(inflated) > sdk.MAX_RESPONSE_BYTES  # and 50 MB in all


@pytest.mark.parametrize("fault", FAULTS)
def test_an_oversized_answer_is_a_bad_response_in_bounded_memory(
    simulator_factory: Callable[..., SimulatorServer], fault: str
) -> None:
    sim = simulator_factory(error_rates={fault: 1.0})
    assert sim.config.oversized_answer_bytes == OVERSIZED_ANSWER_BYTES == 50_000_000
    client = client_for(sim)
    gc.collect()
    tracemalloc.start()
    try:
        with pytest.raises(exceptions.ProviderBadResponse) as raised:
            client.image_recognition_v2(params())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND_BYTES, f"peak {peak} bytes while reading a 50 MB answer"
    error = raised.value
    assert error.code == TRANSPORT_BAD_RESPONSE
    assert error.detail == f"body over {sdk.MAX_RESPONSE_BYTES} bytes"
    # Nothing of the body (nor the SDK's wrapped exception) rides along.
    text = f"{error} {error.detail} {error.args}"
    assert '"Sim"' not in text and "RequestId" not in text and "   " not in text
    assert error.__cause__ is None and error.__context__ is None
    # The connection was closed, not given back for reuse.
    assert all(conn.sock is None for conn in pooled_connections(client))
    (call,) = sim.ledger.calls()
    assert (call.outcome, call.billable) == (fault, False)


def test_the_pool_stays_usable_after_a_dropped_connection(
    simulator_factory: Callable[..., SimulatorServer],
) -> None:
    # Seeded: the same mix of oversized answers and matches on every run.
    sim = simulator_factory(error_rates={"oversized": 0.5}, seed=14)
    client = client_for(sim, pool_maxsize=1)
    outcomes = []
    for _ in range(12):
        try:
            answer = client.image_recognition_v2(params(PHOTO))
        except exceptions.ProviderBadResponse:
            outcomes.append("bad")
        else:
            assert answer.result == "Success" and answer.sim == magic.MATCH_SIMILARITY
            outcomes.append("ok")
    assert "bad" in outcomes and "ok" in outcomes
    assert "ok" in outcomes[outcomes.index("bad") :]
    assert [c.outcome for c in sim.ledger.calls()].count("oversized") == outcomes.count("bad")


def test_an_answer_within_the_cap_is_read(
    simulator_factory: Callable[..., SimulatorServer],
) -> None:
    size = sdk.MAX_RESPONSE_BYTES  # exactly at the cap: still the API's answer
    sim = simulator_factory(error_rates={"gzip_bomb": 1.0}, oversized_answer_bytes=size)
    answer = client_for(sim).image_recognition_v2(params())
    assert (answer.result, answer.sim) == ("Success", magic.MATCH_SIMILARITY)


def test_the_legacy_protocol_sends_the_fault_too(
    simulator_factory: Callable[..., SimulatorServer],
) -> None:
    sim = simulator_factory(error_rates={"gzip_bomb": 1.0})
    client = IdCardCompareClient(
        DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, endpoint=sim.base_url
    )
    with client, pytest.raises(exceptions.ProviderBadResponse) as raised:
        client.compare(magic.MATCH, NAME, image=PHOTO)
    assert "over" in raised.value.detail
    (call,) = sim.ledger.calls()
    assert (call.outcome, call.billable, call.code) == ("gzip_bomb", False, None)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
@pytest.mark.parametrize("fault", FAULTS)
def test_through_the_pipeline_it_is_retried_as_a_bad_response_then_fails(
    use_faceid: Callable[..., None], simulator_factory: Callable[..., SimulatorServer], fault: str
) -> None:
    sim = simulator_factory(error_rates={fault: 1.0})
    use_faceid(sim, site={"RETRY_MAX_COUNT": 1})
    done = wait_terminal(submit(magic.MATCH).pk, timeout=20)
    assert (done.status, done.decision, done.error_code, done.error_class) == (
        "failed",
        "none",
        TRANSPORT_BAD_RESPONSE,
        "transient",
    )
    assert [e["code"] for e in call_events(done)] == [TRANSPORT_BAD_RESPONSE] * 2
    assert [e["billable"] for e in call_events(done)] == [False, False]
    assert done.provider_calls == 2
    assert not done.raw_response
    assert [c.outcome for c in sim.ledger.calls()] == [fault, fault]
