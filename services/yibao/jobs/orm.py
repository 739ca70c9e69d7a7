from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class JobRunRow(Base):
    """One run of a job. ``dedup_key`` makes a scheduled job (e.g. daily settle of one date)
    exist once however many times the scheduler or an operator asks for it."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index("uq_job_runs_kind_dedup", "kind", "dedup_key", unique=True, postgresql_where="dedup_key IS NOT NULL"),
        Index("ix_job_runs_requested", "requested_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    dedup_key: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(12))  # queued / running / succeeded / failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger)
    requested_by: Mapped[str] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
