"""A tiny scripted HTTP server on loopback that stands in for the provider in client tests.

Each test scripts the replies (JSON with any status, raw bytes, a hang, a dropped or truncated
connection) and afterwards reads the recorded requests: headers, raw body, parsed JSON or
multipart parts, and the client's TCP port (to see connection reuse).

This is not the simulator (``face_idcard.simulator``): it knows nothing about codes or
signatures and does exactly what the test says.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Part:
    """One multipart/form-data part."""

    name: str
    filename: str | None
    content_type: str | None
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")


@dataclass
class RecordedRequest:
    method: str
    path: str
    #: Header names in lower case.
    headers: dict[str, str]
    body: bytes
    client_port: int
    json: Any = None
    parts: dict[str, Part] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_multipart(self) -> bool:
        return self.content_type.startswith("multipart/form-data")

    def field(self, name: str) -> str:
        """A text field from either wire format."""
        if self.is_multipart:
            return self.parts[name].text
        value = self.json[name]
        assert isinstance(value, str)
        return value


# --- Replies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonReply:
    payload: Any
    status: int = 200


@dataclass(frozen=True)
class RawReply:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    #: Send the body with chunked transfer encoding (no Content-Length announced).
    chunked: bool = False


@dataclass(frozen=True)
class Hang:
    """Answer nothing for ``seconds`` (or until the server stops), then close."""

    seconds: float = 5.0


@dataclass(frozen=True)
class StallBody:
    """Send the status line, headers and part of the body, then hang."""

    seconds: float = 5.0


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering; ``reset`` sends a TCP RST instead of FIN."""

    reset: bool = False


@dataclass(frozen=True)
class Truncate:
    """Announce a longer body than is sent, then close the connection."""


Reply = JsonReply | RawReply | Hang | StallBody | Drop | Truncate
ReplyFactory = Callable[[RecordedRequest], Reply]


def success(similarity: float = 88.5, session_id: str = "") -> JsonReply:
    return JsonReply(
        {"data": {"similarity": similarity, "session_id": session_id}, "code": 0, "message": "OK"}
    )


def error(code: int, message: str = "error") -> JsonReply:
    return JsonReply({"data": {}, "code": code, "message": message})


# --- Multipart -----------------------------------------------------------------------------

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_multipart(body: bytes, content_type: str) -> dict[str, Part]:
    """Split a multipart/form-data body into parts, byte-exact (no line-ending rewriting)."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ValueError("multipart content type without boundary")
    delimiter = b"\r\n--" + match.group(1).encode("ascii")
    sections = (b"\r\n" + body).split(delimiter)
    if sections[0] != b"" or not sections[-1].startswith(b"--"):
        raise ValueError("malformed multipart body")
    parts: dict[str, Part] = {}
    for section in sections[1:-1]:
        if not section.startswith(b"\r\n"):
            raise ValueError("malformed multipart section")
        head, sep, content = section[2:].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart section without header end")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        params = dict(_PARAM.findall(headers.get("content-disposition", "")))
        part = Part(
            name=params["name"],
            filename=params.get("filename"),
            content_type=headers.get("content-type"),
            content=content,
        )
        parts[part.name] = part
    return parts


# --- Server --------------------------------------------------------------------------------


class FakeProvider:
    """Start with ``with FakeProvider() as fake:``; ``fake.url`` is the endpoint to use."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.server_errors: list[BaseException] = []
        self.default: Reply | ReplyFactory = success()
        self._script: deque[Reply | ReplyFactory] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval keeps shutdown (one per test) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def script(self, *replies: Reply | ReplyFactory) -> None:
        """Queue replies for the next requests, in order; then ``default`` answers."""
        with self._lock:
            self._script.extend(replies)

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that hang
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            reply = self._script.popleft() if self._script else self.default
        return reply(request) if callable(reply) else reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Recorded instead of printed, so a test can assert the server itself did not fail.
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, ConnectionError):
            self.fake.server_errors.append(exc)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, so tests can see the client's pooling.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY each reply waits ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        request = RecordedRequest(
            method="POST",
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            client_port=self.client_address[1],
        )
        if request.is_multipart:
            request.parts = parse_multipart(body, request.content_type)
        elif request.content_type.startswith("application/json"):
            request.json = json.loads(body.decode("utf-8"))
        fake = self.server.fake
        reply = fake._next_reply(request)
        self._send(reply, fake._stopping)

    def _send(self, reply: Reply, stopping: threading.Event) -> None:
        if isinstance(reply, JsonReply):
            self._write(reply.status, json.dumps(reply.payload).encode("utf-8"), "application/json")
        elif isinstance(reply, RawReply) and reply.chunked:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(reply.body), 8192):
                chunk = reply.body[start : start + 8192]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        elif isinstance(reply, RawReply):
            self._write(reply.status, reply.body, reply.content_type)
        elif isinstance(reply, Hang):
            stopping.wait(reply.seconds)
            self.close_connection = True
        elif isinstance(reply, StallBody):
            self._write_head(200, "application/json", 100)
            self.wfile.write(b'{"code": 0,')
            self.wfile.flush()
            stopping.wait(reply.seconds)
            self.close_connection = True
        elif isinstance(reply, Drop):
            if reply.reset:
                # SO_LINGER with a zero timeout turns close() into a TCP RST.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.close_connection = True
        elif isinstance(reply, Truncate):
            self._write_head(200, "application/json", 100)
            self.wfile.write(b'{"code": 0')
            self.wfile.flush()
            self.close_connection = True

    def _write_head(self, status: int, content_type: str, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _write(self, status: int, body: bytes, content_type: str) -> None:
        self._write_head(status, content_type, len(body))
        self.wfile.write(body)
        self.wfile.flush()


def closed_port() -> int:
    """A loopback port that was free a moment ago and has nothing listening now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_close_releases_the_pooled_connection(
    backend: Any, fake: FakeProvider, request: Any
) -> None:
    """Two calls of ``backend.verify(request)`` share one kept-alive connection to ``fake``;
    after ``backend.close()`` the next call opens a new one (another client port)."""
    backend.verify(request)
    backend.verify(request)
    first, again = fake.requests
    assert again.client_port == first.client_port  # kept alive
    backend.close()
    backend.verify(request)
    assert fake.requests[2].client_port != first.client_port
