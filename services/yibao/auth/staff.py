"""Staff accounts: create, log in (→ short-lived signed access token), change password.

These are steps in the caller's transaction, not audited; ``yibao.auth.service`` holds the use
cases (audit entry + commit) that the API and the CLI call.

Access tokens are JWTs (HS256, the server's master secret) valid for minutes, so checking
one costs no database round trip; deactivating a user takes effect when the token expires.
Repeated wrong passwords lock the account for a while (per account, not per address, so a
distributed guesser gains nothing).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.auth import passwords
from yibao.auth.orm import StaffUserRow
from yibao.auth.tokens import ROLES, StaffPrincipal
from yibao.config import Settings
from yibao.errors import Duplicate, InvalidRequest, NotFound, Unauthenticated

ISSUER = "yibao"


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < passwords.MIN_LENGTH:
        raise InvalidRequest(f"密码太短 the password needs at least {passwords.MIN_LENGTH} characters")


async def create_user(
    session: AsyncSession, username: str, display_name: str, role: str, password: str
) -> StaffUserRow:
    _check_role(role)
    _check_password(password)
    if await session.scalar(select(StaffUserRow.id).where(StaffUserRow.username == username)) is not None:
        raise Duplicate(f"用户名已存在 username {username!r} is taken")
    row = StaffUserRow(
        username=username,
        display_name=display_name,
        role=role,
        password_hash=passwords.hash_password(password),
        active=True,
        failed_logins=0,
    )
    session.add(row)
    await session.flush()
    return row


async def list_users(session: AsyncSession) -> list[StaffUserRow]:
    return list((await session.scalars(select(StaffUserRow).order_by(StaffUserRow.username))).all())


def render(row: StaffUserRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "role": row.role,
        "active": row.active,
        "locked_until": row.locked_until.isoformat() if row.locked_until else None,
        "created_at": row.created_at.isoformat(),
    }


async def get_user(session: AsyncSession, username: str, *, lock: bool = False) -> StaffUserRow:
    stmt = select(StaffUserRow).where(StaffUserRow.username == username)
    row = await session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound(f"工作人员 {username} 不存在 staff user not found")
    return row


_BAD_LOGIN = "用户名或密码错误 wrong username or password"


async def authenticate(session: AsyncSession, settings: Settings, username: str, password: str) -> StaffUserRow:
    """The user, if the password is right and the account usable; counts failures either way.

    The caller commits even on failure (the failure count must stick), so this returns
    normally with the row and raises only after recording what happened."""
    row = await session.scalar(select(StaffUserRow).where(StaffUserRow.username == username).with_for_update())
    if row is None:
        passwords.verify(_DUMMY_HASH, password)  # same time as a real check: no username probing
        raise Unauthenticated(_BAD_LOGIN)
    now = clock.now()
    if row.locked_until is not None and row.locked_until > now:
        raise Unauthenticated(f"账户已锁定 account locked until {row.locked_until.isoformat()}", record=True)
    if not row.active or not passwords.verify(row.password_hash, password):
        row.failed_logins += 1
        if row.failed_logins >= settings.staff_max_failed_logins:
            row.locked_until = now + timedelta(minutes=settings.staff_lockout_minutes)
            row.failed_logins = 0
        raise Unauthenticated(_BAD_LOGIN, record=True)
    row.failed_logins = 0
    row.locked_until = None
    if passwords.needs_rehash(row.password_hash):
        row.password_hash = passwords.hash_password(password)
    return row


_DUMMY_HASH = passwords.hash_password("not-a-real-password")


def issue_token(settings: Settings, user: StaffUserRow) -> tuple[str, int]:
    """(token, seconds valid)."""
    now = clock.now()
    ttl = settings.staff_token_minutes * 60
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(user.id),
        "name": user.username,
        "role": user.role,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.master_secret(), algorithm="HS256"), ttl


def principal_from_token(settings: Settings, token: str) -> StaffPrincipal | None:
    try:
        claims = jwt.decode(
            token,
            settings.master_secret(),
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "name", "role"]},
        )
    except jwt.PyJWTError:
        return None
    return StaffPrincipal(user_id=int(claims["sub"]), name=str(claims["name"]), role=str(claims["role"]))


async def change_password(session: AsyncSession, username: str, old: str, new: str) -> None:
    row = await get_user(session, username, lock=True)
    if not passwords.verify(row.password_hash, old):
        raise Unauthenticated("原密码错误 the current password is wrong")
    _check_password(new)
    row.password_hash = passwords.hash_password(new)
    row.password_changed_at = clock.now()


async def update_user(
    session: AsyncSession, username: str, role: str | None, active: bool | None, password: str | None
) -> StaffUserRow:
    row = await get_user(session, username, lock=True)
    if role is not None:
        _check_role(role)
        row.role = role
    if active is not None:
        row.active = active
    if password is not None:
        _check_password(password)
        row.password_hash = passwords.hash_password(password)
        row.password_changed_at = clock.now()
        row.locked_until = None
    return row
