"""face_idcard.kombu_redis: kombu's Redis transport with one client per pool, on real Redis.

Needs the Redis broker of the suite's Redis configuration (``FACE_IDCARD_TEST_BROKER``); on
the in-memory broker there is no Redis to talk to. In that configuration every pipeline test
runs on this transport too (tests/celery_app.py).
"""

from __future__ import annotations

import os
import uuid

import pytest
from kombu import Connection, Exchange, Queue

from face_idcard import kombu_redis

BROKER = os.environ.get("FACE_IDCARD_TEST_BROKER", "")
pytestmark = pytest.mark.skipif(
    not BROKER.startswith("redis://"), reason="needs FACE_IDCARD_TEST_BROKER=redis://…"
)


def test_one_client_per_pool_and_a_new_one_with_a_new_pool() -> None:
    with Connection(BROKER, transport=kombu_redis.Transport) as connection:
        channel = connection.default_channel
        assert isinstance(channel, kombu_redis.Channel)
        first = channel._create_client()
        assert channel._create_client() is first
        assert channel._create_client(asynchronous=True) is not first  # the consumer's own
        channel._disconnect_pools()  # what kombu does after a connection error
        second = channel._create_client()
        assert second is not first
        assert second.connection_pool is channel.pool


def test_messages_are_delivered_acked_and_leave_the_unacked_index() -> None:
    name = f"face_idcard_kombu_{uuid.uuid4().hex}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with Connection(BROKER, transport=kombu_redis.Transport) as connection:
        channel = connection.default_channel
        producer = connection.Producer(serializer="json")
        for index in range(3):
            producer.publish(
                {"n": index}, exchange=queue.exchange, routing_key=name, declare=[queue]
            )
        simple = connection.SimpleQueue(queue)
        received = []
        for _ in range(3):
            message = simple.get(timeout=5)
            assert channel.client.hexists(channel.unacked_key, message.delivery_tag)
            message.ack()
            assert not channel.client.hexists(channel.unacked_key, message.delivery_tag)
            received.append(message.payload["n"])
        simple.close()
        queue(channel).delete()
    assert sorted(received) == [0, 1, 2]
