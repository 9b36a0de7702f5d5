"""The simulator's url fetcher: the same public-destinations policy as validate_url, checked
again at every redirect, unless the simulator is started to allow private destinations."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from face_idcard.simulator import DEFAULT_APPID, SimulatorServer, fetch
from face_idcard.simulator.__main__ import build_parser, config_from_args
from face_idcard.simulator.fetch import FetchError, fetch_image, pin_destination
from face_idcard.simulator.registry import demo_people
from tests.support.resolver import resolve
from tests.support.simulator_http import code_of, post_json

ZHANG = demo_people()[0]


class _Handler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/redirect/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = ZHANG.photo_bytes
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def image_host() -> Iterator[str]:
    _Handler.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def compare_url(sim: SimulatorServer, url: str) -> int:
    body = {
        "appid": DEFAULT_APPID,
        "idcard_number": ZHANG.idcard_number,
        "idcard_name": ZHANG.idcard_name,
        "url": url,
    }
    return code_of(post_json(sim, body))


def test_by_default_the_simulator_fetches_no_private_destination(
    simulator_factory: Any, image_host: str
) -> None:
    sim = simulator_factory(url_allow_private=False)
    assert compare_url(sim, image_host + "/photo.jpg") == -5805
    assert _Handler.hits == []  # refused before any connection
    assert sim.ledger.billable == 0


def test_started_to_allow_private_it_fetches_and_follows_redirects(
    simulator_factory: Any, image_host: str
) -> None:
    sim = simulator_factory(url_allow_private=True)
    assert compare_url(sim, image_host + "/redirect/" + image_host + "/photo.jpg") == 0
    assert _Handler.hits == ["/redirect/" + image_host + "/photo.jpg", "/photo.jpg"]


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:9/x.jpg", "http://intranet.example.com/x.jpg", "http://[::1]/x.jpg"],
)
def test_a_redirect_to_a_refused_destination_is_not_followed(
    image_host: str, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The image host itself is allowed (it is taken for a public one); its redirect is not.
    checked: list[str] = []

    def policy_resolver(host: str) -> list[str]:
        checked.append(host)
        return resolve(host)

    real_pin = fetch.pin_destination

    def pin(url: str, **kwargs: Any) -> fetch.PinnedTarget:
        if url.startswith(image_host):
            return real_pin(url, allow_private=True, resolver=kwargs["resolver"])
        return real_pin(url, **kwargs)

    monkeypatch.setattr(fetch, "pin_destination", pin)
    with pytest.raises(FetchError, match="refused") as caught:
        fetch_image(
            image_host + "/redirect/" + target,
            timeout=2.0,
            max_bytes=100_000,
            resolver=policy_resolver,
        )
    assert target not in str(caught.value)
    assert _Handler.hits == ["/redirect/" + target]
    public = pin_destination("http://cdn.example.com/a.jpg", allow_private=False, resolver=resolve)
    assert (public.host, public.port, public.target) == ("cdn.example.com", 80, "/a.jpg")


def test_a_redirect_to_another_scheme_is_not_followed(
    simulator_factory: Any, image_host: str
) -> None:
    with pytest.raises(FetchError, match="only http"):
        fetch_image(
            image_host + "/redirect/file:///etc/passwd",
            timeout=2.0,
            max_bytes=100_000,
            allow_private=True,
        )


def test_fetch_refuses_names_that_do_not_resolve_or_resolve_inside() -> None:
    for url in ("http://photos.example.invalid/a.jpg", "http://rebind.example.com/a.jpg"):
        with pytest.raises(FetchError, match="refused"):
            fetch_image(url, timeout=1.0, max_bytes=1000, resolver=resolve)


def test_command_line_flag_allows_private_urls() -> None:
    parser = build_parser()
    assert config_from_args(parser.parse_args([])).url_allow_private is False
    flagged = config_from_args(parser.parse_args(["--allow-private-urls"]))
    assert flagged.url_allow_private is True


def test_the_host_is_resolved_once_and_the_checked_address_is_connected_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: a name that answers a public address to the check and a loopback one
    a moment later must not reach loopback. The fetcher asks once and connects to what it
    checked."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    asked: list[str] = []

    def rebinding(host: str) -> list[str]:
        asked.append(host)
        return next(answers)

    connected: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected.append(address)
        raise ConnectionRefusedError  # no traffic leaves the test

    monkeypatch.setattr(socket, "create_connection", create_connection)
    with pytest.raises(FetchError, match="could not be downloaded"):
        fetch_image(
            "http://rebinding.example.com:8080/a.jpg",
            timeout=1.0,
            max_bytes=1000,
            resolver=rebinding,
        )
    assert asked == ["rebinding.example.com"]
    assert connected == [("93.184.215.14", 8080)]


def test_the_connection_to_the_pinned_address_names_the_host(image_host: str) -> None:
    """The resolver's answer is where the fetcher connects (no system DNS for the name), and
    the name travels in the Host header."""
    port = image_host.rsplit(":", 1)[1]
    seen_hosts: list[str] = []
    original = _Handler.do_GET

    def do_get(handler: _Handler) -> None:
        seen_hosts.append(handler.headers.get("Host", ""))
        original(handler)

    _Handler.do_GET = do_get  # type: ignore[method-assign]
    try:
        data = fetch_image(
            f"http://photos.example.invalid:{port}/photo.jpg",
            timeout=2.0,
            max_bytes=1_000_000,
            allow_private=True,
            resolver=lambda host: ["127.0.0.1"],
        )
    finally:
        _Handler.do_GET = original  # type: ignore[method-assign]
    assert data == ZHANG.photo_bytes
    assert seen_hosts == [f"photos.example.invalid:{port}"]
