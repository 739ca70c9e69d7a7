from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class PremiumPaymentRow(Base):
    """One resident premium payment for a person and coverage year, from one channel.

    Idempotent on (channel, reference): a channel's retry of the same payment is a no-op. At
    most one live (paid) payment per person and year; a pay-back (year already over) records
    the lapsed year as paid back without creating coverage.
    """

    __tablename__ = "premium_payments"
    __table_args__ = (
        UniqueConstraint("channel", "reference"),
        Index(
            "uq_premium_payments_live",
            "person_id",
            "year",
            unique=True,
            postgresql_where=text("status = 'paid'"),
        ),
        CheckConstraint("amount >= 0 AND subsidy >= 0 AND premium >= 0", name="amounts_nonneg"),
        CheckConstraint("amount + subsidy = premium", name="amount_plus_subsidy"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(String(10))  # current / payback / newborn
    channel: Mapped[str] = mapped_column(String(10))  # app wechat bank tax counter proxy account
    reference: Mapped[str] = mapped_column(String(120))
    payer_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    agent: Mapped[str | None] = mapped_column(String(100))  # village agent paying on behalf (proxy)
    premium: Mapped[int] = mapped_column(FenColumn)
    subsidy: Mapped[int] = mapped_column(FenColumn)
    subsidy_group: Mapped[str | None] = mapped_column(String(30))
    amount: Mapped[int] = mapped_column(FenColumn)
    paid_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="paid")  # paid / refunded
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SubsidyBookingRow(Base):
    """The subsidised part of a premium, charged to the medical-assistance fund.

    A refund books the same amount negated, so totals per group and year are plain sums.
    """

    __tablename__ = "subsidy_bookings"
    __table_args__ = (
        UniqueConstraint("payment_id", "kind"),
        Index("ix_subsidy_bookings_year_group", "year", "group"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("premium_payments.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(SmallInteger)
    group: Mapped[str] = mapped_column(String(30))
    fund: Mapped[str] = mapped_column(String(20), default="assistance")
    kind: Mapped[str] = mapped_column(String(10))  # booking / reversal
    amount: Mapped[int] = mapped_column(FenColumn)
    booked_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PremiumRequestRow(Base):
    """The first answer to a caller's ``Idempotency-Key`` on a premium payment.

    Scoped by caller (``member:<person id>``): the same key with the same request (by its
    SHA-256) gets the first payment back, with another request it is ``IDEMPOTENCY_CONFLICT``.
    Written in the payment's transaction, so a refused request leaves no key behind.
    """

    __tablename__ = "premium_requests"

    caller: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[int] = mapped_column(ForeignKey("premium_payments.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
