"""A webhook receiver on loopback for the tests: records every request (headers and body) and
answers what the test scripted, one answer per request (the last one repeats). It counts the
connections it accepted, and speaks TLS when given a context (recording each client's SNI)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: Bytes of a huge body streamed after ``body`` (never built in memory).
    stream_bytes: int = 0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    def __init__(self, receiver: Receiver, handler: Any, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.receiver = receiver
        self.tls = tls
        if tls is not None:
            tls.sni_callback = self._sni

    def _sni(self, _sock: Any, name: str | None, _context: Any) -> None:
        with self.receiver.lock:
            self.receiver.server_names.append(name)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        with self.receiver.lock:
            self.receiver.connections += 1
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a refused handshake (the client's certificate check) is the test's business


class Receiver:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.replies: list[Reply] = [Reply()]
        self.received: list[Received] = []
        #: Connections accepted, and the SNI of each TLS handshake.
        self.connections = 0
        self.server_names: list[str | None] = []
        self.lock = threading.Lock()
        self.scheme = "https" if tls is not None else "http"
        self.server = _Server(self, self._handler(), tls)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/hook"

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self.replies = list(replies)

    def hits(self, path: str = "/hook") -> list[Received]:
        return [item for item in self.received if item.path == path]

    def _next(self) -> Reply:
        with self.lock:
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _handler(self) -> Any:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                reply = receiver._next()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body) + reply.stream_bytes))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    chunk = b"x" * 65536
                    left = reply.stream_bytes
                    while left > 0:
                        self.wfile.write(chunk[: min(left, len(chunk))])
                        left -= len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (as it should, past its cap)

        return Handler

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def running(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    receiver = Receiver(tls).start()
    try:
        yield receiver
    finally:
        receiver.stop()
