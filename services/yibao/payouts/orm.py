from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class DisbursementOrderRow(Base):
    """The result of one daily settle (one per settle date): draft → approved → paid."""

    __tablename__ = "disbursement_orders"
    __table_args__ = (CheckConstraint("state IN ('draft', 'approved', 'paid')", name="state_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    settle_date: Mapped[date] = mapped_column(Date, unique=True)
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


class DisbursementLineRow(Base):
    """Per institution and fund: settled − cancelled + adjustments − deducted = net."""

    __tablename__ = "disbursement_lines"

    order_id: Mapped[int] = mapped_column(ForeignKey("disbursement_orders.id", ondelete="CASCADE"), primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    fund: Mapped[str] = mapped_column(String(20), primary_key=True)
    settled: Mapped[int] = mapped_column(FenColumn)
    cancelled: Mapped[int] = mapped_column(FenColumn)
    adjusted: Mapped[int] = mapped_column(FenColumn)  # clearing differences, prepayment recovery
    deducted: Mapped[int] = mapped_column(FenColumn)
    net: Mapped[int] = mapped_column(FenColumn)


class PrepaymentRow(Base):
    """预付金: requested → approved (paid out by the bank) → recovered at year-end clearing.

    A request is idempotent on its requester's ``Idempotency-Key``: the same key and body again
    is the same prepayment; ``request_hash`` tells another body under that key."""

    __tablename__ = "prepayments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("state IN ('requested', 'approved', 'recovered')", name="state_known"),
        Index(
            "uq_prepayments_idempotency_key",
            "requested_by",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(FenColumn)
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(400), default="")
    requested_by: Mapped[str] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recovered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))  # NULL: requested before keys
    request_hash: Mapped[str | None] = mapped_column(String(64))
    #: ordinary (sized by average monthly fund payments) or procurement (集采, by last year's volume)
    kind: Mapped[str] = mapped_column(String(12), default="ordinary", server_default="ordinary")


# ---------------------------------------------------------------- paying people (yibao.payouts.persons)


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
    """One payment to one payee for one settled claim; a transfer the bank returned is marked
    (the paid order itself never changes) and the claim is paid again in a later order."""

    __tablename__ = "person_disbursement_lines"
    __table_args__ = (
        # a claim's money is in one order at a time: only a returned transfer is issued again
        Index(
            "uq_person_disbursement_lines_live_settlement",
            "settlement_id",
            unique=True,
            postgresql_where=text("returned_at IS NULL"),
        ),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("person_disbursement_orders.id"), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    settlement_id: Mapped[uuid.UUID] = mapped_column()
    claim_no: Mapped[str] = mapped_column(String(20))
    institution_code: Mapped[str] = mapped_column(String(20))
    payee_name: Mapped[str] = mapped_column(String(100))
    bank: Mapped[str] = mapped_column(String(100))
    account_no: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(FenColumn)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    return_reason: Mapped[str | None] = mapped_column(Text)
