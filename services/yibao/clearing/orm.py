from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Integer, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class ClearingRow(Base):
    """A committed clearing of one region and year: final, never recomputed."""

    __tablename__ = "clearings"

    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    budget: Mapped[int] = mapped_column(FenColumn)
    weighted_points: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    point_value: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    committed_by: Mapped[str] = mapped_column(String(80))
    committed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ClearingStatementRow(Base):
    """Per institution: DIP amount, claimed, final, clearing ratio, difference to pay/recover."""

    __tablename__ = "clearing_statements"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    region: Mapped[str] = mapped_column(String(6))
    statement: Mapped[dict[str, Any]] = mapped_column(JSONB)
    difference: Mapped[int] = mapped_column(FenColumn)  # > 0 paid to the institution, < 0 recovered


class YearClosureRow(Base):
    """A closed year: its person-year accumulators are final (a snapshot of their totals)."""

    __tablename__ = "year_closures"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_years: Mapped[int] = mapped_column(Integer)
    totals: Mapped[dict[str, Any]] = mapped_column(JSONB)
    closed_by: Mapped[str] = mapped_column(String(80))
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
