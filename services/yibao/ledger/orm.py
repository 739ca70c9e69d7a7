from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Index, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class PostingRow(Base):
    """One leg of a double-entry movement: ``amount`` > 0 is a debit, < 0 a credit.

    Every movement (``movement``, ``source``) writes legs per fund that sum to zero, in one
    statement. Amounts are never updated; ``settle_date`` is set once, on ``payable`` legs,
    by the daily settle that took them into a disbursement order (NULL = not yet taken).
    """

    __tablename__ = "ledger_postings"
    __table_args__ = (
        UniqueConstraint("movement", "source", "fund", "account", name="uq_ledger_postings_movement_leg"),
        Index("ix_ledger_postings_business_date", "business_date"),
        Index("ix_ledger_postings_institution_fund", "institution_code", "fund", "account"),
        Index(
            "ix_ledger_postings_payable_open",
            "institution_code",
            "fund",
            postgresql_where=text("account = 'payable' AND settle_date IS NULL"),
        ),
        Index("ix_ledger_postings_settle_date", "settle_date"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    movement: Mapped[str] = mapped_column(String(30))  # settlement / cancel / deduction / disbursement / …
    source: Mapped[str] = mapped_column(String(100))  # what caused it: a settlement id, "order:12", …
    institution_code: Mapped[str] = mapped_column(String(20))
    fund: Mapped[str] = mapped_column(String(20))  # basic / critical_illness / assistance / personal_account
    account: Mapped[str] = mapped_column(String(20))  # claims / payable / bank / recoveries / prepayment / …
    amount: Mapped[int] = mapped_column(FenColumn)
    business_date: Mapped[date] = mapped_column(Date)  # China-time day the movement belongs to
    settle_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
