"""The simulator as a server: ledger, concurrency, quota, injected faults, shutdown, the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from face_idcard.providers.legacy import signing
from face_idcard.simulator import (
    DEFAULT_APPID,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SimulatorConfig,
    SimulatorServer,
    magic,
)
from face_idcard.simulator.registry import demo_people
from tests.support.paths import REPO_ROOT

PATH = "/face/idcardcompare"
PEOPLE = demo_people()
ZHANG, LI = PEOPLE[0], PEOPLE[1]
Factory = Callable[..., SimulatorServer]


def sign() -> str:
    return signing.sign_legacy(
        appid=DEFAULT_APPID, secret_id=DEFAULT_SECRET_ID, secret_key=DEFAULT_SECRET_KEY
    )


def post(
    base_url: str,
    number: str,
    name: str = "张三",
    image: bytes | None = ZHANG.photo_bytes,
    *,
    auth: str | None = None,
    session: requests.Session | None = None,
    timeout: float = 10.0,
) -> requests.Response:
    files: dict[str, Any] = {
        "appid": (None, DEFAULT_APPID.encode(), None),
        "idcard_number": (None, number.encode(), None),
        "idcard_name": (None, name.encode("utf-8"), None),
    }
    if image is not None:
        files["image"] = ("photo.jpg", image, "image/jpeg")
    sender = session or requests
    return sender.post(
        base_url + PATH,
        files=files,
        headers={"Authorization": auth if auth is not None else sign()},
        timeout=timeout,
    )


def code(response: requests.Response) -> int:
    assert response.status_code == 200
    return int(response.json()["code"])


# --- ledger -----------------------------------------------------------------------------------


def test_ledger_counts_exactly_under_16_concurrent_clients(simulator: SimulatorServer) -> None:
    # Each client sends a fixed mix; the expected totals follow from the mix, not the server.
    mix = [
        (ZHANG.idcard_number, ZHANG.idcard_name, ZHANG.photo_bytes, None),  # 0, billable
        (magic.MATCH, "张三", LI.photo_bytes, None),  # 0, billable
        (magic.NAME_MISMATCH, "张三", LI.photo_bytes, None),  # -5803, billable
        ("110110199909090909", "张三", LI.photo_bytes, None),  # -5804, not billable
        (magic.INTERNAL_ERROR, "张三", None, None),  # 213, not billable
        (magic.MATCH, "张三", LI.photo_bytes, "garbage"),  # 5, not billable
    ]
    clients, rounds = 16, 3

    def client(_: int) -> list[int]:
        codes = []
        with requests.Session() as session:
            for _ in range(rounds):
                for number, name, image, auth in mix:
                    codes.append(
                        code(
                            post(
                                simulator.base_url, number, name, image, auth=auth, session=session
                            )
                        )
                    )
        return codes

    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = [c for codes in pool.map(client, range(clients)) for c in codes]

    per_client = clients * rounds
    assert Counter(results) == {
        0: 2 * per_client,
        -5803: per_client,
        -5804: per_client,
        213: per_client,
        5: per_client,
    }
    stats = requests.get(simulator.base_url + "/__simulator__/stats", timeout=5).json()
    assert stats["total"] == 6 * per_client
    assert stats["billable"] == 3 * per_client
    assert stats["by_code"] == {
        "0": 2 * per_client,
        "-5803": per_client,
        "-5804": per_client,
        "213": per_client,
        "5": per_client,
    }
    assert stats["by_outcome"]["compared"] == 2 * per_client
    assert stats["by_outcome"]["signature_malformed"] == per_client
    calls = requests.get(simulator.base_url + "/__simulator__/calls", timeout=5).json()
    assert len(calls) == 6 * per_client
    assert sum(call["billable"] for call in calls) == 3 * per_client
    assert set(calls[0]) == {
        "time",
        "protocol",
        "session_id",
        "code",
        "outcome",
        "billable",
        "injected",
        "latency_ms",
        "idcard_masked",
    }
    assert {call["protocol"] for call in calls} == {"legacy"}


def test_ledger_never_holds_a_number_or_a_name_in_clear(simulator: SimulatorServer) -> None:
    post(simulator.base_url, ZHANG.idcard_number, ZHANG.idcard_name, ZHANG.photo_bytes)
    post(simulator.base_url, PEOPLE[2].idcard_number, "错的名字", ZHANG.photo_bytes)
    text = requests.get(simulator.base_url + "/__simulator__/calls", timeout=5).text
    text += repr(simulator.ledger.calls()) + repr(simulator.registry) + repr(PEOPLE)
    for person in PEOPLE[:3]:
        assert person.idcard_number not in text
        assert person.idcard_name not in text
    assert json.dumps("错的名字")[1:-1] not in text and "错的名字" not in text
    assert ZHANG.idcard_number[:4] + "*" in text  # masked form present (the app's 4+4 rule)


def test_reset_over_http_empties_the_ledger(simulator: SimulatorServer) -> None:
    post(simulator.base_url, magic.MATCH)
    assert simulator.ledger.total == 1
    response = requests.post(simulator.base_url + "/__simulator__/reset", timeout=5)
    assert response.status_code == 200
    assert requests.get(simulator.base_url + "/__simulator__/stats", timeout=5).json() == {
        "total": 0,
        "billable": 0,
        "by_code": {},
        "by_outcome": {},
    }


def test_unknown_paths_answer_404(simulator: SimulatorServer) -> None:
    assert requests.post(simulator.base_url + "/face/other", timeout=5).status_code == 404
    assert requests.get(simulator.base_url + "/__simulator__/nothing", timeout=5).status_code == 404
    assert simulator.ledger.total == 0


def test_keep_alive_connection_is_reused(simulator: SimulatorServer) -> None:
    with requests.Session() as session:
        first = post(simulator.base_url, magic.MATCH, session=session)
        second = post(simulator.base_url, magic.MATCH, session=session)
    assert first.headers["Connection"] == "keep-alive"
    assert code(first) == code(second) == 0


# --- quota and injected faults ------------------------------------------------------------------


def test_qps_quota_answers_15_above_the_limit(simulator_factory: Factory) -> None:
    sim = simulator_factory(qps=5)
    with requests.Session() as session:
        codes = [code(post(sim.base_url, magic.MATCH, session=session)) for _ in range(8)]
        assert codes == [0] * 5 + [15] * 3
        time.sleep(1.05)
        assert code(post(sim.base_url, magic.MATCH, session=session)) == 0
    stats = sim.ledger.stats()
    assert stats["by_outcome"] == {"compared": 6, "rate_limited": 3}
    assert stats["billable"] == 6
    assert all(call.injected for call in sim.ledger.calls() if call.code == 15)


def test_fixed_latency_is_added(simulator_factory: Factory) -> None:
    sim = simulator_factory(latency=250)
    started = time.perf_counter()
    assert code(post(sim.base_url, magic.MATCH)) == 0
    elapsed = time.perf_counter() - started
    assert 0.25 <= elapsed < 2.0
    assert sim.ledger.calls()[0].latency_ms >= 250


def test_latency_distribution_is_added(simulator_factory: Factory) -> None:
    sim = simulator_factory(latency="uniform:150,200", seed=3)
    with requests.Session() as session:
        for _ in range(3):
            started = time.perf_counter()
            post(sim.base_url, magic.ARREARS, image=None, session=session)
            assert time.perf_counter() - started >= 0.15


def test_no_latency_by_default(simulator: SimulatorServer) -> None:
    with requests.Session() as session:
        post(simulator.base_url, magic.MATCH, session=session)  # warm the connection
        started = time.perf_counter()
        post(simulator.base_url, magic.MATCH, session=session)
    assert time.perf_counter() - started < 0.2


def _codes_with(sim: SimulatorServer, count: int) -> list[int]:
    with requests.Session() as session:
        return [code(post(sim.base_url, magic.MATCH, session=session)) for _ in range(count)]


def test_error_rate_with_a_seed_is_reproducible(simulator_factory: Factory) -> None:
    first = simulator_factory(error_rates={"transient": 0.3, "unavailable": 0.2}, seed=42)
    second = simulator_factory(error_rates={"transient": 0.3, "unavailable": 0.2}, seed=42)
    codes = _codes_with(first, 40)
    assert _codes_with(second, 40) == codes
    counts = Counter(codes)
    assert set(counts) <= {0, 213, -5802}
    assert 4 <= counts[213] <= 22 and 2 <= counts[-5802] <= 16 and counts[0] >= 8
    assert first.ledger.stats()["billable"] == counts[0]
    assert all(c.injected for c in first.ledger.calls() if c.code != 0)
    first.reset()
    assert _codes_with(first, 40) == codes


def test_error_rate_of_one_for_each_class(simulator_factory: Factory) -> None:
    assert _codes_with(simulator_factory(error_rates={"rate_limited": 1.0}), 2) == [15, 15]
    assert _codes_with(simulator_factory(error_rates={"arrears": 1.0}), 1) == [3]
    gateway = simulator_factory(error_rates={"bad_gateway": 1.0})
    response = post(gateway.base_url, magic.MATCH)
    assert response.status_code == 502 and response.headers["Content-Type"].startswith("text/html")
    dropper = simulator_factory(error_rates={"drop": 1.0})
    with pytest.raises(requests.ConnectionError):
        post(dropper.base_url, magic.MATCH)


def test_faults_come_after_the_signature_check(simulator_factory: Factory) -> None:
    sim = simulator_factory(error_rates={"transient": 1.0})
    assert code(post(sim.base_url, magic.MATCH, auth="")) == 4


def test_invalid_fault_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        SimulatorConfig(error_rates={"transient": 0.7, "drop": 0.5})
    with pytest.raises(ValueError):
        SimulatorConfig(error_rates={"nonsense": 0.1})
    with pytest.raises(ValueError):
        SimulatorConfig(latency="gamma:1,2")
    with pytest.raises(ValueError):
        SimulatorConfig(qps=0)


# --- hangs and shutdown -----------------------------------------------------------------------


def test_shutdown_ends_a_hang_quickly() -> None:
    sim = SimulatorServer(SimulatorConfig(hang_rate=1.0)).start()
    outcome: list[BaseException | requests.Response] = []

    def call() -> None:
        try:
            outcome.append(post(sim.base_url, magic.MATCH, timeout=30))
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while sim.ledger.total == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.ledger.calls()[0].outcome == "hang"
    started = time.perf_counter()
    sim.shutdown()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.perf_counter() - started < 5
    assert isinstance(outcome[0], requests.ConnectionError)


def test_hang_is_capped(simulator_factory: Factory) -> None:
    sim = simulator_factory(max_hang_seconds=0.3)
    started = time.perf_counter()
    with pytest.raises(requests.ConnectionError):
        post(sim.base_url, magic.HANG, timeout=10)
    assert time.perf_counter() - started < 5


def test_shutdown_with_idle_keep_alive_connections_is_fast() -> None:
    sim = SimulatorServer().start()
    base_url = sim.base_url
    sessions = [requests.Session() for _ in range(4)]
    for session in sessions:
        post(base_url, magic.MATCH, session=session)
    started = time.perf_counter()
    sim.shutdown()
    assert time.perf_counter() - started < 3
    for session in sessions:
        session.close()
    with pytest.raises(requests.ConnectionError):
        post(base_url, magic.MATCH, timeout=1)


def test_context_manager_and_repr() -> None:
    with SimulatorServer(SimulatorConfig(secret_key="very-secret-value")) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        assert "very-secret-value" not in repr(sim) + repr(sim.config)
    assert "stopped" in repr(sim)


# --- command line -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_cli(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "face_idcard.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
    )
    assert process.stdout is not None
    banner = ""
    deadline = time.monotonic() + 20
    while "registry" not in banner and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner += line
    return process, banner


def test_cli_serves_and_exits_cleanly_on_sigterm() -> None:
    process, banner = _start_cli("--qps", "50", "--latency-ms", "1", "--seed", "1")
    try:
        assert "listening on http://127.0.0.1:" in banner
        assert DEFAULT_SECRET_ID in banner and DEFAULT_SECRET_KEY in banner
        base_url = banner.split("listening on ", 1)[1].split()[0]
        assert code(post(base_url, magic.MATCH)) == 0
        stats = requests.get(base_url + "/__simulator__/stats", timeout=5).json()
        assert stats["total"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "stopped" in out


def test_cli_account_from_the_environment_hides_the_secret() -> None:
    env = {
        "FACE_IDCARD_SIMULATOR_APPID": "1250000000",
        "FACE_IDCARD_SIMULATOR_SECRET_ID": "AKIDfromenv",
        "FACE_IDCARD_SIMULATOR_SECRET_KEY": "secret-from-env",
    }
    process, banner = _start_cli("--error-rate", "transient=1.0", env=env)
    try:
        assert "1250000000" in banner and "AKIDfromenv" in banner
        assert "secret-from-env" not in banner
        base_url = banner.split("listening on ", 1)[1].split()[0]
        auth = signing.sign_legacy(
            appid="1250000000", secret_id="AKIDfromenv", secret_key="secret-from-env"
        )
        response = requests.post(
            base_url + PATH,
            json={"appid": "1250000000", "idcard_number": magic.MATCH, "idcard_name": "张三"},
            headers={"Authorization": auth},
            timeout=5,
        )
        assert code(response) == 213
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
    assert process.returncode == 0


def test_cli_refuses_a_bad_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "face_idcard.simulator", "--error-rate", "bogus=2"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "error rate" in result.stderr
