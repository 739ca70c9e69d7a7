from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class MaternityAllowanceRow(Base):
    """One maternity allowance (生育津贴) per settled delivery (``settlement_id`` unique: a retry or
    a second creation finds it). pending → approved (one approval, with the payee) → paid (by a
    person-payee order); ``ineligible`` when the contributions fall short; ``void`` when the
    delivery bill was cancelled before payment (after it, the paid allowance is owed back)."""

    __tablename__ = "maternity_allowances"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'paid', 'ineligible', 'void')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    allowance_no: Mapped[str] = mapped_column(String(20), unique=True)
    settlement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("settlements.id"), unique=True)
    institution_code: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employers.id"))
    delivery_date: Mapped[date] = mapped_column(Date)
    delivery_type: Mapped[str] = mapped_column(String(10))
    babies: Mapped[int] = mapped_column(SmallInteger)
    days: Mapped[int] = mapped_column(Integer)
    months_contributed: Mapped[int] = mapped_column(Integer)
    first_contribution_month: Mapped[date | None] = mapped_column(Date)
    other_contributors: Mapped[int] = mapped_column(Integer)
    average_base: Mapped[int] = mapped_column(FenColumn)
    daily_amount: Mapped[int] = mapped_column(FenColumn)
    amount: Mapped[int] = mapped_column(FenColumn)
    eligible: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    #: review flags (DOMAIN §10, 虚构劳动关系): contributions began shortly before the delivery,
    #: or the employer has no other contributor
    flags: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    status: Mapped[str] = mapped_column(String(12))
    policy_version: Mapped[str] = mapped_column(String(60))
    payee: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_order_id: Mapped[int | None] = mapped_column(BigInteger)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: the delivery bill was cancelled after the allowance was paid or put in a person order: the
    #: money is owed back (``recovery_due``) until finance records it received (``recovered_*``)
    delivery_cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recovered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recovered_by: Mapped[str | None] = mapped_column(String(200))
    recovery_reference: Mapped[str | None] = mapped_column(String(100))
