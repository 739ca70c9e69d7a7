"""Build the Dramatiq broker from settings, once per process, before any actor is declared."""

from __future__ import annotations

import weakref

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware.asyncio import AsyncIO

from yibao.config import Settings

#: the Redis URL each broker was built for (the outbox relay opens an asyncio client to it)
_URLS: weakref.WeakKeyDictionary[RedisBroker, str] = weakref.WeakKeyDictionary()


def redis_url(broker: RedisBroker) -> str:
    return _URLS[broker]


def make_broker(settings: Settings) -> RedisBroker:
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.redis_url,
        namespace=settings.broker_namespace,
        heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
        maintenance_chance=settings.broker_maintenance_chance,
    )
    broker.add_middleware(AsyncIO())
    broker.add_middleware(CurrentMessage())  # job actors read their retry count
    _URLS[broker] = settings.redis_url
    return broker


def install_broker(settings: Settings) -> RedisBroker:
    """Make the broker the global one that ``@dramatiq.actor`` binds to."""
    broker = make_broker(settings)
    dramatiq.set_broker(broker)
    return broker
