"""Relay: publish committed outbox rows to Dramatiq, then mark them sent; send again what a
consumer has not received.

At-least-once by design: a crash after enqueue and before marking re-sends the row, and
the consumers' inbox makes the second delivery a no-op. ``SKIP LOCKED`` lets several
relays (one per API process) share the table without sending a row twice at once.

Sent is not received: Redis can lose a message the relay handed it (a fetch whose reply died
with a killed Redis leaves the message in the worker's ack set while the worker lives on; a
retry enqueued while Redis is down is dropped). So every consumer records what it received in
the inbox (consumer = its queue's name), and ``redeliver_once`` sends an event again to each
consumer that has not recorded it some time after it was sent — doubling the wait each time,
giving up (logged) after ``max_resends``. A cursor keeps the sweep to the events not yet known
to be received, so it reads a few rows per pass, not the table.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
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
from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import func

from yibao.config import Settings
from yibao.db.orm import OutboxRow
from yibao.events.names import SUBSCRIBERS
from yibao.events.orm import InboxRow
from yibao.messaging.broker import redis_url
from yibao.messaging.orm import OutboxCursorRow

log = logging.getLogger("yibao.outbox")


#: (event id, queue, actor): one message to send
Target = tuple[str, str, str]


def targets_of(events: list[tuple[str, str]]) -> list[Target]:
    """Every subscriber of each ``(event_id, topic)``."""
    return [(event_id, queue, actor) for event_id, topic in events for queue, actor in SUBSCRIBERS.get(topic, [])]


def messages_for(row_event_id: str, topic: str) -> list[Message[Any]]:
    now = current_millis()
    return [Message(**_fields(e, queue, actor, {}, now)) for e, queue, actor in targets_of([(row_event_id, topic)])]


async def _send(broker: Broker, targets: list[Target]) -> None:
    if isinstance(broker, RedisBroker):
        await _dispatcher(broker).publish(targets)
        return
    now = current_millis()  # the stub broker of tests
    for event_id, queue, actor in targets:
        broker.enqueue(Message(**_fields(event_id, queue, actor, {}, now)))


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
        await _send(broker, targets_of([(str(r.event_id), r.topic) for r in rows]))
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

    async def publish(self, targets: list[Target]) -> None:
        """Enqueue each ``(event_id, queue, actor)``."""
        now = current_millis()
        fields = [
            _fields(event_id, queue, actor, {"redis_message_id": str(uuid4())}, now)
            for event_id, queue, actor in targets
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


# ------------------------------------------------------------------ send again what was not received

#: the sweep's transaction lock: one relay sweeps at a time (the others skip their turn)
_SWEEP_LOCK = 0x6F7574626F78  # "outbox"


@dataclass(frozen=True)
class Redelivery:
    """One sweep: events found received, sent again, given up on; the cursor after it."""

    received: int = 0
    resent: int = 0
    given_up: int = 0
    cursor: int = 0


@dataclass(frozen=True)
class RedeliveryPolicy:
    """Send again after ``after_seconds`` (doubling per resend), at most ``max_resends`` times."""

    after_seconds: float
    max_resends: int
    batch: int = 2000


def redelivery_of(settings: Settings) -> RedeliveryPolicy:
    return RedeliveryPolicy(settings.outbox_redeliver_seconds, settings.outbox_redeliver_max)


def missing_consumers(topic: str, event_id: str, received: set[tuple[str, str]]) -> list[Target]:
    """The subscribers of the event with no inbox row for it (a consumer records under its queue)."""
    return [
        (event_id, queue, actor) for queue, actor in SUBSCRIBERS.get(topic, []) if (queue, event_id) not in received
    ]


async def redeliver_once(
    sessionmaker: async_sessionmaker[AsyncSession], broker: Broker, policy: RedeliveryPolicy
) -> Redelivery:
    """Check the events after the cursor: send each one again to the consumers that have not
    received it once its wait is over, and move the cursor over the leading events every
    consumer received (or that were given up on)."""
    async with sessionmaker() as session, session.begin():
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(_SWEEP_LOCK))):
            return Redelivery()
        cursor = await session.scalar(select(OutboxCursorRow.delivered_through).with_for_update())
        waited = func.extract("epoch", func.now() - OutboxRow.sent_at)
        due = waited > policy.after_seconds * func.power(2, OutboxRow.resends)
        rows = (
            await session.execute(
                select(OutboxRow.id, OutboxRow.event_id, OutboxRow.topic, OutboxRow.resends, due.label("due"))
                .where(OutboxRow.id > (cursor or 0))
                .order_by(OutboxRow.id)
                .limit(policy.batch)
            )
        ).all()
        expected = [(q, r.event_id) for r in rows for q, _ in SUBSCRIBERS.get(r.topic, [])]
        received = (
            {
                (c, str(e))
                for c, e in (
                    await session.execute(
                        select(InboxRow.consumer, InboxRow.event_id).where(
                            tuple_(InboxRow.consumer, InboxRow.event_id).in_(expected)
                        )
                    )
                ).all()
            }
            if expected
            else set()
        )
        through, leading, counts = cursor or 0, True, {"received": 0, "given_up": 0}
        resend: list[Target] = []
        resent_ids: list[int] = []
        for r in rows:
            missing = missing_consumers(r.topic, str(r.event_id), received)
            settled = not missing
            if missing and r.due and r.resends >= policy.max_resends:
                log.error(
                    "outbox event %s (%s) not received by %s after %d resends: given up",
                    r.event_id,
                    r.topic,
                    ", ".join(q for _, q, _ in missing),
                    r.resends,
                )
                settled = True
                counts["given_up"] += 1
            elif missing and r.due:
                resend.extend(missing)
                resent_ids.append(r.id)
            elif not missing:
                counts["received"] += 1
            leading = leading and settled
            if leading:
                through = r.id
        if resend:
            await _send(broker, resend)
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(resent_ids))
                .values(resends=OutboxRow.resends + 1, sent_at=func.now())
            )
            log.warning("outbox: %d events sent again to consumers that had not received them", len(resent_ids))
        await session.execute(update(OutboxCursorRow).values(delivered_through=through, swept_at=func.now()))
    return Redelivery(counts["received"], len(resent_ids), counts["given_up"], through)


async def relay_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    broker: Broker,
    poll_seconds: float,
    batch: int,
    redelivery: RedeliveryPolicy | None = None,
) -> None:
    """Runs until cancelled; Redis or database outages are logged and retried, never fatal.
    With a ``redelivery`` policy it also sweeps for events not received, every quarter of its wait."""
    backoff = poll_seconds
    next_sweep = time.monotonic()
    while True:
        try:
            sent = await relay_once(sessionmaker, broker, batch)
            backoff = poll_seconds
            if redelivery is not None and time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + redelivery.after_seconds / 4
                await redeliver_once(sessionmaker, broker, redelivery)
            if sent == batch:
                continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down, DB restarting: keep the rows, try again later
            log.warning("outbox relay failed, will retry: %s", exc)
            backoff = min(backoff * 2, 5.0)
        await asyncio.sleep(backoff)
