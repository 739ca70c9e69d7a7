from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Numeric, SmallInteger, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class RegionBudgetRow(Base):
    """A region's budget of a scheme for a year: ``base`` (last year's regional budget, or its
    institutions' fund payments when there was none) grown by ``rate`` (policy data)."""

    __tablename__ = "budget_regions"
    __table_args__ = (UniqueConstraint("region", "year", "scheme"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(SmallInteger)
    scheme: Mapped[str] = mapped_column(String(10))
    base: Mapped[int] = mapped_column(FenColumn)
    rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    amount: Mapped[int] = mapped_column(FenColumn)
    made_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BudgetVersionRow(Base):
    """One version of an institution's budget of a scheme for a year.

    States: draft → proposed (the institution sees it) → counter_proposed (by the institution,
    with a reason) or straight to agreed → approved (finance, not the one who made or agreed it).
    A mid-year adjustment is a new version (with a reason) that is agreed and then approved; the
    newest approved version is the one in force, earlier ones stay readable."""

    __tablename__ = "budget_versions"
    __table_args__ = (UniqueConstraint("year", "scheme", "institution_code", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(SmallInteger)
    scheme: Mapped[str] = mapped_column(String(10))
    institution_code: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(FenColumn)
    expected_cases: Mapped[int] = mapped_column(Integer)
    per_case_quota: Mapped[int | None] = mapped_column(FenColumn)
    history: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the three years' payments and cases it drew on
    counter_amount: Mapped[int | None] = mapped_column(FenColumn)
    reason: Mapped[str | None] = mapped_column(String(500))
    made_by: Mapped[str] = mapped_column(String(100))
    agreed_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
