from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class InstitutionKeyRow(Base):
    """An institution's API secret, stored only as its SHA-256 (the secret is shown once)."""

    __tablename__ = "institution_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code", ondelete="CASCADE"), index=True)
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)  # the key id of signed requests
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the secret encrypted with the server's master secret: HMAC verification needs the secret itself
    secret_enc: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffTokenRow(Base):
    """A bearer token for bureau staff (bootstrap admin tokens until staff accounts land)."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffUserRow(Base):
    """A bureau staff member who logs in with a password (argon2id hash) and gets short-lived tokens."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RequestNonceRow(Base):
    """Nonces of signed institution requests, used only while Redis is unreachable (normally Redis
    remembers them); rows older than the allowed clock skew can be deleted at any time."""

    __tablename__ = "request_nonces"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
