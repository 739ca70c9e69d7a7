"""Member credentials: staff-issued activation codes exchanged for bearer tokens.

Like staff tokens, secrets are random (≥ 128 bits) and only their SHA-256 is stored; a token
expires after ``member_token_days`` and can be revoked; a person's death date revokes them all.
Activation codes are single use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.audit import Actor
from yibao.auth.tokens import digest
from yibao.errors import ActivationCodeInvalid, PersonDeceased
from yibao.members.orm import ActivationCodeRow, MemberTokenRow
from yibao.people.orm import PersonRow


@dataclass(frozen=True)
class MemberPrincipal:
    person_id: int
    token_id: int

    @property
    def actor(self) -> Actor:
        """The audit log names a member by internal person id, never by ID number."""
        return Actor("member", str(self.person_id))


async def issue_activation_code(
    session: AsyncSession, person_id: int, issued_by: str, hours: int
) -> tuple[str, datetime]:
    """A fresh single-use code for the person (shown once, handed over at the counter)."""
    code = "yba_" + secrets.token_urlsafe(18)
    expires = clock.now() + timedelta(hours=hours)
    session.add(ActivationCodeRow(person_id=person_id, code_hash=digest(code), issued_by=issued_by, expires_at=expires))
    await session.flush()
    return code, expires


async def activate(session: AsyncSession, code: str, token_days: int) -> tuple[str, int, datetime]:
    """Consume the code (once, atomically) and return (token, person_id, expires_at)."""
    now = clock.now()
    person_id = await session.scalar(
        update(ActivationCodeRow)
        .where(
            ActivationCodeRow.code_hash == digest(code),
            ActivationCodeRow.used_at.is_(None),
            ActivationCodeRow.expires_at > now,
        )
        .values(used_at=now)
        .returning(ActivationCodeRow.person_id)
    )
    if person_id is None:
        raise ActivationCodeInvalid()
    if await session.scalar(select(PersonRow.death_date).where(PersonRow.id == person_id)) is not None:
        raise PersonDeceased()  # the code was issued before the death was known; nothing is consumed
    token = "ybm_" + secrets.token_urlsafe(32)
    expires = now + timedelta(days=token_days)
    session.add(MemberTokenRow(person_id=person_id, token_hash=digest(token), expires_at=expires))
    await session.flush()
    return token, int(person_id), expires


async def member_for_token(session: AsyncSession, token: str) -> MemberPrincipal | None:
    """The member a live token stands for; a death date revokes every token of the person
    (DOMAIN §8), whenever the registry reports it."""
    row = (
        await session.execute(
            select(MemberTokenRow.id, MemberTokenRow.person_id)
            .join(PersonRow, PersonRow.id == MemberTokenRow.person_id)
            .where(
                MemberTokenRow.token_hash == digest(token),
                MemberTokenRow.revoked_at.is_(None),
                MemberTokenRow.expires_at > clock.now(),
                PersonRow.death_date.is_(None),
            )
        )
    ).first()
    return MemberPrincipal(int(row.person_id), int(row.id)) if row else None


async def revoke(session: AsyncSession, token_id: int) -> None:
    await session.execute(update(MemberTokenRow).where(MemberTokenRow.id == token_id).values(revoked_at=clock.now()))
