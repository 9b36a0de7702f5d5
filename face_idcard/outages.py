"""Which exceptions mean "a piece of infrastructure is unreachable", as opposed to a bug.

One home for the rule the worker and the API share: an outage of the database, the cache or
the broker is waited out (the worker delivers the attempt again with backoff, the API answers
503 with ``Retry-After``), never recorded as the attempt's failure nor answered with a 500.

The database's errors are Django's (``OperationalError``: the server went away, refused, was
restarted or failed over, a deadlock; ``InterfaceError``: the connection is closed). The
cache's and the broker's are their client libraries' own, whichever are installed (redis-py,
kombu), plus the socket errors other clients let through; face_idcard's own code turns a
cache error into :class:`~face_idcard.exceptions.CacheUnavailable` where it uses the cache.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

from .exceptions import CacheUnavailable, InfrastructureUnavailable

__all__ = ["OUTAGE_ERRORS", "is_outage"]


def _client_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    try:
        import redis.exceptions as redis_errors
    except ImportError:  # pragma: no cover - redis-py is optional
        pass
    else:
        # ReadOnlyError: a failover left the client talking to a replica.
        found += [
            redis_errors.ConnectionError,
            redis_errors.TimeoutError,
            redis_errors.ReadOnlyError,
        ]
    try:
        import kombu.exceptions as kombu_errors
    except ImportError:  # pragma: no cover - Celery (and kombu) is optional
        pass
    else:
        # What kombu raises when a publish cannot reach the broker.
        found.append(kombu_errors.OperationalError)
    return tuple(found)


#: The exception types that mean an outage (see the module docstring).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    CacheUnavailable,
    InfrastructureUnavailable,
    # Sockets: memcached clients and other caches or queues without errors of their own.
    ConnectionError,
    TimeoutError,
    *_client_errors(),
)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database, the cache or the broker is unreachable."""
    return isinstance(exc, OUTAGE_ERRORS)
