from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class ActivationCodeRow(Base):
    """Staff-issued, single-use code a member exchanges for a token; only its SHA-256 is kept."""

    __tablename__ = "member_activation_codes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MemberTokenRow(Base):
    """A member's bearer token (SHA-256 only); expires and can be revoked."""

    __tablename__ = "member_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MemberCodeUseRow(Base):
    """A member QR code (by its jti) consumed by one settlement request.

    Written in the settlement's transaction: the code is used iff the settlement committed.
    (institution_code, idempotency_key) tell an HIS retry of that request from a replay.
    """

    __tablename__ = "member_code_uses"

    jti: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    institution_code: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BindingRequestRow(Base):
    """Family binding asked by the account holder, confirmed (or rejected) by the relative."""

    __tablename__ = "family_binding_requests"
    __table_args__ = (
        Index(
            "uq_family_binding_requests_pending",
            "holder_person_id",
            "relative_person_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        CheckConstraint("holder_person_id <> relative_person_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    holder_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    relative_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending / confirmed / rejected
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
