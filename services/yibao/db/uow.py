"""Unit of work: one transaction; leaving without ``commit()`` rolls back.

Events are written to the outbox inside the same transaction as the change they announce,
so a crash between commit and publish can lose nothing (the relay publishes later).
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yibao.db.orm import OutboxRow
from yibao.uuids import uuid7


class UnitOfWork:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._committed = False
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        self.session = self._sessionmaker()
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True

    async def rollback(self) -> None:
        await self.session.rollback()

    def publish(self, topic: str, payload: dict[str, Any]) -> uuid.UUID:
        """Record an event in the outbox; it is sent only if this transaction commits."""
        event_id, envelope = self.envelope(topic, payload)
        self.session.add(OutboxRow(event_id=event_id, topic=topic, payload=envelope))
        return event_id

    @staticmethod
    def envelope(topic: str, payload: dict[str, Any]) -> tuple[uuid.UUID, dict[str, Any]]:
        """An event's id and outbox payload, for callers that insert the outbox row themselves
        (the settle path writes it in the same statement as the settlement)."""
        event_id = uuid7()
        return event_id, {"event_id": str(event_id), "type": topic, "v": 1, **payload}
