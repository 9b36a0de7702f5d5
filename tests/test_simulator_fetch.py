"""The simulator's url fetcher: the same public-destinations policy as validate_url, checked
again at every redirect, unless the simulator is started to allow private destinations."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from face_idcard.simulator import DEFAULT_APPID, SimulatorServer
from face_idcard.simulator.__main__ import build_parser, config_from_args
from face_idcard.simulator.fetch import FetchError, _CheckedRedirects, fetch_image
from face_idcard.simulator.registry import demo_people
from tests.resolver import resolve
from tests.test_simulator_legacy import code_of, post_json

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
def test_a_redirect_to_a_refused_destination_is_not_followed(target: str) -> None:
    handler = _CheckedRedirects(allow_private=False, resolver=resolve)
    request = urllib.request.Request("http://images.example.com/a.jpg")
    with pytest.raises(FetchError, match="refused") as caught:
        handler.redirect_request(request, None, 302, "Found", None, target)  # type: ignore[arg-type]
    assert target not in str(caught.value)
    public = handler.redirect_request(
        request,
        None,  # type: ignore[arg-type]
        302,
        "Found",
        {},  # type: ignore[arg-type]
        "http://cdn.example.com/a.jpg",
    )
    assert public is not None and public.full_url == "http://cdn.example.com/a.jpg"


def test_a_redirect_to_another_scheme_is_not_followed() -> None:
    handler = _CheckedRedirects(allow_private=True, resolver=resolve)
    request = urllib.request.Request("http://images.example.com/a.jpg")
    with pytest.raises(FetchError):
        handler.redirect_request(request, None, 302, "Found", None, "file:///etc/passwd")  # type: ignore[arg-type]


def test_fetch_refuses_names_that_do_not_resolve_or_resolve_inside() -> None:
    for url in ("http://photos.example.invalid/a.jpg", "http://rebind.example.com/a.jpg"):
        with pytest.raises(FetchError, match="refused"):
            fetch_image(url, timeout=1.0, max_bytes=1000, resolver=resolve)


def test_command_line_flag_allows_private_urls() -> None:
    parser = build_parser()
    assert config_from_args(parser.parse_args([])).url_allow_private is False
    flagged = config_from_args(parser.parse_args(["--allow-private-urls"]))
    assert flagged.url_allow_private is True
