"""The demo's processes share one rate-limit count (example_project/run_demo.py)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

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
