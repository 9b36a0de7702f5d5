"""What a protocol module provides to the server: one class per endpoint.

A protocol answers one (method, path). The server reads the body (refusing it by
Content-Length when it is over :meth:`ProtocolHandler.max_body_bytes`), calls
:meth:`ProtocolHandler.handle`, applies the delay and the transport action of the
:class:`Reply`, and writes its :class:`PendingRecord` to the ledger. Adding FaceID V2 is one
more subclass in one more module, registered with the server.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field, replace
from email.message import Message
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..core import SimulatorCore

from ..outcomes import Outcome

__all__ = [
    "PendingRecord",
    "ProtocolHandler",
    "Reply",
    "ReplyAction",
    "Request",
    "padded_reply",
    "transport_reply",
]

_BAD_GATEWAY_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>simulator</center></body></html>"
)


class ReplyAction(str, enum.Enum):
    RESPOND = "respond"
    #: Close the connection without writing anything.
    DROP = "drop"
    #: Write nothing until the server stops or the hang cap passes, then close.
    HANG = "hang"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Message = field(repr=False)
    body: bytes = field(repr=False)
    #: Unix time (UTC epoch seconds) when the request line arrived.
    received_at: float
    #: The query string as received (without the ``?``), for protocols that sign it.
    query: str = ""


@dataclass(frozen=True)
class PendingRecord:
    """What a protocol tells the ledger about a call (the server adds time and latency)."""

    session_id: str
    code: int | str | None
    outcome: str
    billable: bool
    injected: bool
    idcard_masked: str = ""


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = field(default=b"", repr=False)
    content_type: str = "application/json"
    action: ReplyAction = ReplyAction.RESPOND
    #: Milliseconds to wait before answering (on top of the server-wide injected latency).
    delay_ms: float = 0.0
    #: Close the connection after answering.
    close: bool = False
    record: PendingRecord | None = None
    #: Spaces written after ``body`` (JSON allows them), in pieces: the oversized faults.
    padding: int = 0
    #: Send ``body`` and its padding gzip-encoded (``Content-Encoding: gzip``), chunked.
    gzip: bool = False


#: Outcomes answered with a well-formed answer padded to the configured size.
PADDED_OUTCOMES = frozenset({Outcome.OVERSIZED, Outcome.GZIP_BOMB})


def padded_reply(answer: Reply, outcome: Outcome, size: int, record: PendingRecord) -> Reply:
    """``answer`` (a well-formed answer) padded to ``size`` bytes in all for an oversized
    fault, gzip-encoded for a gzip bomb, and recorded as that fault."""
    return replace(
        answer,
        padding=max(0, size - len(answer.body)),
        gzip=outcome is Outcome.GZIP_BOMB,
        close=True,
        record=record,
    )


class ProtocolHandler(abc.ABC):
    name: ClassVar[str]
    method: ClassVar[str] = "POST"
    path: ClassVar[str]

    def max_body_bytes(self, core: SimulatorCore) -> int:
        return core.config.max_body_bytes

    def claims(self, headers: Message) -> bool:
        """Whether this protocol answers a request to its (method, path) with ``headers``:
        several protocols may share one path (FaceID and Cloudauth both ``POST /``); the
        server asks them in order and the first that claims the request answers it."""
        return True

    def reset(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Forget per-protocol state (with the ledger, at the server's reset)."""

    @abc.abstractmethod
    def too_large(self, core: SimulatorCore, received_at: float) -> Reply:
        """The answer to a body over :meth:`max_body_bytes` (decided before reading it)."""

    @abc.abstractmethod
    def handle(self, request: Request, core: SimulatorCore) -> Reply:
        """Answer one request whose body has been read."""


def transport_reply(outcome: Outcome, record: PendingRecord) -> Reply | None:
    """The reply of a transport outcome (a gateway's HTML 502, a drop, a hang), whatever the
    protocol; None for an outcome the protocol answers itself."""
    if outcome is Outcome.BAD_GATEWAY:
        return Reply(
            status=502, body=_BAD_GATEWAY_BODY, content_type="text/html", close=True, record=record
        )
    if outcome is Outcome.DROP:
        return Reply(action=ReplyAction.DROP, record=record)
    if outcome is Outcome.HANG:
        return Reply(action=ReplyAction.HANG, record=record)
    return None
