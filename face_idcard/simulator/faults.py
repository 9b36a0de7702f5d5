"""Server-wide fault injection: added latency, error rates per class, hangs, a QPS quota.

* Latency: a fixed number of milliseconds or a distribution written ``normal:MEAN,SD``,
  ``uniform:LOW,HIGH``, ``exponential:MEAN`` (all in ms, never below 0). Added to every answer.
* Error rates: the probability of each injected class, drawn once per admitted request from
  one seeded random generator (same seed, same sequence of faults for the same sequence of
  requests). The classes are :data:`FAULT_CLASSES`; their rates (with the hang rate) must add
  up to at most 1.
* QPS quota: at most ``qps`` requests admitted in any sliding window of one second; the ones
  over it answer the rate-limit outcome (legacy code 15), as the real account quota does, and
  do not count against the window.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from .outcomes import Outcome

__all__ = ["FAULT_CLASSES", "FaultInjector", "LatencySpec", "parse_error_rate", "parse_latency"]

#: Injectable error classes and what each one answers.
FAULT_CLASSES: Mapping[str, Outcome] = {
    "transient": Outcome.INTERNAL_ERROR,  # legacy 213
    "unavailable": Outcome.SERVICE_UNAVAILABLE,  # legacy -5802
    "rate_limited": Outcome.RATE_LIMITED,  # legacy 15
    "arrears": Outcome.ARREARS,  # legacy 3, account abnormal
    "bad_gateway": Outcome.BAD_GATEWAY,  # HTTP 502, HTML body
    "drop": Outcome.DROP,  # connection closed, no answer
    "hang": Outcome.HANG,  # no answer until shutdown (same as --hang-rate)
    # A match answer padded to SimulatorConfig.oversized_answer_bytes (50 MB by default),
    # with a Content-Length; then the same gzip-encoded and chunked (small on the wire).
    "oversized": Outcome.OVERSIZED,
    "gzip_bomb": Outcome.GZIP_BOMB,
}

_DISTRIBUTIONS = {"fixed": 1, "normal": 2, "uniform": 2, "exponential": 1}


@dataclass(frozen=True)
class LatencySpec:
    """Added latency in milliseconds: ``kind`` is fixed, normal, uniform or exponential."""

    kind: str = "fixed"
    a: float = 0.0
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in _DISTRIBUTIONS:
            raise ValueError(f"unknown latency distribution {self.kind!r}")
        if self.a < 0 or self.b < 0:
            raise ValueError("latency parameters must not be negative")

    @property
    def is_zero(self) -> bool:
        return self.kind == "fixed" and self.a == 0

    def sample_ms(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "normal":
            return max(0.0, rng.gauss(self.a, self.b))
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0


def parse_latency(text: str | float | LatencySpec) -> LatencySpec:
    """``50`` / ``"50"`` (fixed ms), ``"normal:50,10"``, ``"uniform:10,90"``, ``"exponential:40"``."""
    if isinstance(text, LatencySpec):
        return text
    if isinstance(text, int | float):
        return LatencySpec("fixed", float(text))
    kind, sep, params = text.strip().partition(":")
    if not sep:
        return LatencySpec("fixed", float(kind))
    values = [float(v) for v in params.split(",") if v.strip()]
    expected = _DISTRIBUTIONS.get(kind)
    if expected is None or len(values) != expected:
        raise ValueError(
            f"latency must look like 50, normal:50,10, uniform:10,90 or exponential:40, not {text!r}"
        )
    return LatencySpec(kind, values[0], values[1] if len(values) > 1 else 0.0)


def parse_error_rate(text: str) -> tuple[str, float]:
    """``"transient=0.1"`` -> ("transient", 0.1)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or name not in FAULT_CLASSES:
        raise ValueError(
            f"error rate must be CLASS=RATE with CLASS one of {', '.join(FAULT_CLASSES)}"
        )
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError("an error rate is between 0 and 1")
    return name, rate


def validate_rates(error_rates: Mapping[str, float], hang_rate: float) -> None:
    for name, rate in error_rates.items():
        if name not in FAULT_CLASSES:
            raise ValueError(f"unknown error class {name!r}; known: {', '.join(FAULT_CLASSES)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("an error rate is between 0 and 1")
    if not 0.0 <= hang_rate <= 1.0:
        raise ValueError("the hang rate is between 0 and 1")
    if sum(error_rates.values()) + hang_rate > 1.0 + 1e-9:
        raise ValueError("error rates and hang rate add up to more than 1")


class FaultInjector:
    """Decides, per request, the injected latency and whether a fault replaces the answer."""

    def __init__(
        self,
        *,
        latency: LatencySpec,
        error_rates: Mapping[str, float],
        hang_rate: float,
        qps: float | None,
        seed: int | None,
    ) -> None:
        validate_rates(error_rates, hang_rate)
        if qps is not None and qps <= 0:
            raise ValueError("qps must be positive (or None for no quota)")
        self._latency = latency
        # Fixed order, so that a seed always maps to the same classes.
        self._rates: list[tuple[float, Outcome]] = [
            (error_rates[name], FAULT_CLASSES[name])
            for name in FAULT_CLASSES
            if error_rates.get(name)
        ]
        if hang_rate:
            self._rates.append((hang_rate, Outcome.HANG))
        self._qps = qps
        self._seed = seed
        self._lock = threading.Lock()
        # Not for security: a seeded generator makes injected faults reproducible.
        self._rng = random.Random(seed)  # noqa: S311
        self._admitted: collections.deque[float] = collections.deque()

    def reset(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)  # noqa: S311
            self._admitted.clear()

    def latency_ms(self) -> float:
        if self._latency.is_zero:
            return 0.0
        with self._lock:
            return self._latency.sample_ms(self._rng)

    def admit(self) -> Outcome | None:
        """None to go on, or the outcome that replaces this request's answer."""
        with self._lock:
            if self._qps is not None and not self._take_quota(time.monotonic()):
                return Outcome.RATE_LIMITED
            if not self._rates:
                return None
            draw = self._rng.random()
        for rate, outcome in self._rates:
            if draw < rate:
                return outcome
            draw -= rate
        return None

    def _take_quota(self, now: float) -> bool:
        window = self._admitted
        while window and window[0] <= now - 1.0:
            window.popleft()
        assert self._qps is not None
        if len(window) >= self._qps:
            return False
        window.append(now)
        return True
