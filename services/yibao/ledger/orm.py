from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Index, Integer, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class PostingRow(Base):
    """One leg of a double-entry movement: ``amount`` > 0 is a debit, < 0 a credit.

    Every movement (``movement``, ``source``) writes legs per fund that sum to zero, in one
    statement. Legs are immutable (never updated). What is still owed is not marked on the legs
    but kept in ``payable_open`` (see :class:`PayableOpenRow`). ``settle_date`` is only written
    on payable legs born settled (a daily settle's deductions, a paid order's disbursement):
    the day of the order they belong to. Bill and clearing legs keep it NULL since migration
    0007 (before it, the settle that took them stamped it).
    """

    __tablename__ = "ledger_postings"
    __table_args__ = (
        UniqueConstraint("movement", "source", "fund", "account", name="uq_ledger_postings_movement_leg"),
        Index("ix_ledger_postings_business_date", "business_date"),
        Index("ix_ledger_postings_institution_fund", "institution_code", "fund", "account"),
        # the daily settles' takes of deductions (payable leg, source '<deduction id>@<settle
        # date>'), read per institution by GET /deductions: a few rows among all the bill legs
        # the fund position's scan (yibao.ledger.position): a scheme's legs by day, index-only;
        # payable legs (half of every bill's) and scheme-less legs stay out of it
        Index(
            "ix_ledger_postings_scheme_flows",
            "scheme",
            "business_date",
            postgresql_include=["fund", "account", "movement", "amount"],
            postgresql_where=text("scheme IS NOT NULL AND account <> 'payable'"),
        ),
        Index(
            "ix_ledger_postings_deduction_takes",
            "institution_code",
            postgresql_where=text("movement = 'deduction' AND account = 'payable'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    movement: Mapped[str] = mapped_column(String(30))  # settlement / cancel / deduction / disbursement / …
    source: Mapped[str] = mapped_column(String(100))  # what caused it: a settlement id, "order:12", …
    institution_code: Mapped[str] = mapped_column(String(20))
    fund: Mapped[str] = mapped_column(String(20))  # basic / critical_illness / assistance / personal_account
    #: resident / employee: the scheme whose fund the leg moves (bills, income); NULL on
    #: institution-level legs that belong to no one scheme (deduction takes, prepayments, clearing)
    scheme: Mapped[str | None] = mapped_column(String(10))
    account: Mapped[str] = mapped_column(String(20))  # claims / payable / bank / recoveries / prepayment / …
    amount: Mapped[int] = mapped_column(FenColumn)
    business_date: Mapped[date] = mapped_column(Date)  # China-time day the movement belongs to
    settle_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PayableOpenRow(Base):
    """The open (not yet taken by a daily settle) payable, summed per institution, fund,
    business date and movement: a few thousand rows however many bills a day has.

    Written in the same statement as the payable legs it sums (a data-modifying CTE over the
    legs actually inserted, upserting ``amount = amount + new``), so for every key it always
    equals the payable legs not yet taken (credit < 0 = owed to the institution). The daily
    settle deletes the rows it takes; a row it must carry (net negative) it writes back.
    ``legs`` lets the settle's catch-up see at a glance that a day is fully posted.
    """

    __tablename__ = "payable_open"

    institution_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    fund: Mapped[str] = mapped_column(String(20), primary_key=True)
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    movement: Mapped[str] = mapped_column(String(30), primary_key=True)
    amount: Mapped[int] = mapped_column(FenColumn)
    legs: Mapped[int] = mapped_column(Integer)  # how many payable legs ``amount`` sums


class ManualJournalRow(Base):
    """A manual journal entry (手工记账) for what no feature posts (interest, fiscal subsidies,
    other income or spending): made by one staff member with a reason, posted to the ledger only
    when another approves it (maker-checker). ``kind`` names the debit and credit accounts
    (``yibao.ledger.journals.KINDS``); the posting is movement ``manual``, source ``manual:<id>``."""

    __tablename__ = "manual_journals"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    scheme: Mapped[str] = mapped_column(String(10))
    fund: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(FenColumn)
    business_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(10), default="proposed")  # proposed / posted / rejected
    made_by: Mapped[str] = mapped_column(String(100))
    checked_by: Mapped[str | None] = mapped_column(String(100))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
