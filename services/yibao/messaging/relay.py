"""Relay: publish committed outbox rows to Dramatiq, then mark them sent.

At-least-once by design: a crash after enqueue and before marking re-sends the row, and
the consumers' inbox makes the second delivery a no-op. ``SKIP LOCKED`` lets several
relays (one per API process) share the table without sending a row twice at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import uuid4

import dramatiq
import orjson
from dramatiq import Broker, Message, Middleware
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from dramatiq.encoder import JSONEncoder
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import NoScriptError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import func

from yibao.db.orm import OutboxRow
from yibao.events.names import SUBSCRIBERS
from yibao.messaging.broker import redis_url

log = logging.getLogger("yibao.outbox")


def messages_for(row_event_id: str, topic: str) -> list[Message[Any]]:
    now = current_millis()
    return [Message(**_fields(row_event_id, queue, actor, {}, now)) for queue, actor in SUBSCRIBERS.get(topic, [])]


def _fields(event_id: str, queue: str, actor: str, options: dict[str, Any], now: int) -> dict[str, Any]:
    """A Dramatiq message as ``Message.asdict()`` gives it: one event for one consumer queue,
    with a message id that names both (the consumers' inbox deduplicates on the event id)."""
    return {
        "queue_name": queue,
        "actor_name": actor,
        "args": (event_id,),
        "kwargs": {},
        "options": options,
        "message_id": f"{event_id}:{queue}",
        "message_timestamp": now,
    }


async def relay_once(sessionmaker: async_sessionmaker[AsyncSession], broker: Broker, batch: int = 500) -> int:
    """Publish up to ``batch`` unsent events; returns how many were sent."""
    async with sessionmaker() as session, session.begin():
        rows = (
            await session.execute(
                select(OutboxRow.id, OutboxRow.event_id, OutboxRow.topic)
                .where(OutboxRow.sent_at.is_(None))
                .order_by(OutboxRow.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        events = [(str(r.event_id), r.topic) for r in rows]
        if isinstance(broker, RedisBroker):
            await _dispatcher(broker).publish(events)
        else:  # the stub broker of tests
            for message in (m for event_id, topic in events for m in messages_for(event_id, topic)):
                broker.enqueue(message)
        await session.execute(
            update(OutboxRow).where(OutboxRow.id.in_([r.id for r in rows])).values(sent_at=func.now())
        )
    return len(rows)


class _AsyncDispatch:
    """``RedisBroker.enqueue`` for a whole batch, in one round trip on an asyncio Redis client.

    Why: the relay runs in every API process, beside the bills. Enqueued one by one from a
    worker thread (the broker's own client is synchronous) it was ~14% of the API's CPU and
    held the GIL while the bills waited; through ``Message`` objects (two per event, copied,
    each run past every middleware) still ~20%. So this writes what ``RedisBroker.enqueue``
    (dramatiq 2.2, no delay) writes — the same message fields and encoding, a fresh
    ``redis_message_id``, the broker's own ``dispatch`` script with the same arguments — with
    EVALSHA on the event loop, loading the script if Redis lost it. pyproject pins Dramatiq's
    minor version for this, and ``tests/integration/test_relay_bytes.py`` compares what both
    leave in Redis, byte for byte, so an upgrade is a deliberate step. It builds ``Message``
    objects and runs the middleware hooks only if some middleware has enqueue hooks (none of
    ours does). If the pipeline fails midway the batch is not marked sent and is sent again,
    which the consumers' inbox makes harmless (at-least-once, as before).
    """

    def __init__(self, broker: RedisBroker) -> None:
        self.broker = broker
        self.client = AsyncRedis.from_url(redis_url(broker))
        script = broker.scripts["dispatch"]
        self.source, self.sha = script.script, script.sha
        self.hooked = any(
            type(m).before_enqueue is not Middleware.before_enqueue
            or type(m).after_enqueue is not Middleware.after_enqueue
            for m in broker.middleware
        )
        encoder = dramatiq.get_encoder()
        self.encode = orjson.dumps if type(encoder) is JSONEncoder else encoder.encode  # same JSON, faster

    async def publish(self, events: list[tuple[str, str]]) -> None:
        """Enqueue each ``(event_id, topic)`` on every queue that subscribes to the topic."""
        now = current_millis()
        fields = [
            _fields(event_id, queue, actor, {"redis_message_id": str(uuid4())}, now)
            for event_id, topic in events
            for queue, actor in SUBSCRIBERS.get(topic, [])
        ]
        if self.hooked:
            await self._publish_with_hooks([Message(**f) for f in fields])
            return
        await self._dispatch([self._arguments(f["queue_name"], f["options"], self.encode(f)) for f in fields])

    async def _publish_with_hooks(self, messages: list[Message[Any]]) -> None:
        for message in messages:
            self.broker.emit_before("enqueue", message, None)
        await self._dispatch([self._arguments(m.queue_name, m.options, m.encode()) for m in messages])
        for message in messages:
            self.broker.emit_after("enqueue", message, None)

    def _arguments(self, queue_name: str, options: dict[str, Any], data: bytes) -> list[Any]:
        broker = self.broker
        return [
            "enqueue",
            current_millis(),
            queue_name,
            broker.broker_id,
            broker.heartbeat_timeout,
            broker.dead_message_ttl,
            broker._should_do_maintenance("enqueue"),
            broker._max_unpack_size(),  # type: ignore[no-untyped-call]
            options["redis_message_id"],
            data,
        ]

    async def _dispatch(self, calls: list[list[Any]]) -> None:
        try:
            await self._send(calls)
        except NoScriptError:  # Redis restarted or flushed its scripts
            await self.client.script_load(self.source)
            await self._send(calls)

    async def _send(self, calls: list[list[Any]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for args in calls:
            pipe.evalsha(self.sha, 1, self.broker.namespace, *args)
        await pipe.execute()


#: one dispatcher per broker and event loop (an asyncio client belongs to the loop it ran on)
_dispatchers: dict[tuple[int, int], _AsyncDispatch] = {}


def _dispatcher(broker: RedisBroker) -> _AsyncDispatch:
    key = (id(broker), id(asyncio.get_running_loop()))
    found = _dispatchers.get(key)
    if found is None or found.broker is not broker:
        found = _dispatchers[key] = _AsyncDispatch(broker)
    return found


async def relay_forever(
    sessionmaker: async_sessionmaker[AsyncSession], broker: Broker, poll_seconds: float, batch: int
) -> None:
    """Runs until cancelled; Redis or database outages are logged and retried, never fatal."""
    backoff = poll_seconds
    while True:
        try:
            sent = await relay_once(sessionmaker, broker, batch)
            backoff = poll_seconds
            if sent == batch:
                continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down, DB restarting: keep the rows, try again later
            log.warning("outbox relay failed, will retry: %s", exc)
            backoff = min(backoff * 2, 5.0)
        await asyncio.sleep(backoff)
