"""The recognitions table; ``yibao.chronic`` alone writes it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class ChronicRecognitionRow(Base):
    """applied → first_reviewed → approved | rejected; approved → revoked. An approved
    recognition is valid from ``valid_from`` to ``valid_to`` (both inclusive); after it, it reads
    as expired."""

    __tablename__ = "chronic_recognitions"
    __table_args__ = (
        # the settle path's lookup: the person's approved recognition of the disease on a date
        Index("ix_chronic_recognitions_person_disease", "person_id", "disease", "valid_to"),
        Index("ix_chronic_recognitions_status_valid_to", "status", "valid_to"),
        # one application of a disease under review per person at a time
        Index(
            "uq_chronic_recognitions_open",
            "person_id",
            "disease",
            unique=True,
            postgresql_where=text("status IN ('applied', 'first_reviewed')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    id_number: Mapped[str] = mapped_column(String(18))
    region: Mapped[str] = mapped_column(String(6))
    disease: Mapped[str] = mapped_column(String(20))
    diagnosis: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    designated_institution: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    filed_by: Mapped[str] = mapped_column(String(200))
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_reviewed_by: Mapped[str | None] = mapped_column(String(200))
    first_reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    closed_by: Mapped[str | None] = mapped_column(String(200))  # who rejected or revoked
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
