"""Tables of manual reimbursement claims; this noun alone writes them.

The money of an approved claim is not here: it is a settlement with ``source = 'manual'``
written by ``yibao.bill_settlement.manual`` (``settlement_id`` points at it)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class ReimbursementClaimRow(Base):
    __tablename__ = "reimbursement_claims"
    __table_args__ = (
        UniqueConstraint("requester", "idempotency_key", name="uq_reimbursement_claims_requester_key"),
        Index("ix_reimbursement_claims_status_due", "status", "due_date"),
        Index("ix_reimbursement_claims_person", "person_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    claim_no: Mapped[str] = mapped_column(String(20), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    id_number: Mapped[str] = mapped_column(String(18))
    kind: Mapped[str] = mapped_column(String(30))
    institution_code: Mapped[str | None] = mapped_column(String(20))  # care in the register
    care_name: Mapped[str | None] = mapped_column(String(200))  # care outside it
    care_region: Mapped[str] = mapped_column(String(6))
    care_level: Mapped[int] = mapped_column(SmallInteger)
    visit_type: Mapped[str] = mapped_column(String(20))
    admitted_on: Mapped[date | None] = mapped_column(Date)
    discharged_on: Mapped[date | None] = mapped_column(Date)
    # maternity_inpatient (DOMAIN §10): how the baby was delivered and the babies (the allowance reads them)
    delivery_type: Mapped[str | None] = mapped_column(String(10))
    babies: Mapped[int | None] = mapped_column(SmallInteger)
    service_date: Mapped[date] = mapped_column(Date)
    diagnoses: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    procedures: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    invoice_numbers: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    channel: Mapped[str] = mapped_column(String(20))
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    payee: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # received / in_review / returned / rejected / approved (settled, awaiting payout) / paid
    status: Mapped[str] = mapped_column(String(20))
    fund_estimate: Mapped[int] = mapped_column(FenColumn)
    approvals_needed: Mapped[int] = mapped_column(SmallInteger)
    approvals: Mapped[int] = mapped_column(SmallInteger, default=0)
    received_on: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    filed_by: Mapped[str] = mapped_column(String(100))  # "staff:<name>" or "member:<person id>"
    settlement_id: Mapped[uuid.UUID | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)  # of the last return or the rejection
    requester: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[str | None] = mapped_column(Text)  # the first answer, replayed byte for byte
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReimbursementStepRow(Base):
    """Every step of a claim, in order: filed, each approval, return, resubmission, rejection."""

    __tablename__ = "reimbursement_steps"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reimbursement_claims.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    fund_estimate: Mapped[int | None] = mapped_column(FenColumn)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClaimedInvoiceRow(Base):
    """An invoice number is claimed once: its primary key is the rule (a rejection frees it)."""

    __tablename__ = "claimed_invoices"

    invoice_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reimbursement_claims.id", ondelete="CASCADE"), index=True)


class ClaimNumberRow(Base):
    """The claims' own number series per year (MR2026000001, …)."""

    __tablename__ = "reimbursement_claim_numbers"

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
