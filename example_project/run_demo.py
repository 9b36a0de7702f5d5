#!/usr/bin/env python
"""The demo: the example site with every part running, fed through its HTTP API.

``python example_project/run_demo.py`` (``make demo``) starts from a fresh demo database and
broker folder (``example_project/var/demo``), migrates, creates the demo accounts, starts the
provider simulator (its demo registry), a Celery worker, Celery beat and the web server, each
as a process of its own, submits a batch of verifications through ``/api/face-idcard/``,
prints a table of their outcomes with the billable calls each cost, then serves the site
until Ctrl-C. ``--check`` (``make demo-check``) exits after the table: non-zero when any
scenario ended other than expected.

Every child runs in its own process group; on exit (normal, error, Ctrl-C or SIGTERM) each
group gets SIGTERM, then SIGKILL after a grace period, so nothing is left running. The worker
and beat are supervised as systemd's ``Restart=always`` would (docs/operations.rst): one that
exits is started again (at most ``RESTART_BURST`` times in ``RESTART_WINDOW`` seconds); any
other child that exits ends the demo.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
MANAGE = HERE / "manage.py"
DEMO_VAR = HERE / "var" / "demo"
TERMINAL = frozenset({"completed", "rejected", "failed", "canceled"})
STOP_GRACE_SECONDS = 10.0
START_TIMEOUT = 60.0
FINISH_TIMEOUT = 90.0
#: systemd's StartLimitBurst and StartLimitIntervalSec: a supervised child that exits more
#: often than this cannot start at all (a configuration error), and ends the demo.
RESTART_BURST = 5
RESTART_WINDOW = 60.0

#: The provider's quota (the simulator answers code 15 above it) and the site's own limit,
#: under it: a burst above the site's limit is deferred by the workers, never refused.
SIMULATOR_QPS = 5
RATE_LIMIT_PER_SECOND = 3
BURST = 10


class Stop(Exception):
    """SIGINT or SIGTERM: leave through the ``finally`` that stops the children."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def free_port(preferred: int = 0) -> int:
    """``preferred`` when it is free, else any free port."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")


@dataclass
class Children:
    """The processes the demo started, each the leader of its own process group."""

    logs: Path
    env: dict[str, str]
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: The children started again when they exit: their arguments and environment.
    supervised: dict[str, tuple[tuple[str, ...], dict[str, str] | None]] = field(
        default_factory=dict
    )
    #: When each supervised child was restarted (monotonic seconds).
    restarts: dict[str, list[float]] = field(default_factory=dict)
    #: Exited children's process groups: a prefork worker's pool may outlive its main process.
    exited: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, name: str, *args: str, env: dict[str, str] | None = None, supervise: bool = False
    ) -> Path:
        log = self.logs / f"{name}.log"
        if supervise:
            self.supervised[name] = (args, env)
        # Appended to: a restarted child's log follows the one it replaces.
        with log.open("ab") as out:
            self.running[name] = subprocess.Popen(
                [sys.executable, *args],
                cwd=HERE,
                env=self.env if env is None else env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return log

    def check_alive(self) -> None:
        """Start again a supervised child that exited; raise for any other one."""
        for name, child in list(self.running.items()):
            if child.poll() is None:
                continue
            tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
            if name not in self.supervised or not self._may_restart(name):
                raise RuntimeError(f"{name} exited with {child.returncode}:\n{tail}")
            print(f"{name} exited with {child.returncode}: starting it again", file=sys.stderr)
            self.exited.append(child)
            args, env = self.supervised[name]
            self.start(name, *args, env=env)

    def _may_restart(self, name: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self.restarts.get(name, []) if now - t < RESTART_WINDOW]
        if len(recent) >= RESTART_BURST:
            return False
        self.restarts[name] = [*recent, now]
        return True

    def stop(self) -> None:
        children = [*self.running.values(), *self.exited]
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            # The group, not only its leader: a prefork worker's children, runserver's threads.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        self.running.clear()
        self.exited.clear()


def web_environment(env: dict[str, str]) -> dict[str, str]:
    """The web server's environment: without Redis, no rate limit of its own.

    Without REDIS_URL the limiter counts in each process's memory. A web server that also
    counted would reserve submit-time slots in a count the worker never sees, and the two
    together could send twice the limit in one second (seen: six calls in 0.85 s against the
    simulator's quota of 5/s). The one solo worker, the only process that calls the provider,
    then keeps the only count. With Redis every process shares one count, reservations too.
    """
    if env.get("REDIS_URL"):
        return env
    return {key: value for key, value in env.items() if key != "FACE_IDCARD_RATE_LIMIT_PER_SECOND"}


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def demo_environment(web_port: int, simulator_port: int) -> dict[str, str]:
    env = dict(os.environ)
    pythonpath = [str(HERE), str(REPOSITORY), env.get("PYTHONPATH", "")]
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(p for p in pythonpath if p),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "example_site.settings",
            "EXAMPLE_VAR_DIR": str(DEMO_VAR),
            "FACE_IDCARD_SIMULATOR_URL": f"http://127.0.0.1:{simulator_port}",
            "FACE_IDCARD_RATE_LIMIT_PER_SECOND": str(RATE_LIMIT_PER_SECOND),
            "FACE_IDCARD_RETRY_BACKOFF_BASE_SECONDS": "0.3",
            "FACE_IDCARD_RETRY_BACKOFF_MAX_SECONDS": "2",
            # The burst sends one magic number many times.
            "FACE_IDCARD_MAX_PER_ID_PER_DAY": "1000",
            "FACE_IDCARD_MAX_PER_USER_PER_DAY": "1000",
            # The scenarios use seven ID numbers from one account.
            "FACE_IDCARD_MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY": "1000",
            "FACE_IDCARD_API_CREATE_THROTTLE_RATE": "600/min",
            "EXAMPLE_BROKER_POLLING_INTERVAL": "0.05",
        }
    )
    return env


# --- The scenarios --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    title: str
    number: str
    name: str
    photo: bytes
    #: (status, decision) for an accepted attempt, or (HTTP status, error code) for a refusal.
    expected: tuple[str, str]
    refused: bool = False
    expected_calls: int | None = None
    expected_reason: str | None = None


@dataclass
class Row:
    scenario: Scenario
    attempts: list[dict[str, Any]] = field(default_factory=list)
    refusal: tuple[str, str] | None = None
    calls: int = 0
    billable: int = 0

    @property
    def outcomes(self) -> list[tuple[str, str]]:
        if self.refusal is not None:
            return [self.refusal]
        return [(a.get("status", "?"), a.get("decision", "?")) for a in self.attempts]

    @property
    def ok(self) -> bool:
        outcomes = self.outcomes
        if not outcomes or any(o != self.scenario.expected for o in outcomes):
            return False
        reason = self.scenario.expected_reason
        if reason is not None and any(a.get("reason") != reason for a in self.attempts):
            return False
        expected_calls = self.scenario.expected_calls
        return expected_calls is None or self.calls == expected_calls * len(outcomes)


def scenarios() -> list[Scenario]:
    from face_idcard.simulator import magic
    from face_idcard.simulator.registry import demo_people

    zhang, li = demo_people()[:2]
    other = li.photo_bytes
    return [
        Scenario(
            "match: own photo of a registered person",
            zhang.idcard_number,
            zhang.idcard_name,
            zhang.photo_bytes,
            ("completed", "match"),
            expected_calls=1,
        ),
        Scenario(
            "no match: someone else's photo",
            zhang.idcard_number,
            zhang.idcard_name,
            other,
            ("completed", "no_match"),
            expected_calls=1,
        ),
        Scenario(
            "review band: a score near the threshold",
            magic.REVIEW,
            "王小明",
            other,
            ("completed", "review"),
            expected_calls=1,
        ),
        Scenario(
            # The client is an end user's: it is told "identity not confirmed", never whether
            # the name and the number belong together (staff see name_mismatch).
            "name does not match the number (the person: not confirmed)",
            magic.NAME_MISMATCH,
            "赵六",
            other,
            ("completed", "no_match"),
            expected_reason="identity_not_confirmed",
            expected_calls=1,
        ),
        Scenario(
            "invalid ID number (bad check character): refused, nothing sent",
            "110110199909090909",
            "张三",
            other,
            ("400", "id_checksum"),
            refused=True,
            expected_calls=0,
        ),
        Scenario(
            "transient fault twice, then success",
            magic.flaky(2),
            "钱七",
            other,
            ("completed", "match"),
            expected_calls=3,
        ),
        Scenario(
            f"burst of {BURST} at {RATE_LIMIT_PER_SECOND}/s (provider quota {SIMULATOR_QPS}/s)",
            magic.MATCH,
            "孙八",
            other,
            ("completed", "match"),
            expected_calls=1,
        ),
    ]


class Api:
    """The example site's API, as a client application would call it (token authentication)."""

    def __init__(self, base: str, token: str) -> None:
        import requests

        self.base = base.rstrip("/") + "/api/face-idcard/attempts/"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept-Language": "en"})

    def submit(self, scenario: Scenario, reference: str) -> tuple[int, dict[str, Any]]:
        response = self.session.post(
            self.base,
            data={
                "idcard_number": scenario.number,
                "idcard_name": scenario.name,
                "consent": "true",
                "external_reference": reference,
            },
            files={"image": ("photo.jpg", scenario.photo, "image/jpeg")},
            headers={"Idempotency-Key": reference},
            timeout=30,
        )
        return response.status_code, response.json()

    def get(self, attempt_id: str) -> dict[str, Any]:
        response = self.session.get(f"{self.base}{attempt_id}/", timeout=30)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def first_field_code(body: dict[str, Any]) -> str:
    error = body.get("error", {})
    for items in (error.get("fields") or {}).values():
        for item in items:
            return str(item.get("code", "?"))
    return str(error.get("code", "?"))


def run_batch(
    api: Api, simulator_url: str, tick: Callable[[], None] = lambda: None
) -> tuple[list[Row], dict[str, Any]]:
    """Submit every scenario, then poll until each attempt ended, calling ``tick`` (the
    supervisor's check) on every round."""
    import requests

    rows = [Row(scenario) for scenario in scenarios()]
    pending: list[tuple[Row, str]] = []
    for index, row in enumerate(rows, start=1):
        count = BURST if row.scenario.title.startswith("burst") else 1
        references = [f"demo-{index}-{n}" for n in range(count)]
        # The burst arrives at once: six clients in parallel.
        scenario = row.scenario
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda ref, s=scenario: api.submit(s, ref), references))
        for status, body in answers:
            if status == 202:
                pending.append((row, str(body["id"])))
            else:
                row.refusal = (str(status), first_field_code(body))
    deadline = time.monotonic() + FINISH_TIMEOUT
    finished: dict[str, dict[str, Any]] = {}
    while len(finished) < len(pending) and time.monotonic() < deadline:
        tick()
        for _row, attempt_id in pending:
            if attempt_id not in finished:
                attempt = api.get(attempt_id)
                if attempt["status"] in TERMINAL:
                    finished[attempt_id] = attempt
        time.sleep(0.2)
    time.sleep(0.3)  # the simulator records a call just after answering it
    calls = requests.get(f"{simulator_url}/__simulator__/calls", timeout=10).json()
    stats = requests.get(f"{simulator_url}/__simulator__/stats", timeout=10).json()
    by_session: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        by_session.setdefault(call["session_id"], []).append(call)
    for row, attempt_id in pending:
        row.attempts.append(finished.get(attempt_id) or api.get(attempt_id))
        mine = by_session.get(attempt_id.replace("-", ""), [])
        row.calls += len(mine)
        row.billable += sum(1 for call in mine if call["billable"])
    return rows, stats


def print_table(rows: list[Row], stats: dict[str, Any], deferrals: int) -> bool:
    rate_limited = int(stats.get("by_code", {}).get("15", 0))
    width = max(len(row.scenario.title) for row in rows)
    print(f"\n{'scenario':<{width}}  {'expected':<22} {'got':<34} calls billable  ok")
    print("-" * (width + 74))
    all_ok = True
    for row in rows:
        got = sorted(set(row.outcomes))
        got_text = ", ".join("/".join(o) for o in got) or "nothing"
        reasons = sorted(
            {str(a.get("reason")) for a in row.attempts if a.get("status") != "completed"}
        )
        if reasons:
            got_text += f" ({', '.join(reasons)})"
        if len(row.outcomes) > 1:
            got_text = f"{len(row.outcomes)} x {got_text}"
        ok = row.ok
        all_ok &= ok
        print(
            f"{row.scenario.title:<{width}}  {'/'.join(row.scenario.expected):<22} "
            f"{got_text:<34} {row.calls:>5} {row.billable:>8}  {'yes' if ok else 'NO'}"
        )
    print("-" * (width + 74))
    print(
        f"provider ledger: {stats.get('total', 0)} calls, {stats.get('billable', 0)} billable, "
        f"{rate_limited} rate-limit answers (code 15) — expected 0; "
        f"the worker deferred {deferrals} runs to stay under {RATE_LIMIT_PER_SECOND}/s"
    )
    return all_ok and rate_limited == 0


# --- Orchestration ----------------------------------------------------------------------------


def fresh_var_dir(env: dict[str, str]) -> None:
    """A new demo database and broker folder each run (so two runs in a row both pass)."""
    shutil.rmtree(DEMO_VAR, ignore_errors=True)
    (DEMO_VAR / "logs").mkdir(parents=True)
    manage(env, "migrate", "--noinput", "-v", "0")
    if env.get("DATABASE_URL"):
        manage(env, "flush", "--noinput", "-v", "0")  # PostgreSQL: the same database reused


def http_ok(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def start_everything(children: Children, web_port: int, simulator_port: int) -> None:
    children.start(
        "simulator",
        "-m",
        "face_idcard.simulator",
        "--port",
        str(simulator_port),
        "--qps",
        str(SIMULATOR_QPS),
        "--latency-ms",
        "20",
    )
    worker_log = children.start(
        "worker",
        "-m",
        "celery",
        "-A",
        "example_site",
        "worker",
        # One process: without Redis the rate limiter's count lives in the process's memory.
        "--pool=solo",
        "--loglevel=info",
        "--hostname=demo-worker@%h",
        "--without-gossip",
        "--without-mingle",
        supervise=True,
    )
    children.start(
        "beat", "-m", "celery", "-A", "example_site", "beat", "--loglevel=info", supervise=True
    )
    children.start(
        "web",
        str(MANAGE),
        "runserver",
        "--noreload",
        "--skip-checks",
        f"127.0.0.1:{web_port}",
        env=web_environment(children.env),
    )

    def ready() -> bool:
        children.check_alive()
        return (
            http_ok(f"http://127.0.0.1:{simulator_port}/__simulator__/stats")
            and http_ok(f"http://127.0.0.1:{web_port}/verify/login/")
            and b"ready." in worker_log.read_bytes()
        )

    wait_until(ready, START_TIMEOUT, "the simulator, worker and web server starting")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit after the table")
    parser.add_argument("--port", type=int, default=8000, help="web server (if free)")
    parser.add_argument("--simulator-port", type=int, default=8701, help="simulator (if free)")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(REPOSITORY)]

    web_port = free_port(0 if args.check else args.port)
    simulator_port = free_port(0 if args.check else args.simulator_port)
    env = demo_environment(web_port, simulator_port)
    children = Children(logs=DEMO_VAR / "logs", env=env)
    base = f"http://127.0.0.1:{web_port}"
    ok = False
    with stop_on_signals():
        try:
            started = time.monotonic()
            print(f"fresh demo database and broker in {DEMO_VAR}")
            fresh_var_dir(env)
            token = manage(env, "face_idcard_demo_accounts").strip().splitlines()[-1]
            print("starting the simulator (demo registry), a Celery worker, beat, the web server")
            start_everything(children, web_port, simulator_port)
            print(f"all running after {time.monotonic() - started:.1f} s; logs in {children.logs}")
            print(f"submitting the batch through {base}/api/face-idcard/attempts/")
            rows, stats = run_batch(
                Api(base, token), f"http://127.0.0.1:{simulator_port}", children.check_alive
            )
            deferrals = (
                (children.logs / "worker.log").read_text(errors="replace").count(": 'defer'")
            )
            ok = print_table(rows, stats, deferrals)
            print(
                f"\n{'every scenario as expected' if ok else 'SOME SCENARIOS FAILED'} "
                f"({time.monotonic() - started:.1f} s)"
            )
            if args.check:
                return 0 if ok else 1
            print_welcome(base, simulator_port)
            while True:
                children.check_alive()
                time.sleep(1)
        except Stop as stop:
            print(f"\n{stop}: stopping")
            return 0 if ok or not args.check else 130
        except RuntimeError as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            return 1
        finally:
            # A second Ctrl-C must not interrupt the stopping itself.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
            children.stop()
            print("stopped the simulator, worker, beat and web server")


def print_welcome(base: str, simulator_port: int) -> None:
    from face_idcard.simulator import magic

    print(
        f"""
The site is running (Ctrl-C stops everything):
  onboarding page  {base}/verify/          log in as demo / demo-user-password
  review console   {base}/admin/           log in as reviewer / demo-reviewer-password
  API              {base}/api/face-idcard/attempts/
  API docs         {base}/api/docs/
  simulator        http://127.0.0.1:{simulator_port}  (NOT face recognition)
Try the ID number {magic.MATCH} (a match with any photo and name),
{magic.REVIEW} (the review band: then approve it in the console),
or {magic.NO_MATCH} (no match).
"""
    )


if __name__ == "__main__":
    sys.exit(main())
