"""Consumer side of at-least-once delivery: claim an event once per consumer."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.db.orm import OutboxRow
from yibao.events.orm import InboxRow


async def load_event(session: AsyncSession, event_id: str) -> dict[str, Any] | None:
    payload = await session.scalar(select(OutboxRow.payload).where(OutboxRow.event_id == uuid.UUID(event_id)))
    return dict(payload) if payload is not None else None


async def claim(session: AsyncSession, consumer: str, event_id: str, topic: str, payload: dict[str, Any]) -> bool:
    """``True`` the first time; a redelivered event returns ``False`` (its work is done)."""
    inserted = await session.scalar(
        insert(InboxRow)
        .values(consumer=consumer, event_id=uuid.UUID(event_id), topic=topic, payload=payload)
        .on_conflict_do_nothing()
        .returning(InboxRow.event_id)
    )
    return inserted is not None
