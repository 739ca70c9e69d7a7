from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class PersonalAccountRow(Base):
    __tablename__ = "personal_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_nonneg"),)

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    balance: Mapped[int] = mapped_column(FenColumn, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AccountMovementRow(Base):
    """Every change of a balance: credits (+), settlement debits (−), cancel refunds (+)."""

    __tablename__ = "account_movements"
    __table_args__ = (UniqueConstraint("person_id", "reference"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(FenColumn)
    kind: Mapped[str] = mapped_column(String(20))  # credit / settlement / cancel
    reference: Mapped[str] = mapped_column(String(100))
    settlement_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InheritanceClosingRow(Base):
    """The closing of a deceased holder's account to its heirs: asked by one finance officer
    (``pending``), approved by another (``closed``: the balance moved out to zero)."""

    __tablename__ = "account_inheritance_closings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(FenColumn)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    made_by: Mapped[str] = mapped_column(String(100))
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
