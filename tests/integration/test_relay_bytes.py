"""The outbox relay writes Dramatiq's Redis messages itself (``yibao.messaging.relay`` says why).

What it leaves in Redis must be what ``RedisBroker.enqueue`` leaves, byte for byte, or a worker
could tell the two apart. pyproject pins Dramatiq's minor version for this; an upgrade must pass
this test first. Both writers run on this run's Redis db, under a namespace of this test alone.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
import redis
from dramatiq.brokers import redis as dramatiq_redis

from yibao.config import Settings
from yibao.events.names import SETTLEMENT_CREATED, SUBSCRIBERS
from yibao.messaging import relay
from yibao.messaging.broker import make_broker

EVENT_ID = "0190f1a2-0000-7000-8000-000000000001"
NOW = 1_767_225_600_000
#: both writers draw a fresh redis_message_id per message; pinned so the bytes can be compared
REDIS_MESSAGE_ID = uuid.UUID("00000000-0000-4000-8000-000000000042")


def _snapshot(client: redis.Redis, namespace: str) -> dict[str, Any]:
    """Every key under ``namespace`` (named without it) with its content: the queues' lists of
    message ids, the hashes of message bytes, and the members of the heartbeat set (their
    scores are the clock of the write)."""
    out: dict[str, Any] = {}
    for key in client.scan_iter(match=f"{namespace}:*"):
        name = key.decode()[len(namespace) + 1 :]
        kind = client.type(key)
        if kind == b"list":
            out[name] = client.lrange(key, 0, -1)
        elif kind == b"hash":
            out[name] = client.hgetall(key)
        elif kind == b"zset":
            out[name] = sorted(client.zrange(key, 0, -1))
        elif kind == b"set":
            out[name] = sorted(client.smembers(key))
        else:
            out[name] = kind
    return out


def _clear(client: redis.Redis, namespace: str) -> None:
    keys = list(client.scan_iter(match=f"{namespace}:*"))
    if keys:
        client.delete(*keys)


@pytest.mark.parametrize("hooked", [False, True], ids=["fast path", "with enqueue hooks"])
async def test_the_relay_leaves_in_redis_what_redis_broker_enqueue_leaves(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, hooked: bool
) -> None:
    # given one broker on this run's Redis db under a namespace of its own, with the message
    # ids and the clock that both writers draw from pinned
    namespace = f"{settings.broker_namespace}-relay-bytes-{secrets.token_hex(4)}"
    broker = make_broker(settings.model_copy(update={"broker_namespace": namespace}))
    monkeypatch.setattr(dramatiq_redis, "uuid4", lambda: REDIS_MESSAGE_ID)
    monkeypatch.setattr(relay, "uuid4", lambda: REDIS_MESSAGE_ID)
    monkeypatch.setattr(relay, "current_millis", lambda: NOW)
    client = redis.Redis.from_url(settings.redis_url)
    writer = relay._AsyncDispatch(broker)
    writer.hooked = hooked
    try:
        # when an event's messages go through Dramatiq's own enqueue
        for message in relay.messages_for(EVENT_ID, SETTLEMENT_CREATED):
            broker.enqueue(message)
        by_dramatiq = _snapshot(client, namespace)
        _clear(client, namespace)
        # and then through the relay's writer
        await writer.publish(relay.targets_of([(EVENT_ID, SETTLEMENT_CREATED)]))
        by_relay = _snapshot(client, namespace)
    finally:
        _clear(client, namespace)
        await writer.client.aclose()
        client.close()
        broker.close()

    # then Redis holds the same keys, queue entries and message bytes
    assert by_relay == by_dramatiq
    queues = [queue for queue, _ in SUBSCRIBERS[SETTLEMENT_CREATED]]
    assert all(by_relay[queue] == [str(REDIS_MESSAGE_ID).encode()] for queue in queues)
    assert all(f"{queue}.msgs" in by_relay for queue in queues)  # there was something to compare
