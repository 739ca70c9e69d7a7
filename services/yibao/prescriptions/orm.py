"""The prescriptions table; ``yibao.prescriptions`` alone writes it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class PrescriptionRow(Base):
    """issued → cancelled (by the hospital); dispensed is a row of ``prescription_dispensings``;
    past ``valid_until`` it reads as expired."""

    __tablename__ = "prescriptions"
    __table_args__ = (Index("ix_prescriptions_person", "person_id", "issued_at"),)

    rx_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    region: Mapped[str] = mapped_column(String(6))
    doctor_code: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    id_number: Mapped[str] = mapped_column(String(18))
    diagnoses: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)  # item_code, quantity (text), days_supply
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))  # issued / cancelled
    pickup_code_sha256: Mapped[str] = mapped_column(String(64))
