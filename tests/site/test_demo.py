"""The demo's processes share one rate-limit count (example_project/run_demo.py)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import REPO_ROOT

RUN_DEMO = REPO_ROOT / "example_project" / "run_demo.py"


def run_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_demo_under_test", RUN_DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up by name while they are built.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_without_redis_only_the_worker_counts_the_rate_limit() -> None:
    """Without Redis each process counts in its own memory: a web server that also reserved
    submit-time slots would book seconds the worker never sees (twice the limit at once)."""
    demo = run_demo()
    env = demo.demo_environment(web_port=8000, simulator_port=8001)
    env.pop("REDIS_URL", None)
    assert env["FACE_IDCARD_RATE_LIMIT_PER_SECOND"] == str(demo.RATE_LIMIT_PER_SECOND)
    web = demo.web_environment(env)
    assert "FACE_IDCARD_RATE_LIMIT_PER_SECOND" not in web
    assert {k: v for k, v in env.items() if k != "FACE_IDCARD_RATE_LIMIT_PER_SECOND"} == web
    assert env["FACE_IDCARD_RATE_LIMIT_PER_SECOND"] == str(demo.RATE_LIMIT_PER_SECOND)


def test_with_redis_every_process_shares_the_count() -> None:
    demo = run_demo()
    env = {**demo.demo_environment(web_port=8000, simulator_port=8001)}
    env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    assert demo.web_environment(env) == env


def test_a_worker_that_exits_is_started_again_and_any_other_child_ends_the_demo(
    tmp_path: Path,
) -> None:
    """The demo's supervisor (docs/operations.rst): the worker and beat are started again when
    they exit, as systemd's Restart=always would; the web server or simulator exiting ends the
    demo, and so does a supervised child that keeps exiting (RESTART_BURST in a window)."""
    demo = run_demo()
    children = demo.Children(logs=tmp_path, env=dict(os.environ))
    # Exits at once the first time, then stays up: a worker that crashed on a broker outage.
    crashed_once = tmp_path / "crashed-once"
    flaky = (
        "import pathlib, sys, time\n"
        f"marker = pathlib.Path({str(crashed_once)!r})\n"
        "if not marker.exists():\n"
        "    marker.touch()\n"
        "    sys.exit(1)\n"
        "time.sleep(60)\n"
    )
    try:
        children.start("worker", "-c", flaky, supervise=True)
        first = children.running["worker"]
        first.wait(timeout=30)
        children.check_alive()
        second = children.running["worker"]
        assert second is not first and second.poll() is None
        assert len(children.restarts["worker"]) == 1

        children.start("web", "-c", "import sys; sys.exit(2)")
        children.running["web"].wait(timeout=30)
        with pytest.raises(RuntimeError, match="web exited with 2"):
            children.check_alive()
        del children.running["web"]

        children.start("beat", "-c", "import sys; sys.exit(3)", supervise=True)
        with pytest.raises(RuntimeError, match="beat exited with 3"):
            for _ in range(demo.RESTART_BURST + 1):
                children.running["beat"].wait(timeout=30)
                children.check_alive()
        assert len(children.restarts["beat"]) == demo.RESTART_BURST
    finally:
        children.stop()
    assert not children.running and not children.exited
