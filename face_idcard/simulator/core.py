"""The protocol-neutral core every protocol module sits on.

:class:`SimulatorCore` bundles the configuration, the registry, the fault injector, the ledger
and the shutdown event. :meth:`SimulatorCore.verify` answers "is the person in this image the
holder of this ID number and name?" with an :class:`~.outcomes.Outcome` and a similarity,
whatever the wire protocol: a protocol module parses and authenticates its request, calls
:meth:`SimulatorCore.admit` and :meth:`SimulatorCore.verify`, and encodes the verdict.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from stdnum.cn import ric

from . import magic, similarity
from .config import SimulatorConfig
from .faults import FaultInjector, parse_latency
from .fetch import FetchError, fetch_image
from .ledger import Ledger
from .outcomes import Outcome
from .registry import Registry, load

__all__ = ["SimulatorCore", "Verdict", "VerificationInput", "unescape_name"]

_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")

_BEFORE_IMAGE: dict[magic.Behaviour, Outcome] = {
    magic.Behaviour.RATE_LIMITED: Outcome.RATE_LIMITED,
    magic.Behaviour.INTERNAL_ERROR: Outcome.INTERNAL_ERROR,
    magic.Behaviour.SERVICE_UNAVAILABLE: Outcome.SERVICE_UNAVAILABLE,
    magic.Behaviour.ARREARS: Outcome.ARREARS,
    magic.Behaviour.NOT_ACTIVATED: Outcome.NOT_ACTIVATED,
    magic.Behaviour.HANG: Outcome.HANG,
    magic.Behaviour.BAD_GATEWAY: Outcome.BAD_GATEWAY,
    magic.Behaviour.DROP: Outcome.DROP,
}
_MAGIC_PERSON_FAILURES: dict[magic.Behaviour, Outcome] = {
    magic.Behaviour.NAME_MISMATCH: Outcome.NAME_MISMATCH,
    magic.Behaviour.NO_FACE: Outcome.NO_FACE,
    magic.Behaviour.ID_PHOTO_MISSING: Outcome.ID_PHOTO_MISSING,
    magic.Behaviour.MULTIPLE_FACES: Outcome.MULTIPLE_FACES,
    magic.Behaviour.SPOOFED: Outcome.SPOOFED,
    magic.Behaviour.POOR_QUALITY: Outcome.POOR_QUALITY,
}
_MAGIC_SCORES: dict[magic.Behaviour, float] = {
    magic.Behaviour.MATCH: magic.MATCH_SIMILARITY,
    magic.Behaviour.NO_MATCH: magic.NO_MATCH_SIMILARITY,
    magic.Behaviour.REVIEW: magic.REVIEW_SIMILARITY,
    magic.Behaviour.FLAKY: magic.MATCH_SIMILARITY,
    magic.Behaviour.SLOW: magic.MATCH_SIMILARITY,
}


def unescape_name(name: str) -> str:
    """Turn literal ``\\uXXXX`` escapes (as some clients send names) into characters."""
    if "\\u" not in name:
        return name
    text = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), name)
    # Characters outside the BMP arrive as escaped surrogate pairs: join them.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


@dataclass(frozen=True)
class VerificationInput:
    """One comparison request, protocol-neutral. Its repr shows nothing personal."""

    idcard_number: str = field(repr=False)
    idcard_name: str = field(repr=False)
    image: bytes | None = field(default=None, repr=False)
    url: str | None = field(default=None, repr=False)
    #: Image formats the protocol accepts (:func:`.similarity.sniff_format` names); None: any
    #: format Pillow decodes except GIF.
    image_formats: frozenset[str] | None = None


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    similarity: float = 0.0
    #: Extra delay before answering (a magic slow number), milliseconds.
    delay_ms: float = 0.0
    #: The outcome was injected by a fault (rate, quota), not earned by the request.
    injected: bool = False
    #: The (normalised) ID number, masked by the ledger; empty if none was sent.
    idcard_number: str = ""

    def __repr__(self) -> str:
        return f"<Verdict {self.outcome.value} {self.similarity}>"


class SimulatorCore:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.registry: Registry = (
            config.registry if isinstance(config.registry, Registry) else load(config.registry)
        )
        self.registry.check_photos()
        self.faults = FaultInjector(
            latency=parse_latency(config.latency),
            error_rates=config.error_rates,
            hang_rate=config.hang_rate,
            qps=config.qps,
            seed=config.seed,
        )
        self.ledger = Ledger()
        #: Set when the server stops: every hang and delay wakes up.
        self.stopping = threading.Event()
        self._flaky_lock = threading.Lock()
        self._flaky_failures: dict[str, int] = {}

    def reset(self) -> None:
        """Empty the ledger, the flaky counters, the quota window; reseed the faults."""
        self.ledger.reset()
        self.faults.reset()
        with self._flaky_lock:
            self._flaky_failures.clear()

    def admit(self) -> Verdict | None:
        """Quota and injected faults for an authenticated request: None to go on."""
        outcome = self.faults.admit()
        return None if outcome is None else Verdict(outcome, injected=True)

    def wait(self, seconds: float) -> bool:
        """Sleep, waking early at shutdown; True if the server is stopping."""
        if seconds <= 0:
            return self.stopping.is_set()
        return self.stopping.wait(seconds)

    def verify(self, request: VerificationInput) -> Verdict:
        number = request.idcard_number.strip().upper()
        name = unescape_name(request.idcard_name).strip()
        if not number or not name:
            return Verdict(Outcome.MISSING_FIELDS, idcard_number=number)
        if not ric.is_valid(number):
            return Verdict(Outcome.INVALID_ID, idcard_number=number)
        magic_number = magic.lookup(number)
        if magic_number is not None:
            early = self._magic_before_image(magic_number, number)
            if early is not None:
                return early
        image, failure = self._acquire_image(request)
        if failure is not None:
            return Verdict(failure, idcard_number=number)
        assert image is not None
        formats = request.image_formats
        if formats is not None and similarity.sniff_format(image) not in formats:
            return Verdict(Outcome.UNSUPPORTED_FORMAT, idcard_number=number)
        try:
            uploaded = similarity.fingerprint(image)
        except similarity.UnsupportedImageFormat:
            return Verdict(Outcome.UNSUPPORTED_FORMAT, idcard_number=number)
        except similarity.UndecodableImage:
            return Verdict(Outcome.UNDECODABLE_IMAGE, idcard_number=number)
        if magic_number is not None:
            return self._magic_person(magic_number, number)
        person = self.registry.get(number)
        if person is None:
            return Verdict(Outcome.NOT_REGISTERED, idcard_number=number)
        if person.idcard_name != name:
            return Verdict(Outcome.NAME_MISMATCH, idcard_number=number)
        if uploaded.looks_blank:
            return Verdict(Outcome.NO_FACE, idcard_number=number)
        score = similarity.score(uploaded, self.registry.fingerprint(person))
        return Verdict(Outcome.COMPARED, similarity=score, idcard_number=number)

    def _magic_before_image(self, magic_number: magic.MagicNumber, number: str) -> Verdict | None:
        behaviour = magic_number.behaviour
        if behaviour in _BEFORE_IMAGE:
            return Verdict(_BEFORE_IMAGE[behaviour], idcard_number=number)
        if behaviour is magic.Behaviour.FLAKY:
            with self._flaky_lock:
                failures = self._flaky_failures.get(number, 0)
                if failures < magic_number.parameter:
                    self._flaky_failures[number] = failures + 1
                    return Verdict(Outcome.INTERNAL_ERROR, idcard_number=number)
        return None

    def _magic_person(self, magic_number: magic.MagicNumber, number: str) -> Verdict:
        behaviour = magic_number.behaviour
        if behaviour in _MAGIC_PERSON_FAILURES:
            return Verdict(_MAGIC_PERSON_FAILURES[behaviour], idcard_number=number)
        delay = float(magic_number.parameter) if behaviour is magic.Behaviour.SLOW else 0.0
        return Verdict(
            Outcome.COMPARED,
            similarity=_MAGIC_SCORES[behaviour],
            delay_ms=delay,
            idcard_number=number,
        )

    def _acquire_image(self, request: VerificationInput) -> tuple[bytes | None, Outcome | None]:
        if request.url:  # url wins over image when both are sent (idcardcompare.md)
            try:
                data = fetch_image(
                    request.url,
                    timeout=self.config.url_fetch_timeout,
                    max_bytes=self.config.url_fetch_max_bytes,
                    allow_private=self.config.url_allow_private,
                    resolver=self.config.url_resolver,
                )
            except FetchError:
                return None, Outcome.URL_FETCH_FAILED
            return (data, None) if data else (None, Outcome.URL_FETCH_FAILED)
        if not request.image:
            return None, Outcome.NO_IMAGE
        return request.image, None
