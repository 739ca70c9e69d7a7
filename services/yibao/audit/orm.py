from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, SmallInteger, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class AuditRow(Base):
    """One recorded action. ``hash`` (an HMAC with the server's audit key) covers this entry and
    ``prev_hash``, so editing or deleting any row breaks every later link (``yibao audit verify``
    finds the first broken one). The table is append-only: a trigger refuses UPDATE, DELETE and
    TRUNCATE (migration 0011)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_kind: Mapped[str] = mapped_column(String(20))  # staff / institution / member / system
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: 1: unkeyed SHA-256 (entries written before migration 0011); 2: HMAC, canonical encoding
    hash_version: Mapped[int] = mapped_column(SmallInteger, server_default="1")
