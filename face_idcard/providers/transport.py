"""What a failed HTTP exchange says about the request: whether it left before the failure.

Shared by the provider clients (all on requests and urllib3): a request that never left costs
nothing; one whose answer was lost after it left may have been done, and billed, by the
provider (``ProviderError.request_sent``, which the backends turn into the outcome's billing).
"""

from __future__ import annotations

from urllib3.exceptions import ConnectTimeoutError, ProtocolError, ReadTimeoutError

__all__ = ["request_sent"]


def request_sent(exc: BaseException) -> bool | None:
    """Whether the request left before the exchange failed, from the exception's chain (and
    the arguments requests wraps): False for a connection never made (refused, connect
    timeout: urllib3's NewConnectionError is a ConnectTimeoutError), True for a read timeout
    or a connection closed while waiting for the answer, None when the chain does not say."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectTimeoutError | ConnectionRefusedError):
            return False
        if isinstance(current, ReadTimeoutError | ProtocolError | ConnectionResetError):
            return True
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError
        if isinstance(reason, BaseException):
            pending.append(reason)
        following = current.__cause__ or current.__context__
        if following is not None:
            pending.append(following)
    return None
