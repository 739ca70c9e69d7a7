from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base


class InstitutionKeyRow(Base):
    """An institution's API secret, stored only as its SHA-256 (the secret is shown once)."""

    __tablename__ = "institution_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code", ondelete="CASCADE"), index=True)
    #: the key id (X-Yibao-Key of signed requests): random, independent of the secret
    #: (``kid_`` + 12 hex). Keys issued before migration 0011 keep theirs, the secret's first 12 characters
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the secret encrypted with the server's master secret: HMAC verification needs the secret itself
    secret_enc: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffTokenRow(Base):
    """A bootstrap bearer token for bureau staff (``ybs_…``): for the first start, until staff
    accounts exist. It expires, can be revoked, and stops working once an active admin account
    exists unless it was explicitly renewed (``renewed_at``) after being issued."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    renewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffUserRow(Base):
    """A bureau staff member who logs in with a password (argon2id hash) and gets short-lived
    tokens. Every access token carries ``token_version``; deactivation, a role change, a password
    change or reset and logout bump it, and the tokens issued before stop working at once."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    token_version: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LoginThrottleRow(Base):
    """Failed logins of one username from one source address (whether the username exists or
    not, so the answers cannot tell): past ``staff_max_failed_logins`` each further attempt
    waits an exponentially longer while (``blocked_until``). Only that pair is slowed down: a
    stranger's guesses cannot lock the real user out from elsewhere. A successful login clears
    it; rows idle for a day are pruned."""

    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(60), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RequestNonceRow(Base):
    """Nonces of signed institution requests: the durable record (Redis only caches it, so a
    Redis outage opens no replay window). A nonce must outlive the span in which its timestamp
    is accepted (twice the allowed skew); older rows are pruned."""

    __tablename__ = "request_nonces"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
