"""The simulator's HTTP framing over raw sockets: malformed lengths answer 400 (never a crash,
never a read past the body cap), and the unauthenticated control endpoints stay on loopback
unless explicitly allowed beyond it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from face_idcard.simulator import SimulatorConfig, SimulatorServer
from face_idcard.simulator.server import RemoteControlRefused
from tests.support.paths import REPO_ROOT

PATH = "/face/idcardcompare"


def exchange(sim: SimulatorServer, raw: bytes, *, timeout: float = 3.0) -> bytes:
    """Send ``raw`` (the client keeps its side open, as a slow client would) and read until
    the server closes or ``timeout`` passes (then whatever arrived)."""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=timeout) as sock:
        sock.sendall(raw)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def status_of(answer: bytes) -> int:
    assert answer, "the server closed the connection without an answer"
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("size", [b"-5", b"-fffffff", b"0x5", b"+5", b" ", b"5_0"])
def test_a_chunk_size_that_is_not_plain_hex_answers_400(
    simulator: SimulatorServer, size: bytes
) -> None:
    # A negative size made the reader read to the end of the stream, past the body cap; the
    # client here keeps the connection open, so that read would wait for the timeout.
    raw = (
        (
            f"POST {PATH} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        + size
        + b"\r\n"
        + b"x" * 4096
    )
    answer = exchange(simulator, raw)
    assert status_of(answer) == 400
    assert b"Connection: close" in answer
    assert simulator.ledger.calls() == []


@pytest.mark.parametrize(
    "length",
    [
        "²".encode("latin-1"),  # str.isdigit() says yes, int() raised: the handler crashed
        "１２".encode(),  # full-width digits
        "١٢".encode(),  # Arabic-Indic digits
        b"+12",
        b"1 2",
        b"0x0c",
    ],
)
def test_a_content_length_that_is_not_ascii_digits_answers_400(
    simulator: SimulatorServer, length: bytes
) -> None:
    raw = (
        f"POST {PATH} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n".encode()
        + b"Content-Length: "
        + length
        + b'\r\n\r\n{"appid": "1"}'
    )
    answer = exchange(simulator, raw)
    assert status_of(answer) == 400
    # One answer only: the body was not taken for a second request.
    assert answer.count(b"HTTP/1.1 ") == 1
    assert simulator.ledger.calls() == []


def test_the_control_endpoints_refuse_a_malformed_length_too(simulator: SimulatorServer) -> None:
    raw = b"POST /__simulator__/reset HTTP/1.1\r\nHost: sim\r\nContent-Length: \xb2\r\n\r\n"
    assert status_of(exchange(simulator, raw)) == 400


def test_a_well_formed_chunked_request_still_works(simulator: SimulatorServer) -> None:
    body = b'{"appid": "1"}'
    raw = (
        f"POST {PATH} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode() + b"%X\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    assert status_of(exchange(simulator, raw)) == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", ""])
def test_it_refuses_to_listen_beyond_loopback_without_the_flag(host: str) -> None:
    server = SimulatorServer(SimulatorConfig(host=host, port=0))
    with pytest.raises(RemoteControlRefused, match="allow_remote_control"):
        server.start()
    assert repr(server) == "<SimulatorServer stopped>"


def test_with_the_flag_it_listens_beyond_loopback() -> None:
    with SimulatorServer(SimulatorConfig(host="0.0.0.0", port=0, allow_remote_control=True)) as sim:
        assert sim.port > 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_needs_no_flag(host: str) -> None:
    server = SimulatorServer(SimulatorConfig(host=host, port=0)).start()
    assert server.port > 0
    server.shutdown()


def test_the_command_line_refuses_a_public_host_without_the_flag() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "face_idcard.simulator", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        cwd=REPO_ROOT,
        check=False,
    )
    assert completed.returncode == 2
    assert "--allow-remote-control" in completed.stderr
    assert "listening" not in completed.stdout
