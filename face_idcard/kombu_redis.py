"""kombu's Redis transport with one client per connection pool instead of one per operation.

With ``acks_late`` every task costs the worker's main process two bookkeeping transactions on
Redis (the message into the unacked index on delivery, out of it on the ack). kombu's Redis
channel builds a new ``redis.Redis`` object for each of them, and redis-py's constructor copies
its table of about 170 response callbacks into a case-insensitive dict every time: measured at
0.2 ms of CPU per client on the benchmark machine, 0.4 ms per task, about a third of what the
main process spends per task (bench/profile_worker.py notes). A client holds no connection of
its own (it borrows one from the pool for each command and is safe to share between threads),
so this channel keeps one per pool and builds a new one only when kombu replaces the pool
(after a connection error or a fork).

A site running Celery on Redis opts in with one setting (README, "Celery on Redis")::

    CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    CELERY_BROKER_TRANSPORT = "face_idcard.kombu_redis:Transport"

Everything else (the URL, ``broker_transport_options``, visibility timeout, priorities) is
kombu's own; the asynchronous client the consumer polls with is untouched.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis

__all__ = ["Channel", "Transport"]


class Channel(kombu_redis.Channel):
    _shared_client: Any = None
    _shared_client_pool: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        pool = self.pool
        if self._shared_client is None or self._shared_client_pool is not pool:
            self._shared_client = super()._create_client()  # type: ignore[misc]
            self._shared_client_pool = pool
        return self._shared_client


class Transport(kombu_redis.Transport):
    Channel = Channel
