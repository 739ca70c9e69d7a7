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
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.audit import Actor
from yibao.auth import signing
from yibao.auth.orm import InstitutionKeyRow, RequestNonceRow, StaffTokenRow
from yibao.config import get_settings
from yibao.errors import AlreadyCancelled, NotFound
from yibao.institutions.orm import InstitutionRow

ROLES = ("admin", "clerk", "first_reviewer", "second_reviewer", "inspector", "finance")


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


async def create_institution_key(session: AsyncSession, institution_code: str, master: bytes | None = None) -> str:
    """A new key (shown once). Older keys stay valid until revoked, so rotation has no gap."""
    if await session.get(InstitutionRow, institution_code) is None:
        raise NotFound(f"institution {institution_code} not found; load reference data first")
    secret = "ybk_" + secrets.token_urlsafe(32)
    while await session.scalar(select(InstitutionKeyRow.id).where(InstitutionKeyRow.key_prefix == secret[:12])):
        secret = "ybk_" + secrets.token_urlsafe(32)  # the key id must be unique
    session.add(
        InstitutionKeyRow(
            institution_code=institution_code,
            key_prefix=secret[:12],
            key_hash=digest(secret),
            secret_enc=signing.encrypt_secret(master or get_settings().master_secret(), secret),
        )
    )
    await session.flush()
    return secret


async def create_staff_token(session: AsyncSession, role: str, name: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    secret = "ybs_" + secrets.token_urlsafe(32)
    session.add(StaffTokenRow(name=name, role=role, token_hash=digest(secret)))
    await session.flush()
    return secret


async def institution_for_key(session: AsyncSession, secret: str) -> str | None:
    return await session.scalar(
        select(InstitutionKeyRow.institution_code).where(
            InstitutionKeyRow.key_hash == digest(secret), InstitutionKeyRow.revoked_at.is_(None)
        )
    )


async def staff_for_token(session: AsyncSession, secret: str) -> StaffPrincipal | None:
    row = (
        await session.execute(
            select(StaffTokenRow.id, StaffTokenRow.name, StaffTokenRow.role).where(
                StaffTokenRow.token_hash == digest(secret), StaffTokenRow.revoked_at.is_(None)
            )
        )
    ).first()
    return StaffPrincipal(name=row.name, role=row.role, token_id=row.id) if row else None


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


async def remember_nonce(session: AsyncSession, key_id: str, nonce: str) -> bool:
    """``True`` the first time this key uses this nonce (the fallback store, see RequestNonceRow)."""
    inserted = await session.scalar(
        insert(RequestNonceRow)
        .values(key_id=key_id, nonce=nonce)
        .on_conflict_do_nothing()
        .returning(RequestNonceRow.nonce)
    )
    return inserted is not None
