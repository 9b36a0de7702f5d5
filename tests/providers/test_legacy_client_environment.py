"""The client reads the proxy/CA environment once, at construction, not on every call."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from face_idcard.providers.legacy.client import IdCardCompareClient
from face_idcard.simulator import DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, magic
from face_idcard.simulator.registry import demo_people


def _client(endpoint: str) -> IdCardCompareClient:
    return IdCardCompareClient(
        DEFAULT_APPID, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, endpoint=endpoint
    )


def test_proxies_and_ca_bundle_come_from_the_environment_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = _client("https://faceid.example.com")
    session: requests.Session = client._session
    assert session.proxies.get("https") == "http://127.0.0.1:3128"
    assert session.verify == "/etc/ssl/certs/ca-certificates.crt"
    assert session.trust_env is False


def test_a_call_does_not_walk_the_environment(
    simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(simulator.base_url)

    def walked(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the environment was read during a call")

    monkeypatch.setattr(requests.utils, "get_environ_proxies", walked)
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", walked, raising=False)
    image = demo_people()[0].photo_bytes
    assert client.compare(magic.MATCH, "张三", image=image).code == "0"
