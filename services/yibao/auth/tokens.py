"""Institution keys and staff bearer tokens.

Secrets are random, shown once, and stored only as SHA-256: a leaked database does not
leak working credentials. A SHA-256 (not argon2) is right here because the secrets carry
256 bits of entropy; password hashing is for low-entropy human passwords.

Creating and revoking are steps in the caller's transaction, not audited; the use cases
(audit entry + commit) are in ``yibao.auth.service``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Exists, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.audit import Actor
from yibao.auth import signing
from yibao.auth.orm import InstitutionKeyRow, StaffTokenRow, StaffUserRow
from yibao.config import get_settings
from yibao.errors import AlreadyCancelled, InvalidRequest, NotFound, Unauthenticated
from yibao.institutions.orm import InstitutionRow

ROLES = ("admin", "clerk", "first_reviewer", "second_reviewer", "inspector", "finance")
MAX_TOKEN_HOURS = 24 * 366


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class StaffPrincipal:
    """Who a staff request acts as; ``name`` identifies the person (maker-checker compares it)."""

    name: str
    role: str
    user_id: int | None = None  # a staff account's id; None for a bootstrap token
    token_id: int | None = None  # a bootstrap token's id

    @property
    def actor(self) -> Actor:
        """How the audit log names this caller (services take it, so every entry point audits alike)."""
        return Actor("staff", self.name)


@dataclass(frozen=True)
class IssuedKey:
    key_id: str  # random, independent of the secret: safe to log, list and send as X-Yibao-Key
    secret: str  # shown once


async def issue_institution_key(session: AsyncSession, institution_code: str, master: bytes | None = None) -> IssuedKey:
    """A new key (the secret is shown once). Older keys stay valid until revoked, so rotation
    has no gap. The key id is random: knowing it reveals nothing of the secret."""
    if await session.get(InstitutionRow, institution_code) is None:
        raise NotFound(f"institution {institution_code} not found; load reference data first")
    key_id = "kid_" + secrets.token_hex(6)
    while await session.scalar(select(InstitutionKeyRow.id).where(InstitutionKeyRow.key_prefix == key_id)):
        key_id = "kid_" + secrets.token_hex(6)  # the key id must be unique
    secret = "ybk_" + secrets.token_urlsafe(32)
    session.add(
        InstitutionKeyRow(
            institution_code=institution_code,
            key_prefix=key_id,
            key_hash=digest(secret),
            secret_enc=signing.encrypt_secret(master or get_settings().master_secret(), secret),
        )
    )
    await session.flush()
    return IssuedKey(key_id, secret)


async def create_institution_key(session: AsyncSession, institution_code: str, master: bytes | None = None) -> str:
    """Just the secret of a new key (a bearer caller needs nothing else)."""
    return (await issue_institution_key(session, institution_code, master)).secret


# ------------------------------------------------------------------ bootstrap staff tokens (ybs_)
@dataclass(frozen=True)
class IssuedToken:
    id: int
    secret: str  # shown once
    expires_at: datetime


async def issue_staff_token(session: AsyncSession, role: str, name: str, hours: int | None = None) -> IssuedToken:
    """A bootstrap token, valid ``hours`` (default ``bootstrap_token_hours``) by the database's clock."""
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    hours = hours or get_settings().bootstrap_token_hours
    if not 1 <= hours <= MAX_TOKEN_HOURS:
        raise InvalidRequest(f"a bootstrap token lives 1 to {MAX_TOKEN_HOURS} hours, not {hours}")
    secret = "ybs_" + secrets.token_urlsafe(32)
    row = (
        await session.execute(
            insert(StaffTokenRow)
            .values(name=name, role=role, token_hash=digest(secret), expires_at=func.now() + timedelta(hours=hours))
            .returning(StaffTokenRow.id, StaffTokenRow.expires_at)
        )
    ).one()
    return IssuedToken(int(row.id), secret, row.expires_at)


async def create_staff_token(session: AsyncSession, role: str, name: str, hours: int | None = None) -> str:
    """Just the secret of a new bootstrap token."""
    return (await issue_staff_token(session, role, name, hours)).secret


def _admin_account_exists() -> Exists:
    return exists().where(StaffUserRow.active.is_(True), StaffUserRow.role == "admin")


async def staff_for_token(session: AsyncSession, secret: str) -> StaffPrincipal:
    """The principal of a bootstrap token, checked against the database on every request: a
    revoked, expired or superseded token is refused at once. ``Unauthenticated`` says which."""
    row = (
        await session.execute(
            select(
                StaffTokenRow.id,
                StaffTokenRow.name,
                StaffTokenRow.role,
                StaffTokenRow.renewed_at,
                StaffTokenRow.revoked_at,
                (StaffTokenRow.expires_at <= func.now()).label("expired"),
                _admin_account_exists().label("admin_exists"),
            ).where(StaffTokenRow.token_hash == digest(secret))
        )
    ).first()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("工作人员令牌无效 unknown, expired or revoked staff token")
    if row.expired:
        raise Unauthenticated(
            "引导令牌已过期 this bootstrap token has expired; issue another with `yibao tokens create`"
        )
    if row.admin_exists and row.renewed_at is None:
        raise Unauthenticated(
            "引导令牌已停用 bootstrap tokens stop working once an active admin account exists: log in at "
            "POST /api/v1/auth/login (or keep this one on purpose: `yibao tokens renew ID`)"
        )
    return StaffPrincipal(name=row.name, role=row.role, token_id=int(row.id))


def token_status(row: StaffTokenRow, now: datetime, admin_exists: bool) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    if admin_exists and row.renewed_at is None:
        return "superseded"  # an admin account exists; renew to keep it on purpose
    return "active"


async def list_staff_tokens(session: AsyncSession) -> list[dict[str, Any]]:
    """Every bootstrap token (never its secret), newest first, with its status now."""
    now, admin_exists = (await session.execute(select(func.now(), _admin_account_exists()))).one()
    rows = (await session.scalars(select(StaffTokenRow).order_by(StaffTokenRow.id.desc()))).all()
    return [render_token(r, now, admin_exists) for r in rows]


def render_token(row: StaffTokenRow, now: datetime, admin_exists: bool) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "renewed_at": row.renewed_at.isoformat() if row.renewed_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "status": token_status(row, now, admin_exists),
    }


async def _token_for_update(session: AsyncSession, token_id: int) -> StaffTokenRow:
    row = await session.scalar(select(StaffTokenRow).where(StaffTokenRow.id == token_id).with_for_update())
    if row is None:
        raise NotFound(f"令牌 {token_id} 不存在 no staff token {token_id}")
    if row.revoked_at is not None:
        raise AlreadyCancelled(f"令牌已于 {row.revoked_at.isoformat()} 吊销 staff token {token_id} is already revoked")
    return row


async def revoke_staff_token(session: AsyncSession, token_id: int) -> dict[str, Any]:
    """Final: the token is refused from the next request on."""
    row = await _token_for_update(session, token_id)
    row.revoked_at = await session.scalar(select(func.now()))
    return await _rendered(session, row)


async def renew_staff_token(session: AsyncSession, token_id: int, hours: int | None = None) -> dict[str, Any]:
    """A new expiry ``hours`` from now, and the decision to keep the token although an admin
    account exists (a service account, say)."""
    hours = hours or get_settings().bootstrap_token_hours
    if not 1 <= hours <= MAX_TOKEN_HOURS:
        raise InvalidRequest(f"a bootstrap token lives 1 to {MAX_TOKEN_HOURS} hours, not {hours}")
    row = await _token_for_update(session, token_id)
    now: datetime = (await session.execute(select(func.now()))).scalar_one()
    row.renewed_at, row.expires_at = now, now + timedelta(hours=hours)
    return await _rendered(session, row)


async def _rendered(session: AsyncSession, row: StaffTokenRow) -> dict[str, Any]:
    await session.flush()
    now, admin_exists = (await session.execute(select(func.now(), _admin_account_exists()))).one()
    return render_token(row, now, admin_exists)


async def admin_account_exists(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(_admin_account_exists())))


async def usable_staff_token(session: AsyncSession, secret: str) -> bool:
    """Whether a bootstrap token would be accepted now (``yibao up`` reuses such a one)."""
    try:
        await staff_for_token(session, secret)
    except Unauthenticated:
        return False
    return True


# ------------------------------------------------------------------ institution keys in use
async def institution_for_key(session: AsyncSession, secret: str) -> str | None:
    return await session.scalar(
        select(InstitutionKeyRow.institution_code).where(
            InstitutionKeyRow.key_hash == digest(secret), InstitutionKeyRow.revoked_at.is_(None)
        )
    )


async def signing_key(session: AsyncSession, key_id: str, master: bytes) -> tuple[str, str] | None:
    """(institution code, secret) of an active key id, for verifying a signed request."""
    row = (
        await session.execute(
            select(InstitutionKeyRow.institution_code, InstitutionKeyRow.secret_enc).where(
                InstitutionKeyRow.key_prefix == key_id, InstitutionKeyRow.revoked_at.is_(None)
            )
        )
    ).first()
    if row is None or row.secret_enc is None:
        return None
    secret = signing.decrypt_secret(master, row.secret_enc)
    return (row.institution_code, secret) if secret else None


async def list_institution_keys(session: AsyncSession, institution_code: str) -> list[InstitutionKeyRow]:
    return list(
        (
            await session.scalars(
                select(InstitutionKeyRow)
                .where(InstitutionKeyRow.institution_code == institution_code)
                .order_by(InstitutionKeyRow.id)
            )
        ).all()
    )


def render_key(row: InstitutionKeyRow) -> dict[str, Any]:
    return {
        "key_id": row.key_prefix,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


async def revoke_institution_key(session: AsyncSession, institution_code: str, key_id: str) -> InstitutionKeyRow:
    row = await session.scalar(
        select(InstitutionKeyRow)
        .where(InstitutionKeyRow.institution_code == institution_code, InstitutionKeyRow.key_prefix == key_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"密钥 {key_id} 不存在 no key {key_id} for institution {institution_code}")
    if row.revoked_at is not None:
        raise AlreadyCancelled(f"密钥已于 {row.revoked_at} 吊销 key already revoked")
    row.revoked_at = clock.now()
    return row
