"""Person-payee disbursement orders (paying people: reimbursement claims), like institution orders."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class PersonOrderRow(Base):
    """One batch of payments to people (one per business day): draft → approved → paid."""

    __tablename__ = "person_disbursement_orders"
    __table_args__ = (CheckConstraint("state IN ('draft', 'approved', 'paid')", name="state_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_date: Mapped[date] = mapped_column(Date, unique=True)
    state: Mapped[str] = mapped_column(String(10))
    total: Mapped[int] = mapped_column(FenColumn)
    line_count: Mapped[int] = mapped_column(Integer)
    prepared_by: Mapped[str] = mapped_column(String(80))
    prepared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_by: Mapped[str | None] = mapped_column(String(80))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bank_file: Mapped[str | None] = mapped_column(Text)
    bank_file_sha256: Mapped[str | None] = mapped_column(String(64))


class PersonOrderLineRow(Base):
    """One payment to one payee for one settled claim."""

    __tablename__ = "person_disbursement_lines"

    order_id: Mapped[int] = mapped_column(ForeignKey("person_disbursement_orders.id"), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    settlement_id: Mapped[uuid.UUID] = mapped_column(unique=True)  # a claim's money is paid once
    claim_no: Mapped[str] = mapped_column(String(20))
    institution_code: Mapped[str] = mapped_column(String(20))
    payee_name: Mapped[str] = mapped_column(String(100))
    bank: Mapped[str] = mapped_column(String(100))
    account_no: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(FenColumn)
