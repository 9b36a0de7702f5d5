"""The example site's default Celery set-up, for real: a prefork worker process on kombu's
filesystem transport (``filesystem-atomic://``, no broker server), killed hard.

That transport deletes a message from the queue folder when the worker fetches it, so
``kill -9`` of the whole worker (its process group) loses every message the worker held,
the one being run and the prefetched ones. The test shows they are lost (a new worker gets
nothing), then that the sweeper finds those attempts in the database and queues them again,
and that they complete. The provider is a real ``python -m face_idcard.simulator`` process.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

REPOSITORY = REPO_ROOT
EXAMPLE = REPOSITORY / "example_project"
ATTEMPTS = 6
LEASE_SECONDS = 6  # longer than a call may take (0.5 + 4 s)
TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Site:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        keep = ("FACE_IDCARD_", "CELERY_", "DJANGO_", "DATABASE_URL", "REDIS_URL", "PYTHONPATH")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(keep)} | {
            "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(REPOSITORY)]),
            "DJANGO_SETTINGS_MODULE": "example_site.settings",
            "EXAMPLE_VAR_DIR": str(root / "var"),
            "EXAMPLE_BROKER_POLLING_INTERVAL": "0.05",
            "FACE_IDCARD_SIMULATOR_URL": f"http://127.0.0.1:{self.port}",
            "FACE_IDCARD_MAX_PER_ID_PER_DAY": "1000",
            "FACE_IDCARD_MAX_PER_USER_PER_DAY": "1000",
            "FACE_IDCARD_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
            "FACE_IDCARD_QUEUED_STALE_SECONDS": "1",
            "FACE_IDCARD_CONNECT_TIMEOUT_SECONDS": "0.5",
            "FACE_IDCARD_READ_TIMEOUT_SECONDS": "4",
        }
        self.children: list[subprocess.Popen[bytes]] = []

    @property
    def queue(self) -> Path:
        return self.root / "var" / "broker" / "queue"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:
            child = subprocess.Popen(
                [sys.executable, *args],
                env=self.env,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a whole
            )
        self.children.append(child)
        return child

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(
            name,
            *("-m", "celery", "-A", "example_site", "worker", "--pool=prefork"),
            *("--concurrency=1", "--without-gossip", "--without-mingle", "--loglevel=info"),
            f"--hostname={name}@%h",
        )

    def statuses(self, ids: list[str]) -> list[str]:
        """Read straight from the SQLite file: fast enough to catch the worker mid-call."""
        with sqlite3.connect(self.root / "var" / "db.sqlite3", timeout=20) as db:
            rows = dict(db.execute("SELECT id, status FROM face_idcard_verificationattempt"))
        return [str(rows.get(uuid.UUID(i).hex, "missing")) for i in ids]

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def wait_for(predicate: object, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout:.0f} s")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = Site(tmp_path)
    try:
        yield built
    finally:
        built.stop()


def test_the_sweeper_recovers_what_a_hard_killed_worker_held(site: Site) -> None:
    site.manage("migrate", "--noinput", "-v", "0")
    # Each call takes 2.5 s: the worker is mid-call, holding the other messages, when killed.
    site.start(
        "simulator", "-m", "face_idcard.simulator", "--port", str(site.port), "--latency-ms", "2500"
    )
    submit = (
        "from django.utils import timezone\n"
        "from face_idcard import services\n"
        "from face_idcard.simulator import magic\n"
        "from face_idcard.simulator.registry import demo_people\n"
        "photo = demo_people()[0].photo_bytes\n"
        f"for n in range({ATTEMPTS}):\n"
        "    a = services.submit(idcard_number=magic.MATCH, idcard_name='张三', image=photo,\n"
        "                        consent_at=timezone.now())\n"
        "    print(a.pk)\n"
    )
    ids = site.manage("shell", "-v", "0", "-c", submit).split()
    assert len(ids) == ATTEMPTS
    assert len(list(site.queue.glob("*.msg"))) == ATTEMPTS
    worker = site.start_worker("first")
    # Killed while it runs one attempt (mid-call) and holds at least one more message.
    wait_for(
        lambda: (
            len(list(site.queue.glob("*.msg"))) <= ATTEMPTS - 2
            and "processing" in site.statuses(ids)
        ),
        "the worker fetched two messages and started a call",
    )
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    left_in_queue = len(list(site.queue.glob("*.msg")))
    at_kill = site.statuses(ids)
    held = [i for i, status in zip(ids, at_kill, strict=True) if status in ("queued", "processing")]
    held = held[: len(held) - left_in_queue]  # the queue folder keeps the others, in order
    assert len(held) >= 2, at_kill

    # A new worker runs what the folder still has; what the killed worker held is lost.
    site.start_worker("second")
    wait_for(lambda: not list(site.queue.glob("*.msg")), "the second worker fetched the rest")
    time.sleep(LEASE_SECONDS + 1)
    after = dict(zip(ids, site.statuses(ids), strict=True))
    stuck = [i for i in ids if after[i] in ("queued", "processing")]
    assert stuck == held, (at_kill, after)
    assert "processing" in [after[i] for i in stuck]

    # The sweeper finds them in the database: the expired lease and the queued ones.
    swept = site.manage("face_idcard_sweep")
    counts = dict(item.split("=") for item in swept.split())
    assert int(counts["expired_leases"]) == [after[i] for i in stuck].count("processing")
    assert int(counts["lost_queued"]) == [after[i] for i in stuck].count("queued")
    wait_for(lambda: site.statuses(ids) == ["completed"] * ATTEMPTS, "every attempt completed")
