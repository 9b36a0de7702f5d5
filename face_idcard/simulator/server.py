"""The HTTP/1.1 server: threads, keep-alive, routing, delays, transport faults, the ledger.

Built on the standard library's ``ThreadingHTTPServer`` (one thread per connection, keep-alive
on HTTP/1.1), so the simulator needs nothing but Pillow and python-stdnum. Each answer is
written in one ``send`` with ``TCP_NODELAY``: two small writes would meet Nagle's algorithm and
the client's delayed ACK and cost 40 ms each.

Control endpoints: ``GET /__simulator__/calls`` (the ledger's records), ``GET
/__simulator__/stats`` (totals, billable, by code, by outcome), ``POST /__simulator__/reset``.
They have no authentication, so the server listens only on loopback addresses unless its
configuration says ``allow_remote_control`` (``--allow-remote-control``).

A malformed request (a Content-Length or chunk size that is not plain ASCII digits or hex
digits) answers 400 and closes the connection: guessing would read past the body cap or
take the rest of the body for the next request.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .config import SimulatorConfig
from .core import SimulatorCore
from .ledger import CallRecord, Ledger
from .protocols import ProtocolHandler, Reply, ReplyAction, Request, default_protocols
from .registry import Registry

__all__ = ["MalformedRequest", "RemoteControlRefused", "SimulatorServer"]

logger = logging.getLogger("face_idcard.simulator")

ADMIN_PREFIX = "/__simulator__/"
#: How long the server keeps discarding an over-limit body after answering 23, so that the
#: client finishes sending and reads the answer instead of meeting a connection reset.
_DISCARD_SECONDS = 5.0
_DISCARD_MAX_BYTES = 256 * 1024 * 1024
#: An idle keep-alive connection is closed after this many seconds.
_IDLE_TIMEOUT_SECONDS = 120.0
#: A Content-Length and a chunk size as RFC 9112 has them: ASCII only (``str.isdigit`` and
#: ``int`` also take "²" or Arabic-Indic digits, and ``int(..., 16)`` a sign or "0x").
_DECIMAL = re.compile(rb"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
#: One piece of an oversized answer's padding (spaces: JSON allows them after the value).
_PADDING = b" " * (64 * 1024)


class MalformedRequest(Exception):
    """The request's framing cannot be read safely: answered with 400, then closed."""


class RemoteControlRefused(ValueError):
    """The simulator was asked to listen beyond loopback without ``allow_remote_control``."""


def _is_loopback(host: str, port: int) -> bool:
    """True when every address ``host`` binds to is a loopback address."""
    try:
        answers = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError):
        return False
    addresses = [str(sockaddr[0]).split("%", 1)[0] for *_, sockaddr in answers]
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # Keep-alive threads wait on their sockets: shutdown closes those sockets instead of joining.
    block_on_close = False
    allow_reuse_address = True
    # The default backlog of 5 drops SYNs when 16 clients connect at once (1 s retransmits).
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], core: SimulatorCore, protocols: Sequence[ProtocolHandler]
    ) -> None:
        self.core = core
        #: (method, path) -> the protocols serving it, asked in order (see ``claims``).
        self.routes: dict[tuple[str, str], list[ProtocolHandler]] = {}
        for protocol in protocols:
            self.routes.setdefault((protocol.method, protocol.path), []).append(protocol)
        self.largest_body = max((p.max_body_bytes(core) for p in protocols), default=0)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def reset(self) -> None:
        """Empty the core's state and every protocol's."""
        self.core.reset()
        for protocols in self.routes.values():
            for protocol in protocols:
                protocol.reset()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return  # the client went away or idled out: nothing to report
        # The traceback names no request data (bodies are never put into exception texts).
        logger.exception("simulator: unexpected error while serving a request")

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "face-idcard-simulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = _IDLE_TIMEOUT_SECONDS
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # Silent on purpose: request lines are noise in tests and benchmarks.
        return

    def handle_expect_100(self) -> bool:
        # Do not invite a body we are going to refuse; the answer (23 or 400) goes out
        # straight away.
        try:
            if self._content_length() > self.server.largest_body:
                return True
        except MalformedRequest:
            return True
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _content_length(self) -> int:
        """The declared length (0 without one); :class:`MalformedRequest` unless it is ASCII
        digits."""
        value = self.headers.get("Content-Length")
        if value is None:
            return 0
        raw = value.strip().encode("latin-1", "replace")
        if not _DECIMAL.fullmatch(raw):
            raise MalformedRequest
        return int(raw)

    def _dispatch(self) -> None:
        try:
            self._route()
        except MalformedRequest:
            # Nothing was answered yet (the body is read before any answer); what follows on
            # the connection cannot be told from this body: close it.
            self.close_connection = True
            self._send(400, b'{"error": "bad request"}', "application/json")

    def _route(self) -> None:
        started = time.perf_counter()
        received_at = time.time()
        target = urlsplit(self.path)
        path = target.path
        if path.startswith(ADMIN_PREFIX):
            self._admin(path)
            return
        protocol = next(
            (
                candidate
                for candidate in self.server.routes.get((self.command, path), ())
                if candidate.claims(self.headers)
            ),
            None,
        )
        if protocol is None:
            if self._read_body(self.server.largest_body) is None:
                self.close_connection = True
            self._send(404, b'{"error": "not found"}', "application/json")
            return
        core = self.server.core
        body = self._read_body(protocol.max_body_bytes(core))
        if body is None:
            reply = protocol.too_large(core, received_at)
            self._record(protocol, reply, received_at, started)
            self._respond(reply)
            self._discard_rest()
            return
        request = Request(self.command, path, self.headers, body, received_at, target.query)
        reply = protocol.handle(request, core)
        delay_ms = reply.delay_ms + core.faults.latency_ms()
        if core.wait(delay_ms / 1000.0):
            self.close_connection = True  # stopping: answer nothing
            return
        if reply.action is ReplyAction.HANG:
            self._record(protocol, reply, received_at, started)
            core.wait(core.config.max_hang_seconds)
            self.close_connection = True
            return
        # Recorded before answering: once a client has its answer, the ledger shows the call.
        self._record(protocol, reply, received_at, started)
        if reply.action is ReplyAction.DROP:
            self.close_connection = True
        else:
            self._respond(reply)

    def _record(
        self, protocol: ProtocolHandler, reply: Reply, received_at: float, started: float
    ) -> None:
        pending = reply.record
        if pending is None:
            return
        self.server.core.ledger.record(
            CallRecord(
                time=received_at,
                protocol=protocol.name,
                session_id=pending.session_id,
                code=pending.code,
                outcome=pending.outcome,
                billable=pending.billable,
                injected=pending.injected,
                latency_ms=round((time.perf_counter() - started) * 1000.0, 3),
                idcard_masked=pending.idcard_masked,
            )
        )

    def _read_body(self, limit: int) -> bytes | None:
        """The request body, or None when it is over ``limit`` (then it is left unread)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        length = self._content_length()
        if length > limit:
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            digits = size_line.split(b";", 1)[0].strip()
            if not _HEX.fullmatch(digits):
                raise MalformedRequest  # a sign, "0x", "_" or nothing: never guessed
            size = int(digits, 16)
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _discard_rest(self) -> None:
        """Read and drop what the client still sends after a 23, then close (a lingering close)."""
        self.close_connection = True
        try:
            declared = self._content_length()
        except MalformedRequest:
            declared = 0
        remaining = min(declared, _DISCARD_MAX_BYTES)
        deadline = time.monotonic() + _DISCARD_SECONDS
        try:
            self.connection.settimeout(1.0)
            while remaining > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read1(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass

    def _respond(self, reply: Reply) -> None:
        if reply.close:
            self.close_connection = True
        if reply.padding or reply.gzip:
            self._send_padded(reply)
            return
        self._send(reply.status, reply.body, reply.content_type)

    def _send_padded(self, reply: Reply) -> None:
        """An oversized answer: the body, then its padding in pieces (never held whole), with
        a Content-Length; gzip-encoded and chunked for a gzip bomb. Stops when the client
        hangs up, as a client that caps what it reads does."""
        self.close_connection = True
        head = (
            f"{self.protocol_version} {reply.status} {HTTPStatus(reply.status).phrase}\r\n"
            f"Server: {self.server_version}\r\n"
            f"Date: {self.date_time_string()}\r\n"
            f"Content-Type: {reply.content_type}\r\n"
        )
        if reply.gzip:
            head += "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
        else:
            head += f"Content-Length: {len(reply.body) + reply.padding}\r\n"
        head += "Connection: close\r\n\r\n"
        # 31: a gzip header and trailer around the deflate stream.
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31) if reply.gzip else None

        def pieces() -> Iterator[bytes]:
            yield reply.body
            remaining = reply.padding
            while remaining > 0:
                piece = _PADDING if remaining >= len(_PADDING) else _PADDING[:remaining]
                remaining -= len(piece)
                yield piece

        try:
            self.wfile.write(head.encode("latin-1"))
            for piece in pieces():
                data = compressor.compress(piece) if compressor is not None else piece
                self._write_piece(data, chunked=compressor is not None)
            if compressor is not None:
                self._write_piece(compressor.flush(), chunked=True)
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client stopped reading and closed: expected

    def _write_piece(self, data: bytes, *, chunked: bool) -> None:
        if not data:
            return
        if chunked:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            self.wfile.write(data)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        head = (
            f"{self.protocol_version} {status} {HTTPStatus(status).phrase}\r\n"
            f"Server: {self.server_version}\r\n"
            f"Date: {self.date_time_string()}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Connection: {'close' if self.close_connection else 'keep-alive'}\r\n\r\n"
        )
        try:
            self.wfile.write(head.encode("latin-1") + body)
        except OSError:
            self.close_connection = True

    def _admin(self, path: str) -> None:
        if self._read_body(1 << 20) is None:
            self.close_connection = True  # the unread body would be taken for the next request
        ledger = self.server.core.ledger
        payload: Any
        if path == ADMIN_PREFIX + "calls" and self.command == "GET":
            payload = [record.as_dict() for record in ledger.calls()]
        elif path == ADMIN_PREFIX + "stats" and self.command == "GET":
            payload = ledger.stats()
        elif path == ADMIN_PREFIX + "reset" and self.command == "POST":
            self.server.reset()
            payload = {"reset": True}
        else:
            self._send(404, b'{"error": "not found"}', "application/json")
            return
        self._send(200, json.dumps(payload).encode("utf-8"), "application/json")


class SimulatorServer:
    """The simulator in a background thread. A context manager::

    with SimulatorServer(SimulatorConfig(qps=20)) as sim:
        requests.post(sim.base_url + "/face/idcardcompare", ...)
        assert sim.ledger.billable == 1
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        protocols: Sequence[ProtocolHandler] | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.core = SimulatorCore(self.config)
        self._protocols = list(protocols) if protocols is not None else default_protocols()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = self.base_url if self._httpd is not None else "stopped"
        return f"<SimulatorServer {state}>"

    def start(self) -> SimulatorServer:
        if self._httpd is not None:
            return self
        if not self.config.allow_remote_control and not _is_loopback(
            self.config.host, self.config.port
        ):
            raise RemoteControlRefused(
                f"refusing to listen on {self.config.host or 'every address'}: the control "
                "endpoints (/__simulator__/) have no authentication; allow them beyond "
                "loopback explicitly (allow_remote_control, --allow-remote-control)"
            )
        self.core.stopping.clear()
        self._httpd = _HttpServer((self.config.host, self.config.port), self.core, self._protocols)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="face-idcard-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def shutdown(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self.core.stopping.set()  # wakes every hang and delay
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI); returns after :meth:`shutdown` from elsewhere."""
        self.start()
        assert self._thread is not None
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def reset(self) -> None:
        self.core.reset()
        for protocol in self._protocols:
            protocol.reset()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the simulator is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def ledger(self) -> Ledger:
        return self.core.ledger

    @property
    def registry(self) -> Registry:
        return self.core.registry
