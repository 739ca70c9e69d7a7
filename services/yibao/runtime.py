"""The actors' runtime: per-process database access, receive an event once, run a job.

Above the nouns (it runs ``yibao.jobs``), below the worker services that call it; ``messaging``
under it only builds the broker and relays the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from dramatiq.middleware import CurrentMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yibao.config import Settings, get_settings
from yibao.db.engine import make_engine, make_sessionmaker
from yibao.db.uow import UnitOfWork
from yibao.events.inbox import claim, load_event
from yibao.jobs import runner

log = logging.getLogger("yibao.worker")
_by_loop: dict[int, async_sessionmaker[AsyncSession]] = {}
_settings: Settings | None = None


def configure(settings: Settings | None) -> None:
    """Use these settings instead of the environment's (tests); resets the engines."""
    global _settings
    _settings = settings
    _by_loop.clear()


def worker_sessionmaker() -> async_sessionmaker[AsyncSession]:
    """One engine per event loop: asyncpg connections belong to the loop that opened them."""
    loop = id(asyncio.get_running_loop())
    if loop not in _by_loop:
        _by_loop[loop] = make_sessionmaker(make_engine(_settings or get_settings(), pool_size=5))
    return _by_loop[loop]


class EventNotFound(RuntimeError):
    """The message arrived before its outbox row is visible; retried by Dramatiq."""


Apply = Callable[[UnitOfWork, dict[str, Any]], Awaitable[None]]


async def receive(consumer: str, event_id: str, apply: Apply | None = None) -> dict[str, Any] | None:
    """Record an event for ``consumer`` exactly once and ``apply`` it in the same transaction,
    so a redelivery finds the inbox row and does nothing; ``None`` on a redelivery."""
    async with UnitOfWork(worker_sessionmaker()) as uow:
        payload = await load_event(uow.session, event_id)
        if payload is None:
            raise EventNotFound(event_id)
        if not await claim(uow.session, consumer, event_id, str(payload["type"]), payload):
            log.info("%s: event %s already processed", consumer, event_id)
            return None
        if apply is not None:
            await apply(uow, payload)
        await uow.commit()
        return payload


async def run_job(consumer: str, event_id: str, handlers: Mapping[str, runner.Handler], max_retries: int) -> None:
    """Execute the job run announced by a ``job.<service>`` event (at least once, see runner).

    Its receipt goes in the inbox first, in its own transaction, so the relay does not send
    the event again while a long run is under way; unlike ``receive`` it does not gate the run
    (a redelivered message of a run whose worker died must run it, and the runner skips a
    finished run)."""
    async with UnitOfWork(worker_sessionmaker()) as uow:
        payload = await load_event(uow.session, event_id)
        if payload is None:
            raise EventNotFound(event_id)
        await claim(uow.session, consumer, event_id, str(payload["type"]), payload)
        await uow.commit()
    message = CurrentMessage.get_current_message()
    retries = int(message.options.get("retries", 0)) if message is not None else 0
    await runner.execute(worker_sessionmaker(), str(payload["run_id"]), handlers, final_attempt=retries >= max_retries)
