"""A url's host is resolved off the request thread, within ``URL_RESOLVE_TIMEOUT_SECONDS``,
and a name that did not resolve is refused at once for ``URL_UNRESOLVABLE_CACHE_SECONDS``.

Before, ``validate_url`` called the resolver on the web worker's thread with no bound: a
client naming a host whose DNS server never answers held the worker for the system resolver's
whole timeout, on every request.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from face_idcard import _netpolicy as netpolicy
from face_idcard._netpolicy import validate_url
from tests.support.resolver import PUBLIC


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    netpolicy.forget_unresolvable()
    yield
    netpolicy.forget_unresolvable()


@pytest.fixture
def url_settings(settings: Any) -> Any:
    def apply(**values: Any) -> None:
        settings.FACE_IDCARD = {**settings.FACE_IDCARD, **values}

    return apply


class Counting:
    """A resolver that counts its calls; ``hang`` seconds before answering, ``fail`` NXDOMAIN."""

    def __init__(self, *, hang: float = 0.0, fail: bool = False) -> None:
        self.calls = 0
        self.hang = hang
        self.fail = fail
        self.released = threading.Event()

    def __call__(self, host: str) -> list[str]:
        self.calls += 1
        if self.hang:
            self.released.wait(self.hang)
        if self.fail:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [PUBLIC]


def code_of(url: str, resolver: Counting) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_url(url, resolver=resolver)
    return str(caught.value.code)


def test_a_hanging_resolver_is_cut_off_at_the_timeout(url_settings: Any) -> None:
    url_settings(URL_RESOLVE_TIMEOUT_SECONDS=0.3)
    hanging = Counting(hang=30.0)
    started = time.monotonic()
    try:
        assert code_of("https://slow.example.com/face.jpg", hanging) == "url_unresolvable"
    finally:
        hanging.released.set()
    assert time.monotonic() - started < 2.0
    assert threading.current_thread() is threading.main_thread()


def test_an_unresolvable_name_is_remembered_briefly(url_settings: Any) -> None:
    url_settings(URL_UNRESOLVABLE_CACHE_SECONDS=0.5)
    failing = Counting(fail=True)
    url = "https://gone.example.com/face.jpg"
    assert code_of(url, failing) == "url_unresolvable"
    assert code_of(url, failing) == "url_unresolvable"
    assert failing.calls == 1  # the second answer came from the cache
    time.sleep(0.6)
    assert code_of(url, failing) == "url_unresolvable"
    assert failing.calls == 2


def test_a_timed_out_name_is_remembered_too(url_settings: Any) -> None:
    url_settings(URL_RESOLVE_TIMEOUT_SECONDS=0.2)
    hanging = Counting(hang=30.0)
    try:
        for _ in range(3):
            assert code_of("https://slow.example.com/a.jpg", hanging) == "url_unresolvable"
    finally:
        hanging.released.set()
    assert hanging.calls == 1


def test_names_that_resolve_are_asked_every_time() -> None:
    resolving = Counting()
    for _ in range(3):
        assert validate_url("https://photos.example.com/face.jpg", resolver=resolving)
    assert resolving.calls == 3  # fresh answers for the address policy (DNS rebinding)


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netpolicy, "UNRESOLVABLE_CACHE_SIZE", 2)
    failing = Counting(fail=True)
    for name in ("a", "b", "c"):
        code_of(f"https://{name}.example.com/x.jpg", failing)
    assert failing.calls == 3
    code_of("https://a.example.com/x.jpg", failing)  # the oldest was forgotten
    assert failing.calls == 4
    code_of("https://c.example.com/x.jpg", failing)  # the newest is still remembered
    assert failing.calls == 4
