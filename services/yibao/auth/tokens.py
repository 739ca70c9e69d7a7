"""Institution keys and staff bearer tokens.

Secrets are random, shown once, and stored only as SHA-256: a leaked database does not
leak working credentials. A SHA-256 (not argon2) is right here because the secrets carry
256 bits of entropy; password hashing is for low-entropy human passwords.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.auth.orm import InstitutionKeyRow, StaffTokenRow
from yibao.errors import NotFound
from yibao.institutions.orm import InstitutionRow

ROLES = ("admin", "clerk", "first_reviewer", "second_reviewer", "inspector", "finance")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class StaffPrincipal:
    token_id: int
    name: str
    role: str


async def create_institution_key(session: AsyncSession, institution_code: str) -> str:
    if await session.get(InstitutionRow, institution_code) is None:
        raise NotFound(f"institution {institution_code} not found; load reference data first")
    secret = "ybk_" + secrets.token_urlsafe(32)
    session.add(
        InstitutionKeyRow(
            institution_code=institution_code, key_prefix=secret[:12], key_hash=digest(secret)
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
    return StaffPrincipal(row.id, row.name, row.role) if row else None
