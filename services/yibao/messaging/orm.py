"""The relay's own table: how far every outbox event is known to be received (``redeliver``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, SmallInteger, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class OutboxCursorRow(Base):
    """One row: every outbox event up to ``delivered_through`` reached each of its consumers
    (or was given up on, logged); the redelivery sweep starts after it."""

    __tablename__ = "outbox_cursor"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    delivered_through: Mapped[int] = mapped_column(BigInteger)
    swept_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
