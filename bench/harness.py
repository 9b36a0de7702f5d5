"""Shared plumbing for the pipeline benchmarks and reliability runs.

Starts real parts on loopback: the simulator and Celery workers as subprocesses, PostgreSQL and
Redis as they run on the machine. Every run is bounded in time and cleans up after itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def env() -> dict[str, str]:
    result = dict(os.environ)
    result["PYTHONPATH"] = os.pathsep.join([str(ROOT), result.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    result.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_services() -> None:
    missing = [
        name
        for name, port in (("PostgreSQL", 5432), ("Redis", 6379))
        if not answers("127.0.0.1", port)
    ]
    if missing:
        sys.exit(f"this benchmark needs {' and '.join(missing)} on 127.0.0.1")


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers("127.0.0.1", port, 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port} within {timeout} s")


@contextlib.contextmanager
def simulator(*args: str) -> Iterator[str]:
    """Run ``python -m face_idcard.simulator`` with ``args`` on a free port; yield its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "face_idcard.simulator", "--host", "127.0.0.1", "--port", str(port), *args],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
        return json.loads(response.read())


def post(url: str) -> None:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def setup_django(simulator_url: str) -> None:
    """Create the benchmark database if needed, point Django at it, and migrate."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["FACE_IDCARD_SIMULATOR_URL"] = simulator_url
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import psycopg

    name = os.environ.get("FACE_IDCARD_BENCH_DB", "face_idcard_bench")
    with psycopg.connect(
        "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
    ) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def reset_state(redis_url: str) -> None:
    """Empty the attempts tables and the Redis database used as broker and cache."""
    import redis
    from django.db import connection

    redis.Redis.from_url(redis_url).flushdb()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE face_idcard_attemptevent, face_idcard_verificationattempt CASCADE")


def start_workers(
    processes: int,
    concurrency: int,
    *,
    pool: str = "prefork",
    extra_env: dict[str, str] | None = None,
) -> list[subprocess.Popen[Any]]:
    """``processes`` Celery worker processes, each with ``concurrency`` execution slots."""
    workers = []
    for index in range(processes):
        workers.append(
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "bench.celery_app",
                    "worker",
                    "--loglevel=WARNING",
                    f"--pool={pool}",
                    f"--concurrency={concurrency}",
                    f"--hostname=bench{index}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    f"--prefetch-multiplier={os.environ.get('BENCH_PREFETCH', '1')}",
                ],
                env={**env(), **(extra_env or {})},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    return workers


def kill_group(proc: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    """Signal a worker and all its pool children (they share its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def stop_workers(workers: Sequence[subprocess.Popen[Any]]) -> None:
    for proc in workers:
        kill_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in workers:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill_group(proc, signal.SIGKILL)
            proc.wait(5)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _stat_cpu(stat: str) -> float:
    """User + system CPU seconds from the text of a /proc/<pid>/stat file."""
    # The command name (in parentheses) may hold spaces: split after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and all its descendants (Linux /proc)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += _stat_cpu(Path(f"/proc/{current}/stat").read_text())
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat; diff two readings."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return float(total - idle), float(total)


def cpu_by_command() -> dict[str, float]:
    """CPU seconds used so far by every live process, summed per command name."""
    usage: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name.startswith("python"):
            words = [w.decode(errors="replace") for w in cmdline if w]
            name = next(
                (w for w in words[1:] if "simulator" in w or "celery" in w or w.endswith(".py")),
                name,
            ).rsplit("/", 1)[-1]
        usage[name] = usage.get(name, 0.0) + _stat_cpu(stat)
    return usage
