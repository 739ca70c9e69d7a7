"""The outbox table: events written by the unit of work in the transaction they announce.

Why in ``db`` and not in ``events``: the unit of work (``db.uow``) is its writer, and the
database floor must not import the floor above it. The relay (``messaging.relay``) reads and
marks its rows; the consumers' inbox (``events.orm``) lives one floor up.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, SmallInteger, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class OutboxRow(Base):
    """An event written in the same transaction as the change it announces."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    topic: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: times sent again because a consumer had not received it (``messaging.relay.redeliver_once``)
    resends: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
