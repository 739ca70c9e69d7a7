"""Per-process database access for actors (created lazily, on the worker's event loop)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yibao.config import get_settings
from yibao.db.engine import make_engine, make_sessionmaker
from yibao.db.uow import UnitOfWork
from yibao.events.inbox import claim, load_event

log = logging.getLogger("yibao.worker")
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def worker_sessionmaker() -> async_sessionmaker[AsyncSession]:
    global _sessionmaker
    if _sessionmaker is None:
        _sessionmaker = make_sessionmaker(make_engine(get_settings(), pool_size=5))
    return _sessionmaker


class EventNotFound(RuntimeError):
    """The message arrived before its outbox row is visible; retried by Dramatiq."""


async def receive(consumer: str, event_id: str) -> dict[str, Any] | None:
    """Record an event for ``consumer`` exactly once; ``None`` on a redelivery."""
    async with UnitOfWork(worker_sessionmaker()) as uow:
        payload = await load_event(uow.session, event_id)
        if payload is None:
            raise EventNotFound(event_id)
        if not await claim(uow.session, consumer, event_id, str(payload["type"]), payload):
            log.info("%s: event %s already processed", consumer, event_id)
            return None
        await uow.commit()
        return payload
